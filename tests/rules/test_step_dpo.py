"""Per-step DPO: the averaged advantage, first pits, the DPO loss, the pairs, the optimum."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction as Fr

import numpy as np
import pytest

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.values import prover_values
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.step_dpo import (
    StepDpo,
    averaged_advantage,
    dpo_descent,
    dpo_gradient,
    dpo_loss,
    dpo_optimum,
    first_pits,
    path_values,
)
from tests.rules._paths import finite_difference, random_policy
from tests.rules.pg_reference import paths_of

# ---------------------------------------------------------------------------------------------
# referees written from the definitions, by enumeration


def _continuation_success(P, n: int, s: int, y: int):
    """``Pr(S_N = y | S_n = s)`` summed over every continuation (exact for Fractions)."""
    N, M = P.shape[0], P.shape[1]
    total = 0
    for tail in itertools.product(range(M), repeat=N - n):
        prob, prev = 1, s
        for k, nxt in enumerate(tail):
            prob = prob * P[n + k, prev, nxt]
            prev = nxt
        total = total + prob * int(prev == y)
    return total


def _bok_values(P, model: ChainMDP, K: int) -> dict:
    """``V^BoK[(n, s, s0)] = 1 - (1 - Pr(S_N = y(s0) | S_n = s))^K`` by enumeration."""
    N, M = model.N, model.M
    return {(n, s, s0): 1 - (1 - _continuation_success(P, n, s, model.answers[s0])) ** K
            for n in range(N + 1) for s in range(M) for s0 in range(M)}


def _brute_averaged_advantage(P, model: ChainMDP, w, K: int):
    """``A_bar_n(s, s')``: each question's paths through ``s`` before step ``n``, weighted by
    ``w(s0)`` times the path probability, averaging ``V_n(s') - V_{n-1}(s)``."""
    N, M = model.N, model.M
    V = _bok_values(P, model, K)
    num = np.zeros((N, M, M), dtype=object)
    den = np.zeros((N, M), dtype=object)
    num[...], den[...] = 0, 0
    for s0 in range(M):
        for path, prob in paths_of(P, s0):
            for n in range(1, N + 1):
                s = path[n - 1]
                den[n - 1, s] += w[s0] * prob
                for t in range(M):
                    num[n - 1, s, t] += w[s0] * prob * (V[n, t, s0] - V[n - 1, s, s0])
    out = np.zeros((N, M, M), dtype=object)
    out[...] = 0
    for n in range(N):
        for s in range(M):
            if den[n, s] != 0:
                out[n, s] = num[n, s] / den[n, s]
    return out, den


def _exact_policy(rng, M: int, N: int) -> np.ndarray:
    """A random rational policy with some zeros."""
    W = rng.integers(0, 4, size=(N, M, M))
    W[..., 0] += 1
    P = np.empty((N, M, M), dtype=object)
    for idx in np.ndindex(N, M):
        total = int(W[idx].sum())
        P[idx] = [Fr(int(v), total) for v in W[idx]]
    return P


def _model(rng, M: int, N: int, train=None, exact: bool = False) -> ChainMDP:
    truth = rng.integers(0, M, size=(N, M))
    weights = rng.integers(1, 4, size=M)
    start = [Fr(int(v), int(weights.sum())) for v in weights] if exact \
        else weights / weights.sum()
    return ChainMDP.create(M, N, truth=truth, start=start, train=train)


# ---------------------------------------------------------------------------------------------
# the averaged advantage and the optimum


@pytest.mark.parametrize("seed", range(4))
def test_averaged_advantage_is_exact_against_enumeration(seed):
    """``A_bar`` and the visits ``omega_n(s)`` in Fractions equal the enumeration exactly
    (best-of-K prover of a rational policy, train/test split for odd seeds)."""
    rng = np.random.default_rng(seed)
    M, N, K = 3, 1 + seed % 3, 1 + seed
    train = [0, 2] if seed % 2 else None
    model = _model(rng, M, N, train, exact=True)
    P = _exact_policy(rng, M, N)
    w = model.weights("train", exact=True)
    got = averaged_advantage(P, w, prover_values(P, model.answers, K).V)
    expected, visits = _brute_averaged_advantage(P, model, w, K)
    assert (got.A_bar == expected).all()
    assert (got.visits == visits).all()


def test_optimum_tilts_the_visited_rows_and_keeps_the_others():
    """``P*`` of the rule is ``P_sft exp(A_bar/beta)`` row-normalised, written out row by row
    from the enumerated ``A_bar``; rows no training question visits are ``P_sft``'s."""
    rng = np.random.default_rng(5)
    M, N, K, beta = 3, 3, 4, 0.3
    model = _model(rng, M, N, train=[1])
    P = random_policy(rng, M, N)
    A_bar, visits = _brute_averaged_advantage(P, model, model.weights("train"), K)
    P_star = StepDpo(beta=beta, prover_k=K).exact_step(P, model).P
    assert (visits == 0).any()
    for n, s in np.ndindex(N, M):
        if visits[n, s] == 0:
            np.testing.assert_array_equal(P_star[n, s], P[n, s])
        else:
            row = P[n, s] * np.exp(A_bar[n, s].astype(float) / beta)
            np.testing.assert_allclose(P_star[n, s], row / row.sum(), rtol=0, atol=1e-14)
    np.testing.assert_array_equal(P_star == 0, P == 0)


# ---------------------------------------------------------------------------------------------
# first pits


def test_first_pits_on_hand_made_values():
    v = np.array([
        [0.5, 0.6, 0.2, 0.3, 0.0],   # min 0 at step 4; first drop at step 2
        [0.5, 0.0, 0.3, 0.0, 0.0],   # min 0 first reached at step 1 (ties: the first)
        [0.2, 0.4, 0.1 + 1e-15, 0.1, 0.3],  # round-off tie: step 2; first drop step 2
        [0.0, 0.0, 0.0, 0.0, 0.0],   # no drop: falls back to the minimum, step 1
        [0.3, 0.3, 0.3, 0.3, 0.3],   # flat
        [0.1, 0.2, 0.3, 0.25, 0.0],  # drop at 3, minimum at 4
    ])
    np.testing.assert_array_equal(first_pits(v, "min-value"), [4, 1, 2, 1, 1, 4])
    np.testing.assert_array_equal(first_pits(v, "first-drop"), [2, 1, 2, 1, 1, 3])
    with pytest.raises(ValueError, match="pit"):
        first_pits(v, "deepest")


def _hand_model():
    """Identity truth, M = 3, N = 3, question 0 (answer 0). State 2 is absorbing, and
    ``V_3 = (1, 0, 0)``, ``V_2 = (1, 1/4, 0)``, ``V_1 = (9/16, 5/8, 0)``, ``V_0(0) = 7/16``."""
    q, h, t = Fr(1, 4), Fr(1, 2), Fr(3, 4)
    P = np.array([
        [[h, q, q], [h, q, q], [0, 0, 1]],
        [[h, q, q], [h, h, 0], [0, 0, 1]],
        [[1, 0, 0], [q, t, 0], [0, 0, 1]],
    ], dtype=object)
    return P, ChainMDP.create(3, 3, start=["1/3"] * 3, train=[0])


def test_prover_values_along_hand_made_paths():
    """Best-of-2 values along two paths, from the hand values above: ``1 - (1 - V)^2``."""
    P, model = _hand_model()
    V = prover_values(P, model.answers, 2).V
    paths = np.array([[0, 1, 1, 1], [0, 0, 2, 2]])
    got = path_values(paths, V)
    bok = [1 - (1 - v) ** 2 for v in (Fr(7, 16), Fr(5, 8), Fr(1, 4), Fr(0))]
    assert list(got[0]) == bok
    assert list(got[1]) == [bok[0], 1 - (1 - Fr(9, 16)) ** 2, 0, 0]


@pytest.mark.parametrize("pit, prefixes", [
    ("min-value", {(0, 1, 1, 1), (0, 0, 1, 1), (0, 2), (0, 0, 2)}),
    ("first-drop", {(0, 1, 1), (0, 0, 1), (0, 2), (0, 0, 2)}),
])
def test_sampled_pairs_cut_failed_paths_at_the_hand_pits(pit, prefixes):
    """The failed paths of question 0 are (0,0,1,1), (0,1,1,1), (0,0,2,2) and (0,2,2,2).
    The first two drop from 9/16 or 5/8 to 1/4 at step 2 (first drop) and reach the minimum 0
    at step 3; entering state 2 is a dead end (``V = 0``: both pits at that step). Every
    rejected side of the sampled pairs is one of these cut at its pit, and every one appears;
    chosen sides are whole correct paths."""
    P, model = _hand_model()
    rule = StepDpo(samples_per_question=400, negatives=400, pit=pit, prover_k=2)
    pairs = rule.build_pairs(P.astype(float), model, np.random.default_rng(0))
    got = set()
    for side, steps in zip(pairs.rejected, pairs.rejected_steps, strict=True):
        c = int(steps.sum())
        assert steps[:c].all() and not steps[c:].any()
        assert (side[c + 1:] == 0).all()
        got.add(tuple(int(x) for x in side[:c + 1]))
    assert got == prefixes
    assert pairs.chosen_steps.all()
    assert (pairs.chosen[:, -1] == 0).all() and (pairs.chosen[:, 0] == 0).all()


# ---------------------------------------------------------------------------------------------
# the DPO loss and its gradient


@pytest.mark.parametrize("pairing", ["first-pit", "sibling"])
def test_dpo_gradient_matches_finite_differences(pairing):
    """``dpo_gradient`` against central differences of ``dpo_loss`` in the logits, at a
    policy away from the reference (zeros of the support kept)."""
    rng = np.random.default_rng(11)
    M, N, beta = 3, 3, 0.7
    model = _model(rng, M, N)
    P_sft = random_policy(rng, M, N)
    rule = StepDpo(samples_per_question=6, negatives=3, pairing=pairing)
    pairs = rule.build_pairs(P_sft, model, np.random.default_rng(1))
    assert len(pairs) > 5
    theta = operator.logits(P_sft) + 0.5 * rng.standard_normal(P_sft.shape)
    P = operator.softmax(theta)
    grad = dpo_gradient(P, P_sft, pairs, beta)
    numeric = finite_difference(lambda th: dpo_loss(operator.softmax(th), P_sft, pairs, beta),
                                theta)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)
    assert np.abs(grad).max() > 1e-3


def test_dpo_loss_is_the_logistic_loss_of_the_margins():
    """At ``P = P_sft`` every margin is 0 and the loss is ``log 2`` per unit weight; one
    pair written out by hand away from it."""
    rng = np.random.default_rng(2)
    model = _model(rng, 3, 2)
    P_sft = random_policy(rng, 3, 2, zeros=False)
    pairs = StepDpo(samples_per_question=8).build_pairs(P_sft, model, rng)
    assert dpo_loss(P_sft, P_sft, pairs, 0.5) == pytest.approx(math.log(2) * pairs.weight.sum())
    P = random_policy(rng, 3, 2, zeros=False)
    i = 0
    h = {}
    for side, path, steps in (("+", pairs.chosen[i], pairs.chosen_steps[i]),
                              ("-", pairs.rejected[i], pairs.rejected_steps[i])):
        h[side] = sum(math.log(P[n, path[n], path[n + 1]] / P_sft[n, path[n], path[n + 1]])
                      for n in range(2) if steps[n])
    one = type(pairs)(pairs.chosen[:1], pairs.rejected[:1], pairs.chosen_steps[:1],
                      pairs.rejected_steps[:1], np.ones(1), 0)
    expected = math.log1p(math.exp(-0.5 * (h["+"] - h["-"])))
    assert dpo_loss(P, P_sft, one, 0.5) == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------------------------------------
# the pairs are unbiased for their population


def _first_pit_population(P, model, V, pit):
    """Expected weight of each pair when every question has enough samples: ``w(s0)`` times
    ``Pr(y+ | correct) Pr(y- | failed)``, the failed path cut at its pit."""
    w = model.weights("train")
    out = {}
    for s0 in np.flatnonzero(w):
        paths = list(paths_of(P, s0))
        good = [(p, q) for p, q in paths if p[-1] == model.answers[s0] and q > 0]
        bad = [(p, q) for p, q in paths if p[-1] != model.answers[s0] and q > 0]
        pg, pb = sum(q for _, q in good), sum(q for _, q in bad)
        for y_bad, q_bad in bad:
            values = [V[n, y_bad[n], s0] for n in range(model.N + 1)]
            c = int(first_pits(np.array([values]), pit)[0])
            prefix = tuple(y_bad[:c + 1]) + (0,) * (model.N - c)
            steps = tuple(n < c for n in range(model.N))
            for y_good, q_good in good:
                key = (tuple(y_good), prefix, (True,) * model.N, steps)
                out[key] = out.get(key, 0.0) + w[s0] * q_good / pg * q_bad / pb
    return out


def _sibling_population(P, model, V):
    """Expected weight of each same-prefix pair: ``sum_{s0} w(s0) Pr(S_{n-1} = s)`` times
    ``2 P(win) P(lose) sigmoid(V_n(win) - V_n(lose))`` (drawn as a or as b)."""
    N, M = model.N, model.M
    w = model.weights("train")
    out = {}
    for s0 in np.flatnonzero(w):
        reach = np.eye(M)[s0]
        for n in range(1, N + 1):
            for s, win, lose in itertools.product(range(M), repeat=3):
                if win == lose or reach[s] == 0:
                    continue
                up, down = [0] * (N + 1), [0] * (N + 1)
                up[n - 1] = down[n - 1] = s
                up[n], down[n] = win, lose
                steps = tuple(k == n - 1 for k in range(N))
                sig = 1.0 / (1.0 + math.exp(V[n, lose, s0] - V[n, win, s0]))
                key = (tuple(up), tuple(down), steps, steps)
                value = w[s0] * reach[s] * 2 * P[n - 1, s, win] * P[n - 1, s, lose] * sig
                out[key] = out.get(key, 0.0) + value
            reach = reach @ P[n - 1]
    return out


@pytest.mark.parametrize("pairing, pit", [("first-pit", "min-value"),
                                          ("first-pit", "first-drop"), ("sibling", None)])
def test_sampled_pairs_are_unbiased(pairing, pit):
    """Mean merged weight of every pair over R = 30 independent datasets against its
    population weight (z < 5, the standard error from the replicates). For first-pit pairs
    ``K = 150`` and ``negatives = 8``; the chance that a question has fewer than 8 failed or no
    correct samples (then its pairs differ) is checked to be below 1e-6. Pairs too rare to be
    drawn in R datasets must carry under 5% of the expected weight."""
    rng = np.random.default_rng(4)
    M, N, K, negatives = 3, 2, 150, 8
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    rule = StepDpo(samples_per_question=K, negatives=negatives, prover_k=2,
                   pit=pit or "min-value", pairing=pairing)
    V = prover_values(P, model.answers, 2).V
    if pairing == "sibling":
        target = _sibling_population(P, model, V)
    else:
        p = np.array([sum(q for path, q in paths_of(P, s0) if path[-1] == model.answers[s0])
                      for s0 in range(M)])
        assert ((p > 0.05) & (p < 0.95)).all()
        short = [sum(math.comb(K, j) * (1 - x) ** j * x ** (K - j) for j in range(negatives))
                 + (1 - x) ** K for x in p]
        assert max(short) < 1e-6
        target = _first_pit_population(P, model, V, rule.pit)
    keys = sorted(target)
    index = {k: i for i, k in enumerate(keys)}
    R = 30
    sample = np.zeros((R, len(keys)))
    for r in range(R):
        pairs = rule.build_pairs(P, model, np.random.default_rng(100 + r))
        for row in range(len(pairs)):
            key = (tuple(int(x) for x in pairs.chosen[row]),
                   tuple(int(x) for x in pairs.rejected[row]),
                   tuple(bool(x) for x in pairs.chosen_steps[row]),
                   tuple(bool(x) for x in pairs.rejected_steps[row]))
            assert key in index, key
            sample[r, index[key]] += pairs.weight[row]
    expected = np.array([target[k] for k in keys])
    se = sample.std(axis=0, ddof=1) / np.sqrt(R)
    seen = se > 0
    assert seen[expected > 0.05 * expected.max()].all()
    assert expected[~seen].sum() < 0.05 * expected.sum()
    z = np.abs(sample.mean(axis=0) - expected)[seen] / se[seen]
    assert z.max() < 5.0


# ---------------------------------------------------------------------------------------------
# sampled DPO converges to the exact optimum where the theory says it should


def test_sibling_dpo_converges_to_the_exact_optimum_with_one_question():
    """One training question: the advantages are the question's own, and DPO on same-prefix
    Bradley-Terry pairs has the population minimiser ``P_sft exp(A/beta)`` row by row (the
    row normaliser cancels from a same-row margin). "Many" DPO steps means until every logit
    gradient is below 1e-9 (checked): the minimiser of the sampled loss. Its distance to the
    exact step must fall like ``1/sqrt(K)``: RMS error ratio from K = 2000 to K = 32000
    expected 0.25, asserted < 0.5 (a biased limit would give a ratio near 1)."""
    rng = np.random.default_rng(7)
    M, N, beta, lr = 3, 2, 0.5, 12.0
    model = _model(rng, M, N, train=[1])
    P_sft = rng.dirichlet(np.full(M, 3.0), size=(N, M))
    rule = StepDpo(beta=beta, prover_k=3, pairing="sibling")
    exact = rule.exact_step(P_sft, model).P
    visited = rule.averaged_advantage(P_sft, model).visits > 0

    def squared_error(K, seed):
        pairs = StepDpo(samples_per_question=K, prover_k=3, pairing="sibling").build_pairs(
            P_sft, model, np.random.default_rng(seed))
        P = P_sft
        for _ in range(40):
            P = dpo_descent(P, P_sft, pairs, beta, lr, 100)
            if np.abs(dpo_gradient(P, P_sft, pairs, beta)).max() < 1e-9:
                break
        assert np.abs(dpo_gradient(P, P_sft, pairs, beta)).max() < 1e-9
        return np.mean((P - exact)[visited] ** 2)

    small = np.sqrt(np.mean([squared_error(2000, s) for s in range(5)]))
    large = np.sqrt(np.mean([squared_error(32000, 50 + s) for s in range(5)]))
    assert large < 0.5 * small


def test_first_pit_dpo_has_no_minimiser_with_one_step():
    """``N = 1``: a pair is (correct answer, failed answer) in the question's own row, its
    margin is linear in the logits, and the loss falls without bound as the correct answer's
    probability tends to 1, while the exact optimum keeps it below 1."""
    rng = np.random.default_rng(12)
    model = _model(rng, 3, 1)
    P_sft = random_policy(rng, 3, 1, zeros=False)
    rule = StepDpo(beta=0.5, samples_per_question=50, lr=4.0, dpo_steps=500)
    pairs = rule.build_pairs(P_sft, model, rng)
    answers = model.answers
    rows = np.arange(3)
    P_star = rule.exact_step(P_sft, model).P
    P, correct, losses = P_sft, [], []
    for _ in range(3):
        P = dpo_descent(P, P_sft, pairs, 0.5, 4.0, 500)
        correct.append(P[0, rows, answers[rows]].min())
        losses.append(dpo_loss(P, P_sft, pairs, 0.5))
    assert correct[0] < correct[1] < correct[2] and losses[0] > losses[1] > losses[2] > 0
    assert correct[2] > 0.99 > P_star[0, rows, answers[rows]].max()


# ---------------------------------------------------------------------------------------------
# the rule


def test_rule_runs_exact_and_sampled_through_iterate():
    """Exact mode jumps to ``P*`` and stays; its samples are counted once (like ``rft``).
    Sampled mode builds the pairs once and keeps descending the same loss."""
    rng = np.random.default_rng(9)
    model = _model(rng, 3, 3)
    P0 = random_policy(rng, 3, 3, zeros=False)
    rule = make_rule("step-dpo", strict=True, samples_per_question=10, beta=0.5,
                     dpo_steps=20, lr=2.0)
    exact = iterate(rule, P0, model, iterations=3, maj_ks=())
    P_star = dpo_optimum(P0, rule.averaged_advantage(P0, model).A_bar, 0.5)
    for t in (1, 2, 3):
        np.testing.assert_array_equal(exact.P[t], P_star)
    assert list(exact.samples) == [0, 30, 30, 30]
    sampled = iterate(rule, P0, model, iterations=3, mode="sampled", rng=3, maj_ks=())
    assert list(sampled.samples) == [0, 30, 30, 30]
    pairs = rule.build_pairs(P0, model, np.random.default_rng(3))
    losses = [dpo_loss(P, P0, pairs, 0.5) for P in sampled.P]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))


@pytest.mark.parametrize("option, bad", [("beta", 0.0), ("beta", np.nan), ("lr", -1.0),
                                         ("dpo_steps", 0), ("prover_k", 0), ("negatives", 0),
                                         ("pit", "lowest"), ("pairing", "random")])
def test_bad_options_are_rejected(option, bad):
    with pytest.raises(ValueError, match=option):
        StepDpo(**{option: bad})
