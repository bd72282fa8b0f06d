"""Exact maj@k against enumeration (all M^k outcomes; all count vectors, in Fractions), an
independent dynamic programme, symmetry, Hoeffding bounds and the k -> infinity limit."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlstar_theory.mdp.majority import MAX_K, maj_at_k, maj_at_k_limit
from tests.strategies import exact_from_weights, float_from_weights, start_weights

KS = (1, 2, 4, 8, 16, 32, 64)


# ---------------------------------------------------------------------------- referees
def _vote_weight(counts, y: int):
    """``1/#argmax`` if ``y`` has the largest count, else 0 (an int or a Fraction)."""
    top = max(counts)
    if counts[y] != top:
        return 0
    return Fraction(1, sum(1 for n in counts if n == top))


def outcome_enumeration(p, y: int, k: int):
    """maj@k by summing over all ``M^k`` ordered outcomes (exact for Fraction ``p``)."""
    M = len(p)
    total = 0
    for outcome in itertools.product(range(M), repeat=k):
        weight = _vote_weight([Counter(outcome)[j] for j in range(M)], y)
        if weight:
            total += weight * math.prod(p[j] for j in outcome)
    return total


def _compositions(k: int, parts: int):
    if parts == 1:
        yield (k,)
        return
    for first in range(k + 1):
        for rest in _compositions(k - first, parts - 1):
            yield (first,) + rest


def count_vector_enumeration(p, y: int, k: int):
    """maj@k by summing multinomial probabilities over all count vectors (``C(k+M-1, M-1)``)."""
    total = 0
    for counts in _compositions(k, len(p)):
        weight = _vote_weight(counts, y)
        if weight:
            multinomial = math.factorial(k) // math.prod(math.factorial(n) for n in counts)
            power = math.prod(pj**n for pj, n in zip(p, counts, strict=True))
            total += weight * multinomial * power
    return total


def tie_tracking_dp(p: np.ndarray, y: int, k: int) -> float:
    """An independent float64 referee: condition on the count ``c`` of ``y`` and run a
    dynamic programme over the other answers in the plain (unscaled) basis, tracking the
    exact number ``t`` of others tied at ``c``: ``state[t, n] = sum prod p_j^m_j / m_j!``."""
    a = p[y]
    others = [pj for j, pj in enumerate(p) if j != y and pj > 0]
    total = 0.0
    for c in range(1, k + 1):
        n = k - c
        state = np.zeros((len(others) + 1, n + 1))
        state[0, 0] = 1.0
        for pj in others:
            new = np.zeros_like(state)
            for m in range(min(c, n) + 1):
                w = pj**m / math.factorial(m)
                if m < c:
                    new[:, m:] += w * state[:, :n + 1 - m]
                else:
                    new[1:, m:] += w * state[:-1, :n + 1 - m]
            state = new
        tied = state[:, n] / np.arange(1, len(others) + 2)
        total += math.comb(k, c) * a**c * math.factorial(n) * tied.sum()
    return total


def _random_weights(rng: np.random.Generator, Q: int, M: int, high: int = 4) -> np.ndarray:
    """Small integer weights: zeros and exact ties are common; every row has a positive."""
    w = rng.integers(0, high, size=(Q, M))
    w[w.sum(axis=1) == 0, 0] = 1
    return w


# ---------------------------------------------------------------------- enumeration
def test_matches_enumeration_of_all_outcomes():
    """Every M^k outcome (M <= 4, k <= 6) summed exactly in Fractions, including zero
    probabilities and exact ties between answers."""
    rng = np.random.default_rng(20240610)
    worst = 0.0
    for M in (1, 2, 3, 4):
        w = _random_weights(rng, 4, M)
        p_exact, p = exact_from_weights(w), float_from_weights(w)
        answers = rng.integers(0, M, size=4)
        ks = range(1, 7 if M <= 3 else 6)
        got = maj_at_k(p, answers, list(ks))
        for q in range(4):
            for i, k in enumerate(ks):
                ref = outcome_enumeration(list(p_exact[q]), int(answers[q]), k)
                worst = max(worst, abs(got[i, q] - float(ref)))
    assert worst <= 1e-14


def test_matches_exact_count_vectors_at_large_k():
    """k up to 64, against exact Fractions (every count vector, multinomial weights)."""
    cases = [
        ([Fraction(1, 2), Fraction(3, 10), Fraction(1, 5)], 0),
        ([Fraction(2, 5), Fraction(2, 5), Fraction(1, 5)], 1),  # y tied with the leader
        ([Fraction(1, 5), Fraction(0), Fraction(4, 5)], 0),  # y far behind, a zero answer
        ([Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)], 2),
    ]
    ks = [31, 32, 63, 64]
    for p_exact, y in cases:
        got = maj_at_k(np.array([[float(v) for v in p_exact]]), np.array([y]), ks)[:, 0]
        ref = [float(count_vector_enumeration(p_exact, y, k)) for k in ks]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_matches_exact_count_vectors_four_answers():
    p_exact = [Fraction(3, 10), Fraction(1, 4), Fraction(1, 4), Fraction(1, 5)]
    ks = [24, 32]
    for y in (0, 1, 3):
        got = maj_at_k(np.array([[float(v) for v in p_exact]]), np.array([y]), ks)[:, 0]
        ref = [float(count_vector_enumeration(p_exact, y, k)) for k in ks]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


