"""Expert iteration with dedup (ei-dedup): exact enumeration, its limits, cumulative rounds."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from rlstar_theory import symmetric_matrix
from rlstar_theory.mdp import ChainMDP, operator, success_edges
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.expert_iteration import (
    MAX_EXACT_PATHS,
    DedupMemory,
    correct_path_probabilities,
    dedup_counts,
    sampled_dedup_counts,
)
from tests.rules import pg_reference as ref
from tests.rules import sample_reference as sref
from tests.rules.sample_reference import exact_model
from tests.strategies import dense_models


def _rule(K: int, cumulative: bool = False):
    return make_rule("ei-dedup", strict=True, samples_per_question=K, cumulative=cumulative)


def _correct_paths(P, model):
    """(question, path, probability) of every correct path of every training question."""
    rho = model.weights("train")
    return [(s0, path, prob) for s0 in range(model.M) if rho[s0] > 0
            for path, prob in ref.paths_of(P, s0) if path[-1] == model.answers[s0]]


# --- exact mode against enumerated samples ----------------------------------------------------

@pytest.mark.parametrize(("M", "N", "K", "seed"),
                         [(3, 2, 2, 0), (2, 3, 3, 1), (2, 2, 3, 2), (3, 1, 3, 3), (2, 2, 1, 4)])
def test_exact_dedup_equals_enumerated_sample_tuples(M, N, K, seed):
    """Fractions: D and the refit equal the data of every K-tuple of draws, weighted."""
    P, model = exact_model(seed, M, N, split=seed % 2 == 0)
    update = _rule(K).exact_step(model.check_policy(P), model)
    want = sref.dedup_data([P], model, K, exact=True)
    assert (update.train_edges == want).all()
    assert (update.P == sref.row_normalise(P, want)).all()
    assert update.samples == K * int(model.train.sum())


@settings(max_examples=30, deadline=None)
@given(dense_models(max_M=3, max_N=3))
def test_k1_is_star_exactly(m):
    """E[1[tau drawn]] = pi for K = 1: the dedup data is STaR's posterior joint."""
    model = ChainMDP.create(m.M, m.N, m.truth, [str(v) for v in m.start_exact])
    P = model.check_policy(m.P_exact)
    got = _rule(1).exact_step(P, model)
    star = make_rule("star").exact_step(P, model)
    assert (got.train_edges == star.train_edges).all()
    assert (got.P == star.P).all()


@settings(max_examples=30, deadline=None)
@given(dense_models(max_M=3, max_N=3))
def test_float_equals_fractions(m):
    model = ChainMDP.create(m.M, m.N, m.truth, [str(v) for v in m.start_exact])
    for K in (1, 4):
        exact = _rule(K).exact_step(model.check_policy(m.P_exact), model)
        floats = _rule(K).exact_step(model.check_policy(m.P), model)
        np.testing.assert_allclose(floats.train_edges, exact.train_edges.astype(float),
                                   rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(floats.P, exact.P.astype(float), rtol=0, atol=1e-13)


def test_at_the_enumeration_limit_k1_is_star():
    """M**N = 10**6 (question, path) pairs, one tensor: K = 1 still equals STaR's step."""
    M, N = 10, 6
    assert M**N == MAX_EXACT_PATHS
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.full(M, 0.5), size=(N, M))
    model = ChainMDP.create(M, N, truth=rng.integers(0, M, (N, M)))
    got = _rule(1).exact_step(P, model)
    star = make_rule("star").exact_step(P, model)
    np.testing.assert_allclose(got.train_edges, star.train_edges, rtol=1e-10, atol=1e-17)
    np.testing.assert_allclose(got.P, star.P, rtol=0, atol=1e-12)


def test_exact_mode_refuses_above_the_limit_and_sampled_mode_runs():
    M, N = 11, 6  # 11**6 = 1,771,561 > 10**6
    model = ChainMDP.create(M, N)
    P = symmetric_matrix(np.full(N, 0.5), M)
    with pytest.raises(ValueError, match=r"M\*\*N = 11\*\*6 = 1,771,561.*sampled mode"):
        _rule(4).exact_step(P, model)
    update = _rule(4).sampled_step(P, model, None, 0)
    assert update.samples == 4 * M
    np.testing.assert_allclose(update.P.sum(axis=-1), 1.0, atol=1e-12)


