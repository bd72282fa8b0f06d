"""History-conditioned (per-question) policies: exact STaR against enumeration and full history."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlstar_theory.bruteforce import enumerate_paths
from rlstar_theory.mdp import ChainMDP
from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.mdp.history_policy import (
    check_history_policy,
    compare_markov_history,
    history_answer_distribution,
    history_from_markov,
    history_star_step,
    history_success_probability,
    iterate_history_star,
    markov_projection,
    markov_star_step,
)
from rlstar_theory.rules import iterate, make_rule
from tests.strategies import dense_models, exact_from_weights, matrix_weights


def _model(m, train=None):
    return ChainMDP.create(m.M, m.N, m.truth, m.start_exact, train=train)


@st.composite
def exact_history(draw, M: int, N: int) -> np.ndarray:
    """A random exact history policy: independent integer-weight tables per question."""
    return np.stack([exact_from_weights(draw(matrix_weights(M, N))) for _ in range(M)])


def _brute_refit(H, model):
    """Per question: enumerate every path under its own tables, keep the successful ones,
    refit the rows they pass through; other rows and questions keep their tables."""
    out = H.copy()
    N, M = model.N, model.M
    for q in np.flatnonzero(model.weights("train", exact=True) > 0):  # questions with data
        paths, prob = enumerate_paths(H[q])
        counts = np.zeros((N, M, M), dtype=object)
        counts[...] = Fraction(0)
        for path, pr in zip(paths, prob[q], strict=True):
            if path[-1] != model.answers[q]:
                continue
            full = (q, *path)
            for n in range(N):
                counts[n, full[n], full[n + 1]] += pr
        for n, s in itertools.product(range(N), range(M)):
            total = sum(counts[n, s])
            if total > 0:
                out[q, n, s] = counts[n, s] / total
    return out


@settings(max_examples=20)
@given(dense_models(max_M=3, max_N=3), st.data())
def test_star_step_exact_equals_enumeration(m, data):
    H = data.draw(exact_history(m.M, m.N))
    train = data.draw(st.lists(st.booleans(), min_size=m.M, max_size=m.M).filter(any))
    model = _model(m, np.array(train))
    got = history_star_step(H, model)
    assert (got == _brute_refit(H, model)).all()


@settings(max_examples=20)
@given(dense_models(max_M=4, max_N=3), st.integers(0, 3), st.integers(1, 2))
def test_one_question_equals_markov_star(m, q, iterations):
    """With one training question the per-question table *is* the shared table."""
    q = q % m.M
    model = _model(m, train=[q])
    H, P = history_from_markov(m.P_exact), m.P_exact
    for _ in range(iterations):
        H, P = history_star_step(H, model), markov_star_step(P, model)
        assert (H[q] == P).all()
    others = np.arange(m.M) != q
    assert (H[others] == m.P_exact).all()  # untrained questions keep P0


@settings(max_examples=20)
@given(dense_models(max_M=3, max_N=3), st.data())
def test_support_rows_and_one_step_conditioning(m, data):
    """Rows stay stochastic, the support only shrinks, and one step conditions each trained
    question's chain on its success (a Doob h-transform): ``p' = 1`` where ``p > 0``, else
    ``p' = p = 0``; questions without weight keep their tables and ``p``.
    """
    H = data.draw(exact_history(m.M, m.N))
    model = _model(m)
    new = history_star_step(H, model)
    assert all(s == 1 for s in new.sum(axis=-1).ravel())
    assert not ((new != 0) & (H == 0)).any()
    p, p_new = (history_success_probability(x, model.answers) for x in (H, new))
    trained = model.weights("train", exact=True) > 0
    for a, b, t in zip(p, p_new, trained, strict=True):
        assert b == ((1 if a > 0 else 0) if t else a)


def _prefix_star(P0, model, iterations):
    """Exact STaR on a tabular *full-history* policy: one row per prefix (s0, s1, ..., s_{n-1}).
    Returns the prefix rows and the prefix probabilities after ``iterations`` steps."""
    N, M = model.N, model.M
    rows = {}
    for n in range(N):
        for prefix in itertools.product(range(M), repeat=n + 1):
            rows[prefix] = P0[n, prefix[-1]].copy()
    for _ in range(iterations):
        counts = {h: np.array([Fraction(0)] * M, dtype=object) for h in rows}
        for q in np.flatnonzero(model.weights("train", exact=True) > 0):
            for path in itertools.product(range(M), repeat=N):
                full = (q, *path)
                pr = Fraction(1)
                for n in range(N):
                    pr *= rows[full[: n + 1]][full[n + 1]]
                if pr == 0 or path[-1] != model.answers[q]:
                    continue
                for n in range(N):
                    counts[full[: n + 1]][full[n + 1]] += pr
        for h, c in counts.items():
            if sum(c) > 0:
                rows[h] = c / sum(c)
    return rows


def _prefix_probability(rows, h):
    pr = Fraction(1)
    for n in range(1, len(h)):
        pr *= rows[h[:n]][h[n]]
    return pr


@settings(max_examples=20)
@given(dense_models(max_M=3, max_N=3), st.integers(1, 2))
def test_full_history_star_stays_per_question(m, iterations):
    """The module docstring's argument: full-history STaR from a Markov P0 equals the
    per-(question, step, state) tables on every reachable prefix."""
    model = _model(m)
    rows = _prefix_star(m.P_exact, model, iterations)
    H = history_from_markov(m.P_exact)
    for _ in range(iterations):
        H = history_star_step(H, model)
    for h, row in rows.items():
        if _prefix_probability(rows, h) > 0:
            assert (row == H[h[0], len(h) - 1, h[-1]]).all(), h


@settings(max_examples=20)
@given(dense_models(max_M=3, max_N=3), st.data())
def test_projection_keeps_marginals_and_markov_tables(m, data):
    """The projection of ``H[s0] = P`` is ``P``; in general the Markov chain ``(w, P̄)`` has the
    mixture's state marginals at every step (exactly)."""
    model = _model(m)
    w = model.weights("all", exact=True)
    H_markov = history_from_markov(m.P_exact)
    assert (markov_projection(H_markov, w, m.P_exact) == m.P_exact).all()
    H = data.draw(exact_history(m.M, m.N))
    fallback = m.P_exact
    P_bar = markov_projection(H, w, fallback)
    mixture = w @ np.stack([np.eye(m.M, dtype=np.int64).astype(object)[q] for q in range(m.M)])
    markov = mixture.copy()
    f = np.stack([np.eye(m.M, dtype=np.int64).astype(object)[q] for q in range(m.M)])
    for n in range(m.N):
        f = np.stack([f[q] @ H[q, n] for q in range(m.M)])
        mixture = w @ f
        markov = markov @ P_bar[n]
        assert (mixture == markov).all()