@given(st.integers(1, 5).flatmap(lambda M: st.tuples(start_weights(M), st.integers(0, M - 1))),
       st.lists(st.integers(1, 8), min_size=1, max_size=4))
def test_hypothesis_matches_exact_count_vectors(weights_and_answer, ks):
    weights, y = weights_and_answer
    p_exact = list(exact_from_weights(weights))
    got = maj_at_k(float_from_weights(weights)[None], np.array([y]), ks)[:, 0]
    ref = [float(count_vector_enumeration(p_exact, y, k)) for k in ks]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-14)


def test_matches_tie_tracking_dp_with_many_answers():
    """Up to 15 others tied at the top count: the Gauss-Legendre integral in u must be exact."""
    rng = np.random.default_rng(5)
    M = 16
    p = np.vstack([np.full(M, 1.0 / M),  # every answer tied
                   rng.dirichlet(np.full(M, 2.0)),
                   float_from_weights(_random_weights(rng, 1, M, high=3))[0]])
    answers = np.array([3, 0, int(np.argmax(p[2]))])
    ks = [2, 3, 12, 29, 45]
    got = maj_at_k(p, answers, ks)
    for q in range(3):
        ref = [tie_tracking_dp(p[q], int(answers[q]), k) for k in ks]
        np.testing.assert_allclose(got[:, q], ref, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------- identities
def _random_dists(seed: int, Q: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(M, 0.5), size=Q)
    p[rng.random((Q, M)) < 0.2] = 0.0  # zero-probability answers
    p[0, :] = 0.0
    p[0, :4] = 0.25  # exact ties
    p[p.sum(axis=1) == 0, 0] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    return p, rng.integers(0, M, size=Q)


def test_maj_at_1_is_the_probability_of_the_right_answer():
    p, answers = _random_dists(1, 20, 64)
    got = maj_at_k(p, answers, [1, 2])
    assert np.array_equal(got[0], p[np.arange(20), answers])
    # two votes: both right, or one each and a fair coin: p_y^2 + p_y (1 - p_y) = p_y
    np.testing.assert_allclose(got[1], got[0], rtol=1e-14, atol=0)


def test_vote_shares_of_all_answers_sum_to_one():
    """Each outcome's vote is split among the tied leaders: sum_y maj@k(p, y) = 1 for every
    k, with 64 answers (zeros and ties included)."""
    Q, M = 4, 64
    p, _ = _random_dists(2, Q, M)
    everyone = maj_at_k(np.repeat(p, M, axis=0), np.tile(np.arange(M), Q), KS)
    totals = everyone.reshape(len(KS), Q, M).sum(axis=2)
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=1e-12)
    assert everyone.min() >= 0 and everyone.max() <= 1 + 1e-12


def test_uniform_answers_share_the_vote_equally():
    for M in (2, 3, 7, 64):
        for ks in (KS, (1, 3, 5, 7, 9, 17, 33, 63)):  # K = 63: not a multiple of the blocks
            got = maj_at_k(np.full((1, M), 1.0 / M), np.array([M - 1]), ks)
            np.testing.assert_allclose(got, 1.0 / M, rtol=1e-12)


def test_permuting_wrong_answers_changes_nothing():
    rng = np.random.default_rng(3)
    p, answers = _random_dists(3, 8, 12)
    base = maj_at_k(p, answers, KS)
    for _ in range(3):
        perm_p = p.copy()
        for q in range(len(p)):
            wrong = np.flatnonzero(np.arange(12) != answers[q])
            perm_p[q, wrong] = p[q, rng.permutation(wrong)]
        np.testing.assert_allclose(maj_at_k(perm_p, answers, KS), base, rtol=1e-13, atol=1e-16)
    # relabelling all answers (the right one moves with its probability)
    relabel = rng.permutation(12)
    moved = np.empty_like(p)
    moved[:, relabel] = p
    np.testing.assert_allclose(maj_at_k(moved, relabel[answers], KS), base, rtol=1e-13,
                               atol=1e-16)


def test_ks_order_and_repeats():
    p, answers = _random_dists(4, 5, 6)
    ks = [16, 3, 16, 1, 64]
    got = maj_at_k(p, answers, ks)
    for i, k in enumerate(ks):
        assert np.array_equal(got[i], maj_at_k(p, answers, [k, 64])[0])


def test_tiny_probabilities_neither_overflow_nor_matter():
    """Probabilities down to 1e-300 (a dynamic range the scaled basis must survive): the
    result moves by at most k * (their total mass), the Lipschitz bound of maj@k in p."""
    rng = np.random.default_rng(6)
    M = 40
    base = rng.dirichlet(np.ones(M - 8), size=3)
    tiny = np.array([1e-300, 1e-250, 1e-200, 1e-100, 1e-60, 1e-40, 1e-30, 1e-25])
    p_tiny = np.hstack([base, np.tile(tiny, (3, 1))])  # sums to 1 + 1e-25
    p_zero = np.hstack([base, np.zeros((3, 8))])
    answers = np.array([1, 5, M - 1])  # the last right answer has probability 1e-25
    a, b = maj_at_k(p_tiny, answers, KS), maj_at_k(p_zero, answers, KS)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, b, rtol=0, atol=64 * 2 * tiny.sum() + 1e-14)
    assert np.all(a[:, 2] <= 64 * 1e-25)