# --- the two limits of K ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_large_k_counts_each_distinct_correct_path_once(seed):
    """K -> infinity: D_n = sum rho #{correct paths with pi > 0 through the edge}.

    Each path's term differs from 1 by (1 - pi)^K <= exp(-K pi_min), so the data is within
    (number of paths) * exp(-K pi_min) of the path count.
    """
    P, model = ref.random_model(seed, 3, 3, zeros=True)
    paths = [(s0, path, prob) for s0, path, prob in _correct_paths(P, model) if prob > 0]
    rho = model.weights("train")
    count = np.zeros(P.shape)
    for s0, path, _ in paths:
        for n in range(model.N):
            count[n, path[n], path[n + 1]] += rho[s0]
    pi_min = min(prob for _, _, prob in paths)
    K = math.ceil(40 / pi_min)
    bound = len(paths) * math.exp(-K * pi_min)
    update = _rule(K).exact_step(P, model)
    np.testing.assert_allclose(update.train_edges, count, rtol=0, atol=bound + 1e-14)
    np.testing.assert_allclose(update.P, operator.refit(P, count), rtol=0, atol=1e-12)


@pytest.mark.parametrize("K", [2, 5])
def test_small_k_pi_is_close_to_star(K):
    """K pi << 1: K pi (1 - (K-1) pi / 2) <= 1 - (1-pi)^K <= K pi, so D lies between
    (1 - e) K C+ and K C+ with e = (K-1) pi_max / 2, and the refit is within P_star e/(1-e)."""
    rng = np.random.default_rng(K)
    M, N = 5, 3
    P = rng.dirichlet(np.full(M, 20.0), size=(N, M))
    model = ChainMDP.create(M, N, truth=rng.integers(0, M, (N, M)))
    pi_max = float(correct_path_probabilities(P, model).max())
    e = (K - 1) * pi_max / 2
    assert e < 0.05  # the regime the bound is about
    star = make_rule("star").exact_step(P, model)
    C = K * star.train_edges
    got = _rule(K).exact_step(P, model)
    assert np.all(got.train_edges <= C * (1 + 1e-12))
    assert np.all(got.train_edges >= (1 - e) * C * (1 - 1e-12))
    assert np.all(np.abs(got.P - star.P) <= star.P * e / (1 - e) + 1e-15)


def test_tiny_path_probabilities_keep_their_precision():
    """pi = 1e-20: 1 - (1 - pi)^K rounds to 0 naively; expm1/log1p keep K pi (1 - O(K pi))."""
    tiny = 1e-10
    P = np.array([[[tiny, 1 - tiny], [1 - tiny, tiny]]] * 2)
    model = ChainMDP.create(2, 2)  # identity truth: s0 -> s0 -> s0 (pi = tiny^2) or
    K = 7  # s0 -> other -> s0 (pi = (1 - tiny)^2, so 1 - (1 - pi)^K = 1 - (2 tiny)^K ~ 1)
    got = _rule(K).exact_step(P, model).train_edges
    C = success_edges(P, model.weights("train"), model.answers, model.identity)
    small = np.broadcast_to(P[0] < 0.5, P.shape)
    np.testing.assert_allclose(got[small], K * C[small], rtol=1e-12)  # error (K-1) pi / 2
    assert np.all(got[small] > 0)
    np.testing.assert_allclose(got[~small], 0.5, rtol=1e-15)


# --- cumulative data ------------------------------------------------------------------------

@pytest.mark.parametrize(("M", "N", "K", "seed"), [(2, 2, 2, 5), (3, 1, 2, 6), (2, 2, 1, 7)])
def test_cumulative_rounds_equal_the_enumerated_union(M, N, K, seed):
    """Round 2 refits on the distinct correct paths of rounds 1 and 2 (P0 then P1)."""
    P0, model = exact_model(seed, M, N, split=False)
    rule = _rule(K, cumulative=True)
    first = rule.exact_step(model.check_policy(P0), model, rule.init_state(P0, model))
    assert (first.train_edges == sref.dedup_data([P0], model, K, exact=True)).all()
    second = rule.exact_step(first.P, model, first.state)
    want = sref.dedup_data([P0, first.P], model, K, exact=True)
    assert (second.train_edges == want).all()
    assert (second.P == sref.row_normalise(first.P, want)).all()


def test_two_rounds_from_one_policy_are_one_round_of_2k():
    """1 - (1 - pi)^K (1 - pi)^K = 1 - (1 - pi)^(2K), exactly and in floats."""
    P, model = exact_model(8, 3, 2)
    for policy in (model.check_policy(P), model.check_policy(P).astype(float)):
        _, memory = dedup_counts(policy, model, 3)
        twice, _ = dedup_counts(policy, model, 3, memory)
        once, _ = dedup_counts(policy, model, 6)
        if policy.dtype == object:
            assert (twice == once).all()
        else:
            np.testing.assert_allclose(twice, once, rtol=1e-14, atol=0)