def test_markov_run_equals_rules_star_and_history_beats_it_on_train():
    rng = np.random.default_rng(4)
    M, N = 6, 3
    P0 = rng.random((N, M, M)) ** 3
    P0 /= P0.sum(-1, keepdims=True)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    model = ChainMDP.create(M, N, truth, train=[0, 1, 2, 3])
    res = compare_markov_history(P0, model, iterations=4, pass_ks=(1, 4))
    ref = iterate(make_rule("star"), P0, model, 4, maj_ks=())
    np.testing.assert_allclose(res.markov.train_J, ref.train.J, rtol=0, atol=1e-13)
    np.testing.assert_allclose(res.markov.test_J, ref.test.J, rtol=0, atol=1e-13)
    np.testing.assert_allclose(res.markov.train_pass_at_k[4], ref.train.pass_at_k[4], atol=1e-13)
    # per-question tables: every train question with p > 0 is solved after one step
    p0 = success_probability(P0, model.answers)
    solved = model.weights("train") @ (p0 > 0)
    np.testing.assert_allclose(res.history.train_J[1:], solved, rtol=0, atol=1e-12)
    assert res.history.train_J[0] == res.markov.train_J[0]
    assert res.history.test_J[0] == pytest.approx(res.markov.test_J[0], abs=1e-15)


def test_pretrained_test_policy_keeps_test_metrics_and_projection_uses_trained_tables():
    rng = np.random.default_rng(7)
    M, N = 5, 2
    P0 = rng.random((N, M, M)) + 0.2
    P0 /= P0.sum(-1, keepdims=True)
    model = ChainMDP.create(M, N, train=[0, 1, 2])  # identity truth: y(s0) = s0
    frozen = iterate_history_star(P0, model, 3, test_policy="pretrained")
    assert (frozen.test_J == frozen.test_J[0]).all()
    moved = iterate_history_star(P0, model, 3, test_policy="projection")
    H1 = history_star_step(history_from_markov(P0), model)
    P_bar = markov_projection(H1, model.weights("train"), P0)
    expected = model.weights("test") @ success_probability(P_bar, model.answers)
    assert moved.test_J[1] == pytest.approx(expected, abs=1e-14)
    assert moved.test_J[1] != pytest.approx(moved.test_J[0], abs=1e-6)
    q = history_answer_distribution(moved.final)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-13)


def test_bad_input():
    model = ChainMDP.create(3, 2)
    P0 = np.full((2, 3, 3), 1 / 3)
    with pytest.raises(ValueError, match="test_policy"):
        iterate_history_star(P0, model, 1, test_policy="nearest")
    with pytest.raises(ValueError, match=r"H0 must have shape \(M, N, M, M\)"):
        iterate_history_star(P0, model, 1, H0=np.full((2, 3, 3), 1 / 3))
    bad = history_from_markov(P0)
    bad[1, 0, 2] = [0.5, 0.6, 0.0]
    with pytest.raises(ValueError, match="every row must sum to 1"):
        check_history_policy(bad, model)
    with pytest.raises(ValueError, match="iterations"):
        iterate_history_star(P0, model, -1)