# ------------------------------------------------------- large k: Hoeffding and the limit
def test_dominant_answer_approaches_one_within_hoeffding():
    """``y`` loses or ties only if some ``j`` has ``N_j >= N_y``; ``N_y - N_j`` is a sum of
    ``k`` independent terms in [-1, 1] with mean ``k (p_y - p_j)``, so Hoeffding gives
    ``1 - maj@k <= sum_j exp(-k (p_y - p_j)^2 / 2)``, and an answer behind the leader ``l``
    wins at most ``P(N_y >= N_l) <= exp(-k (p_l - p_y)^2 / 2)``."""
    rng = np.random.default_rng(7)
    M = 64
    p = np.empty((2, M))
    p[:, 0] = 0.5
    p[:, 1:] = 0.5 * rng.dirichlet(np.full(M - 1, 5.0), size=2)
    assert p[:, 1:].max() < 0.1
    ks = np.array(KS)
    got = maj_at_k(p, np.array([0, 0]), KS)
    for q in range(2):
        gap = p[q, 0] - p[q, 1:]
        lower = 1 - np.exp(-np.outer(ks, gap**2) / 2).sum(axis=1)
        assert lower[-1] > 0.9  # the set-up: at k = 64 the bound already says "close to 1"
        assert np.all(got[:, q] >= lower - 1e-12)
        assert np.all(got[:, q] <= 1 + 1e-12)
    np.testing.assert_array_equal(maj_at_k_limit(p, np.array([0, 0])), 1.0)
    # an answer behind the leader by 0.4 at least
    behind = int(np.argmax(p[0, 1:])) + 1
    lost = maj_at_k(p[:1], np.array([behind]), KS)[:, 0]
    assert np.all(lost <= np.exp(-ks * (p[0, 0] - p[0, behind]) ** 2 / 2) + 1e-15)
    assert maj_at_k_limit(p[:1], np.array([behind]))[0] == 0.0


def test_limit_splits_exact_ties():
    p = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.1, 0.3, 0.6],
                  [1.0, 0.0, 0.0]])
    answers = np.array([0, 1, 2, 2, 0])
    np.testing.assert_array_equal(maj_at_k_limit(p, answers), [0.5, 0.5, 0.0, 1.0, 1.0])
    # the two tied leaders share the vote equally at every k
    got = maj_at_k(p[:2], answers[:2], KS)
    np.testing.assert_allclose(got[:, 0], got[:, 1], rtol=1e-13)


# ---------------------------------------------------------------------- validation
GOOD_P = np.array([[0.5, 0.5], [0.25, 0.75]])
GOOD_Y = np.array([0, 1])


@pytest.mark.parametrize(("answer_dist", "answers", "ks", "name"), [
    (np.array([0.5, 0.5]), GOOD_Y, [1], "answer_dist"),  # not 2-D
    (np.array([[np.nan, 1.0], [0.5, 0.5]]), GOOD_Y, [1], "answer_dist"),
    (np.array([[1.5, -0.5], [0.5, 0.5]]), GOOD_Y, [1], "answer_dist"),
    (np.array([[0.5, 0.4], [0.5, 0.5]]), GOOD_Y, [1], "answer_dist"),  # row sum
    ([["a", "b"]], [0], [1], "answer_dist"),
    (GOOD_P, np.array([0, 2]), [1], "answers"),
    (GOOD_P, np.array([-1, 0]), [1], "answers"),
    (GOOD_P, np.array([0.0, 1.0]), [1], "answers"),
    (GOOD_P, np.array([0]), [1], "answers"),
    (GOOD_P, GOOD_Y, [0], "ks"),
    (GOOD_P, GOOD_Y, [MAX_K + 1], "ks"),
    (GOOD_P, GOOD_Y, [2.0], "ks"),
    (GOOD_P, GOOD_Y, [True], "ks"),
    (GOOD_P, GOOD_Y, [], "ks"),
    (GOOD_P, GOOD_Y, 4, "ks"),
])
def test_bad_input_names_the_argument(answer_dist, answers, ks, name):
    with pytest.raises(ValueError, match=name):
        maj_at_k(answer_dist, answers, ks)


def test_k_limit_is_in_the_message():
    with pytest.raises(ValueError, match=f"<= {MAX_K}"):
        maj_at_k(GOOD_P, GOOD_Y, [65])


def test_limit_validates_too():
    with pytest.raises(ValueError, match="answers"):
        maj_at_k_limit(GOOD_P, np.array([0, 5]))
    with pytest.raises(ValueError, match="answer_dist"):
        maj_at_k_limit(-GOOD_P, GOOD_Y)