def test_cumulative_data_contains_each_round():
    P, model = ref.random_model(9, 3, 3)
    rule = _rule(3, cumulative=True)
    h = iterate(rule, P, model, 3)
    plain = _rule(3)
    state = rule.init_state(P, model)
    P_t = P
    for t in range(3):
        cum = rule.exact_step(P_t, model, state)
        own = plain.exact_step(P_t, model)
        assert np.all(cum.train_edges >= own.train_edges - 1e-15)
        state, P_t = cum.state, cum.P
        np.testing.assert_array_equal(h.P[t + 1], P_t)
    assert isinstance(state, DedupMemory) and state.log_unseen is not None


# --- sampled mode ---------------------------------------------------------------------------

def _z_check(draws: np.ndarray, exact: np.ndarray, z: float = 4.5) -> None:
    """Mean of R unbiased replicates within z standard errors (empirical std / sqrt(R)).

    With at most ~30 entries, a 4.5-sigma bound fails by chance with probability ~1e-4.
    Entries that never vary must be exact.
    """
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    err = np.abs(draws.mean(axis=0) - exact)
    assert np.all(err <= z * se + 1e-14), (err / np.where(se > 0, se, np.inf)).max()


@pytest.mark.parametrize("K", [1, 3])
def test_sampled_data_is_unbiased_for_the_exact_data(K):
    P, model = ref.random_model(10, 3, 2, split=True)
    rule = _rule(K)
    exact = rule.exact_step(P, model).train_edges
    gen = np.random.default_rng(11)
    draws = np.array([rule.sampled_step(P, model, None, gen).train_edges for _ in range(600)])
    _z_check(draws, exact)


def test_sampled_data_tends_to_exact_as_k_grows():
    """One sampled round is within 5 standard deviations of the exact data for every K.

    The indicators "correct path tau was drawn" (probability q = 1 - (1 - pi)^K) are
    independent across questions and negatively correlated within one (occupancy), so
    Var(D^_n[s, s']) <= sum rho^2 q (1 - q) over the correct paths through the edge. That bound
    goes to 0 as K grows (q -> 1[pi > 0]), so the sampled data converges to the exact data.
    """
    P, model = ref.random_model(12, 3, 2)
    rho = model.weights("train")
    sd = {}
    gen = np.random.default_rng(13)
    for K in (2, 32, 512, 8192):
        var = np.zeros(P.shape)
        for s0, path, prob in _correct_paths(P, model):
            q = 1 - (1 - prob) ** K
            for n in range(model.N):
                var[n, path[n], path[n + 1]] += rho[s0] ** 2 * q * (1 - q)
        sd[K] = np.sqrt(var)
        exact = _rule(K).exact_step(P, model).train_edges
        got = _rule(K).sampled_step(P, model, None, gen).train_edges
        assert np.all(np.abs(got - exact) <= 5 * sd[K] + 1e-14)
    assert sd[8192].max() < 0.1 * sd[2].max()


def test_sampled_cumulative_two_rounds_are_unbiased():
    """Two sampled rounds from the same policy, joined and deduplicated: mean = exact 2K round."""
    P, model = ref.random_model(14, 3, 2)
    exact, _ = dedup_counts(P, model, 4)
    gen = np.random.default_rng(15)
    draws = []
    for _ in range(500):
        _, memory, _ = sampled_dedup_counts(P, model, 2, gen)
        edges, memory, drawn = sampled_dedup_counts(P, model, 2, gen, memory)
        assert len(np.unique(memory.paths, axis=0)) == len(memory.paths)
        draws.append(edges)
    _z_check(np.array(draws), exact)


def test_sampled_rule_keeps_each_distinct_path_once():
    """A deterministic policy: K draws are one path, counted once with weight rho."""
    M, N = 3, 2
    P = np.zeros((N, M, M))
    P[:, np.arange(M), np.arange(M)] = 1.0
    model = ChainMDP.create(M, N)
    update = _rule(16, cumulative=True).sampled_step(P, model, None, 0)
    np.testing.assert_allclose(update.train_edges, P / M, atol=1e-15)
    assert update.samples == 16 * M
    assert update.state.paths.shape == (M, N + 1)


# --- options ----------------------------------------------------------------------------------

def test_options_are_validated():
    with pytest.raises(ValueError, match="cumulative must be True or False"):
        _rule(2, cumulative="yes")
    with pytest.raises(ValueError, match="samples_per_question"):
        _rule(0)
    assert make_rule("ei-dedup").settings()["cumulative"] is False


def test_exact_fraction_step_is_rational():
    P, model = exact_model(16, 2, 2)
    got = _rule(3).exact_step(model.check_policy(P), model).P
    assert all(isinstance(v, Fraction) for v in got.ravel())
