"""The count sampler (Doob h-transform) against path enumeration and the trajectory sampler.

Referees: exact path enumeration in Fractions (backward success, expected counts, the full law of
the counts on tiny models) and :func:`rlstar_theory.sampling.sample_trajectories` followed by
counting. Statistical checks use fixed seeds and tolerances derived from the number of
replicates: z-scores with a Bonferroni correction over every compared number (family-wise level
``ALPHA``), and chi-square p-values above ``ALPHA``.
"""

from __future__ import annotations

import itertools
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from rlstar_theory.dense import answer_map
from rlstar_theory.mdp.count_sampler import (
    backward_success,
    push_counts,
    sample_counts,
    sample_counts_summed,
    sample_group_counts,
    sample_group_counts_summed,
)
from rlstar_theory.sampling import sample_trajectories
from tests.strategies import dense_models, exact_from_weights, float_from_weights

#: family-wise false-alarm level of every statistical test in this file
ALPHA = 1e-3

# a small model with zero edges and a non-identity, non-bijective answer map
WEIGHTS = np.array([
    [[2, 1, 0], [1, 1, 1], [0, 3, 1]],
    [[1, 0, 2], [2, 2, 1], [1, 1, 0]],
    [[3, 1, 1], [0, 1, 2], [1, 0, 1]],
])
P_EXACT = exact_from_weights(WEIGHTS)
P_FLOAT = float_from_weights(WEIGHTS)
ANSWERS = np.array([2, 0, 0])


# ------------------------------------------------------------------------------------------
# referees
# ------------------------------------------------------------------------------------------

def path_law(P_exact, s0: int) -> dict[tuple[int, ...], Fraction]:
    """Exact probability of every path ``(s_1, ..., s_N)`` from ``s0``."""
    N, M = P_exact.shape[0], P_exact.shape[1]
    law = {}
    for path in itertools.product(range(M), repeat=N):
        prob, prev = Fraction(1), s0
        for n, s in enumerate(path):
            prob *= P_exact[n, prev, s]
            prev = s
        law[path] = prob
    return law


def exact_edge_probabilities(P_exact, answers, s0: int) -> np.ndarray:
    """``e[o, n-1, i, j] = Pr(S_{n-1}=i, S_n=j, outcome o | s0)`` (o = 0 success, 1 failure)."""
    N, M = P_exact.shape[0], P_exact.shape[1]
    e = np.full((2, N, M, M), Fraction(0), dtype=object)
    for path, prob in path_law(P_exact, s0).items():
        o = 0 if path[-1] == answers[s0] else 1
        states = (s0,) + path
        for n in range(N):
            e[o, n, states[n], states[n + 1]] += prob
    return e


def trajectory_counts(P, answers, K: int, replicates: int, seed: int) -> np.ndarray:
    """``[o, s0, r, n-1, i, j]``: counts of ``replicates`` independent K-samples per question,
    from one call of the trajectory sampler (all questions, blocks of ``K * replicates``)."""
    N, M = P.shape[0], P.shape[1]
    paths = sample_trajectories(P, K * replicates, rng=seed)
    paths = paths.reshape(M, replicates, K, N + 1)
    outcome = (paths[..., N] != answers[paths[..., 0]]).astype(np.int64)
    q = np.arange(M)[:, None, None]
    r = np.arange(replicates)[None, :, None]
    out = np.zeros(2 * M * replicates * N * M * M, dtype=np.int64)
    for n in range(N):
        flat = ((((outcome * M + q) * replicates + r) * N + n) * M + paths[..., n]) * M \
            + paths[..., n + 1]
        out += np.bincount(flat.ravel(), minlength=out.size)
    return out.reshape(2, M, replicates, N, M, M)


def count_sampler_counts(P, answers, K: int, replicates: int, seed: int) -> np.ndarray:
    """The same layout from one call of :func:`sample_counts` (each question repeated)."""
    N, M = P.shape[0], P.shape[1]
    res = sample_counts(P, answers, K, rng=seed, questions=np.repeat(np.arange(M), replicates))
    both = np.stack([res.success_counts, res.failure_counts])
    return both.reshape(2, M, replicates, N, M, M)


def z_critical(n_tests: int) -> float:
    """Two-sided Bonferroni threshold for ``n_tests`` z-scores at family-wise level ALPHA."""
    return float(stats.norm.isf(ALPHA / (2 * n_tests)))


def mean_var_se(x: np.ndarray, axis: int):
    """Sample mean, sample variance and the standard errors of both along ``axis``."""
    R = x.shape[axis]
    mean = x.mean(axis=axis)
    var = x.var(axis=axis, ddof=1)
    m4 = ((x - np.expand_dims(mean, axis)) ** 4).mean(axis=axis)
    se_var = np.sqrt(np.maximum(m4 - var**2 * (R - 3) / (R - 1), 0) / R)
    return mean, var, np.sqrt(var / R), se_var


# ------------------------------------------------------------------------------------------
# backward success
# ------------------------------------------------------------------------------------------

def brute_force_h(P_exact, answers) -> np.ndarray:
    """``h[q, n, s] = sum over suffixes s_{n+1..N} from s of prod P * [s_N = answers[q]]``."""
    N, M = P_exact.shape[0], P_exact.shape[1]
    h = np.full((len(answers), N + 1, M), Fraction(0), dtype=object)
    for n in range(N + 1):
        for s in range(M):
            for suffix in itertools.product(range(M), repeat=N - n):
                prob, prev = Fraction(1), s
                for k, nxt in enumerate(suffix):
                    prob *= P_exact[n + k, prev, nxt]
                    prev = nxt
                for q, y in enumerate(answers):
                    if prev == y:
                        h[q, n, s] += prob
    return h


@given(dense_models(max_M=4, max_N=3), st.data())
def test_backward_success_matches_path_enumeration(model, data):
    answers = np.array(data.draw(st.lists(st.integers(0, model.M - 1), min_size=1,
                                          max_size=5)))
    expected = brute_force_h(model.P_exact, answers)
    exact = backward_success(model.P_exact, answers)
    assert exact.shape == (len(answers), model.N + 1, model.M)
    assert (exact == expected).all()
    floats = backward_success(model.P, answers)
    assert floats.dtype == np.float64
    np.testing.assert_allclose(floats, expected.astype(float), rtol=0, atol=1e-12)


def test_backward_success_gives_the_success_probability():
    h = backward_success(P_EXACT, ANSWERS)
    for s0 in range(3):
        law = path_law(P_EXACT, s0)
        p = sum(prob for path, prob in law.items() if path[-1] == ANSWERS[s0])
        assert h[s0, 0, s0] == p


# ------------------------------------------------------------------------------------------
# same law as the trajectory sampler
# ------------------------------------------------------------------------------------------

def test_means_and_variances_match_exact_values_and_trajectory_sampler():
    K, R = 20, 4000
    counts = count_sampler_counts(P_FLOAT, ANSWERS, K, R, seed=11)
    traj = trajectory_counts(P_FLOAT, ANSWERS, K, R, seed=12)
    # every count is Binomial(K, e) with e the exact edge-and-outcome probability
    e = np.stack([exact_edge_probabilities(P_EXACT, ANSWERS, s0) for s0 in range(3)], axis=1)
    e = e.astype(float)  # (2, Q, N, M, M)
    positive = (e > 0) & (e < 1)
    n_tests = 4 * int(positive.sum())
    z = z_critical(n_tests)
    mean_c, var_c, se_mean_c, se_var_c = mean_var_se(counts, axis=2)
    mean_t, var_t, se_mean_t, se_var_t = mean_var_se(traj, axis=2)
    # against the exact binomial moments
    exact_mean = K * e
    exact_var = K * e * (1 - e)
    mu4 = exact_var * (1 + 3 * (K - 2) * e * (1 - e))
    se_exact_mean = np.sqrt(exact_var / R)
    se_exact_var = np.sqrt((mu4 - exact_var**2 * (R - 3) / (R - 1)) / R)
    z_mean = (mean_c - exact_mean)[positive] / se_exact_mean[positive]
    z_var = (var_c - exact_var)[positive] / se_exact_var[positive]
    assert np.abs(z_mean).max() < z, np.abs(z_mean).max()
    assert np.abs(z_var).max() < z, np.abs(z_var).max()
    # against the trajectory sampler (two-sample z-scores)
    z2_mean = (mean_c - mean_t)[positive] / np.hypot(se_mean_c, se_mean_t)[positive]
    z2_var = (var_c - var_t)[positive] / np.hypot(se_var_c, se_var_t)[positive]
    assert np.abs(z2_mean).max() < z, np.abs(z2_mean).max()
    assert np.abs(z2_var).max() < z, np.abs(z2_var).max()
    # impossible edge-and-outcome pairs never get a count, in either sampler
    assert not counts[np.broadcast_to((e == 0)[:, :, None], counts.shape)].any()
    assert not traj[np.broadcast_to((e == 0)[:, :, None], traj.shape)].any()


def test_large_K_means_match_exact_values():
    # K = 10^6 samples per question: the means resolve biases of ~1e-4 relative (the trajectory
    # sampler cannot reach this K with thousands of replicates)
    K, R = 10**6, 2000
    counts = count_sampler_counts(P_FLOAT, ANSWERS, K, R, seed=13)
    res_p = sample_counts(P_FLOAT, ANSWERS, K, rng=14, questions=np.repeat(np.arange(3), R))
    e = np.stack([exact_edge_probabilities(P_EXACT, ANSWERS, s0) for s0 in range(3)], axis=1)
    p = np.array([float(sum(e[0, s0, 0].ravel())) for s0 in range(3)])
    e = e.astype(float)
    positive = (e > 0) & (e < 1)
    z = z_critical(int(positive.sum()) + 6)
    zz = (counts.mean(axis=2) - K * e)[positive] / np.sqrt(K * e * (1 - e) / R)[positive]
    assert np.abs(zz).max() < z, np.abs(zz).max()
    # S ~ Binomial(K, p) with the exact p: mean and variance
    S = res_p.successes.reshape(3, R)
    var = K * p * (1 - p)
    mu4 = var * (1 + 3 * (K - 2) * p * (1 - p))
    z_mean = (S.mean(axis=1) - K * p) / np.sqrt(var / R)
    z_var = (S.var(axis=1, ddof=1) - var) / np.sqrt((mu4 - var**2 * (R - 3) / (R - 1)) / R)
    assert np.abs(z_mean).max() < z, z_mean
    assert np.abs(z_var).max() < z, z_var


def exact_outcome_law(P_exact, answers, s0: int, K: int) -> dict[bytes, Fraction]:
    """Exact law of the (success, failure) count arrays of K i.i.d. paths from ``s0``."""
    N, M = P_exact.shape[0], P_exact.shape[1]
    law = path_law(P_exact, s0)
    out: dict[bytes, Fraction] = {}
    for sample in itertools.product(law, repeat=K):
        prob = Fraction(1)
        counts = np.zeros((2, N, M, M), dtype=np.int64)
        for path in sample:
            prob *= law[path]
            states = (s0,) + path
            o = 0 if path[-1] == answers[s0] else 1
            for n in range(N):
                counts[o, n, states[n], states[n + 1]] += 1
        if prob:
            out[counts.tobytes()] = out.get(counts.tobytes(), Fraction(0)) + prob
    return out


def outcome_keys(counts: np.ndarray, s0: int) -> list[bytes]:
    """Keys of :func:`exact_outcome_law` for every replicate of question ``s0``."""
    per = np.ascontiguousarray(np.moveaxis(counts[:, s0], 1, 0))  # (R, 2, N, M, M)
    return [row.tobytes() for row in per]


TINY_CASES = [
    # M = 2, N = 2, K = 3, a zero edge; answers swap the states
    (np.array([[[1, 2], [1, 1]], [[1, 0], [1, 3]]]), np.array([1, 0]), 3),
    # M = 3, N = 2, K = 2
    (np.array([[[1, 1, 0], [1, 2, 1], [0, 1, 1]], [[2, 1, 1], [1, 0, 1], [1, 1, 2]]]),
     np.array([0, 0, 2]), 2),
]


@pytest.mark.parametrize("weights, answers, K", TINY_CASES)
def test_chi_square_full_law_on_tiny_models(weights, answers, K):
    P_exact, P = exact_from_weights(weights), float_from_weights(weights)
    M = P.shape[1]
    R = 20000
    counts = count_sampler_counts(P, answers, K, R, seed=21)
    traj = trajectory_counts(P, answers, K, R, seed=22)
    n_tests = 3 * M
    for s0 in range(M):
        law = exact_outcome_law(P_exact, answers, s0, K)
        keys = sorted(law, key=lambda k: -law[k])
        expected = np.array([float(law[k]) for k in keys]) * R
        # merge the rare outcomes (expected < 5) into one bin
        big = expected >= 5
        index = {k: (i if big[i] else int(big.sum())) for i, k in enumerate(keys)}
        n_bins = int(big.sum()) + (0 if big.all() else 1)
        exp_bins = np.bincount([index[k] for k in keys], weights=expected, minlength=n_bins)
        obs = []
        for sample in (counts, traj):
            sample_keys = outcome_keys(sample, s0)
            assert all(k in index for k in sample_keys), "an impossible count array was drawn"
            obs.append(np.bincount([index[k] for k in sample_keys], minlength=n_bins))
        # goodness of fit of the count sampler to the exact law
        assert stats.chisquare(obs[0], exp_bins).pvalue > ALPHA / n_tests
        # the trajectory sampler too (the referee is itself right)
        assert stats.chisquare(obs[1], exp_bins).pvalue > ALPHA / n_tests
        # and the two samplers against each other
        table = np.stack(obs)
        table = table[:, table.sum(axis=0) > 0]
        assert stats.chi2_contingency(table).pvalue > ALPHA / n_tests


# ------------------------------------------------------------------------------------------
# structure of the counts
# ------------------------------------------------------------------------------------------

def assert_consistent(res, P, answers, K: int) -> None:
    """Counts of whole paths: conserved, chained, starting in s0, ending right (successes) or
    wrong (failures), never on a zero-probability edge."""
    Q = len(res.questions)
    q = np.arange(Q)
    y = answers[res.questions]
    for counts, total, ends_in_answer in ((res.success_counts, res.successes, True),
                                          (res.failure_counts, K - res.successes, False)):
        assert (counts >= 0).all()
        # every step holds every path once
        assert (counts.sum(axis=(2, 3)) == total[:, None]).all()
        # paths start in s0
        assert (counts[:, 0].sum(axis=2)[q, res.questions] == total).all()
        # column sums of step n are the row sums of step n + 1
        assert (counts[:, :-1].sum(axis=2) == counts[:, 1:].sum(axis=3)).all()
        # successes end in the answer, failures never do
        final = counts[:, -1].sum(axis=1)[q, y]
        assert (final == (total if ends_in_answer else 0)).all()
        # zero-probability edges get nothing
        assert not counts[np.broadcast_to(P == 0, counts.shape)].any()
    assert res.samples_drawn == Q * K


@given(dense_models(max_M=5, max_N=4), st.integers(1, 10**12), st.integers(0, 2**32 - 1))
def test_counts_are_consistent_paths(model, K, seed):
    answers = answer_map(model.truth)
    res = sample_counts(model.P, answers, K, rng=seed)
    assert_consistent(res, model.P, answers, K)
    h = backward_success(model.P, answers)
    np.testing.assert_allclose(res.success_prob, h[np.arange(model.M), 0, np.arange(model.M)],
                               rtol=1e-12, atol=1e-15)
    assert ((res.successes == 0) | (res.success_prob > 0)).all()
    assert ((res.successes == K) | (res.success_prob < 1)).all()


def test_zero_edges_never_get_counts_where_numpy_leaks_its_rounding():
    # every row is ten times 0.1 then an impossible state: in floating point the ten 0.1 sum to
    # 1 - 1.1e-16, and numpy's multinomial hands the leftover to the last (impossible) category
    M = 11
    P = np.zeros((1, M, M))
    P[0, :, :10] = 0.1
    K = 10**15
    raw = np.random.default_rng(0).multinomial(np.full(400, K), P[0, 0])
    assert (raw[:, -1] > 0).any()  # the hazard is real
    res = sample_counts(P, np.full(M, 10), K, rng=0, questions=np.zeros(400, dtype=int))
    assert (res.successes == 0).all()
    assert not res.failure_counts[..., -1].any()
    assert (res.failure_counts.sum(axis=(2, 3)) == K).all()


def test_huge_K_costs_no_memory_growing_with_K():
    def peak(K):
        tracemalloc.start()
        res = sample_counts(P_FLOAT, ANSWERS, K, rng=5)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top, res

    peak(10)  # warm-up (imports, caches)
    small, _ = peak(10)
    big, res = peak(10**9)
    assert big <= 1.1 * small + 64 * 1024, (small, big)
    assert_consistent(res, P_FLOAT, ANSWERS, 10**9)
    # S/K concentrates on p at K = 10^9 (z-test on the three questions)
    p = res.success_prob
    z = (res.successes - 10**9 * p) / np.sqrt(10**9 * p * (1 - p))
    assert np.abs(z).max() < z_critical(3)


# ------------------------------------------------------------------------------------------
# seeds and the summed variant
# ------------------------------------------------------------------------------------------

def test_same_seed_same_result_and_generators_advance():
    a = sample_counts(P_FLOAT, ANSWERS, 1000, rng=3)
    b = sample_counts(P_FLOAT, ANSWERS, 1000, rng=np.random.default_rng(3))
    for field in ("successes", "success_counts", "failure_counts"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    gen = np.random.default_rng(3)
    first = sample_counts(P_FLOAT, ANSWERS, 1000, rng=gen)
    second = sample_counts(P_FLOAT, ANSWERS, 1000, rng=gen)
    np.testing.assert_array_equal(first.success_counts, a.success_counts)
    assert not np.array_equal(second.success_counts, first.success_counts)


def test_summed_counts_are_the_weighted_sum_of_the_per_question_counts():
    questions = np.array([0, 2, 1, 2, 0])
    w = np.array([0.5, 1.0, 2.0, -1.0, 0.25])
    w_fail = np.array([-1.0, 0.0, 3.0, 1.0, 1.0])
    per = sample_counts(P_FLOAT, ANSWERS, 500, rng=9, questions=questions)
    summed = sample_counts_summed(P_FLOAT, ANSWERS, 500, rng=9, questions=questions,
                                  weights=w, failure_weights=w_fail)
    np.testing.assert_array_equal(summed.successes, per.successes)
    np.testing.assert_allclose(summed.success_counts,
                               np.einsum("q,qnij->nij", w, per.success_counts), rtol=1e-12)
    np.testing.assert_allclose(summed.failure_counts,
                               np.einsum("q,qnij->nij", w_fail, per.failure_counts), rtol=1e-12)
    plain = sample_counts_summed(P_FLOAT, ANSWERS, 500, rng=9, questions=questions)
    np.testing.assert_array_equal(plain.success_counts, per.success_counts.sum(axis=0))


def test_many_questions_in_several_blocks_match_per_question_sampling():
    # M = 48 makes blocks smaller than the question count, so the block loop is exercised
    rng = np.random.default_rng(0)
    M, N = 48, 2
    P = rng.random((N, M, M)) * (rng.random((N, M, M)) < 0.3)
    P[:, :, 0] += 1e-3
    P /= P.sum(axis=2, keepdims=True)
    answers = rng.integers(0, M, M)
    questions = np.tile(np.arange(M), 10)  # 480 questions: two blocks of at most 441
    per = sample_counts(P, answers, 50, rng=1, questions=questions)
    assert_consistent(per, P, answers, 50)
    summed = sample_counts_summed(P, answers, 50, rng=1, questions=questions)
    np.testing.assert_array_equal(summed.success_counts, per.success_counts.sum(axis=0))


# ------------------------------------------------------------------------------------------
# push_counts
# ------------------------------------------------------------------------------------------

def test_push_counts_with_h_one_is_the_unconditioned_chain():
    N, M = P_FLOAT.shape[0], P_FLOAT.shape[1]
    R, K = 3000, 7
    starts = np.repeat(np.arange(M), R)
    T = push_counts(P_FLOAT, np.ones((starts.size, N + 1, M)), starts,
                    np.full(starts.size, K), rng=4).reshape(M, R, N, M, M)
    # E T_n[i, j] = K F_{n-1}[s0, i] P_n[i, j]
    e = np.zeros((M, N, M, M))
    F = np.eye(M)
    for n in range(N):
        e[:, n] = F[:, :, None] * P_FLOAT[n][None]
        F = F @ P_FLOAT[n]
    positive = (e > 0) & (e < 1)
    mean = T.mean(axis=1)
    z = (mean - K * e)[positive] / np.sqrt(K * e * (1 - e) / R)[positive]
    assert np.abs(z).max() < z_critical(int(positive.sum()))
    assert not T[np.broadcast_to((e == 0)[:, None], T.shape)].any()


def test_push_counts_rejects_counts_that_cannot_reach_the_outcome():
    h = backward_success(P_FLOAT, np.array([1]))  # from state 2, state 1 at step 3 ...
    h[:, 1:] = 0.0  # ... is made unreachable
    with pytest.raises(ValueError, match="counts must be 0"):
        push_counts(P_FLOAT, h, np.array([2]), np.array([5]))


# ------------------------------------------------------------------------------------------
# grouped sampling
# ------------------------------------------------------------------------------------------

def trajectory_group_counts(P, answers, groups: int, G: int, replicates: int, seed: int):
    """Referee: ``hist[s0, r, c]`` and ``counts[o, s0, r, c, n-1, i, j]`` from trajectories."""
    N, M = P.shape[0], P.shape[1]
    K = groups * G
    paths = sample_trajectories(P, K * replicates, rng=seed)
    paths = paths.reshape(M, replicates, groups, G, N + 1)
    success = paths[..., N] == answers[paths[..., 0]]
    score = success.sum(axis=-1)  # (M, R, groups)
    q = np.arange(M)[:, None, None]
    r = np.arange(replicates)[None, :, None]
    hist = np.zeros(M * replicates * (G + 1), dtype=np.int64)
    hist += np.bincount(((q * replicates + r) * (G + 1) + score).ravel(), minlength=hist.size)
    hist = hist.reshape(M, replicates, G + 1)
    outcome = (~success).astype(np.int64)
    c = np.broadcast_to(score[..., None], success.shape)
    qq, rr = q[..., None], r[..., None]
    out = np.zeros(2 * M * replicates * (G + 1) * N * M * M, dtype=np.int64)
    for n in range(N):
        flat = (((((outcome * M + qq) * replicates + rr) * (G + 1) + c) * N + n) * M
                + paths[..., n]) * M + paths[..., n + 1]
        out += np.bincount(flat.ravel(), minlength=out.size)
    return hist, out.reshape(2, M, replicates, G + 1, N, M, M)


def test_group_counts_match_trajectory_groups():
    groups, G, R = 3, 4, 3000
    N, M = P_FLOAT.shape[0], P_FLOAT.shape[1]
    res = sample_group_counts(P_FLOAT, ANSWERS, groups, G, rng=31,
                              questions=np.repeat(np.arange(M), R))
    hist_c = res.group_histogram.reshape(M, R, G + 1)
    counts_c = np.stack([res.success_counts, res.failure_counts]).reshape(
        2, M, R, G + 1, N, M, M)
    hist_t, counts_t = trajectory_group_counts(P_FLOAT, ANSWERS, groups, G, R, seed=32)
    # exact means: E hist[c] = groups pmf(c); a right sample in a group scoring c is a
    # success-conditioned path, so E T+_c = groups pmf(c) c e+ / p (and likewise for failures)
    e = np.stack([exact_edge_probabilities(P_EXACT, ANSWERS, s0) for s0 in range(M)], axis=1)
    p = np.array([float(sum(e[0, s0, 0].ravel())) for s0 in range(M)])
    e = e.astype(float)
    pmf = stats.binom.pmf(np.arange(G + 1)[None, :], G, p[:, None])  # (M, G+1)
    scores = np.arange(G + 1)
    mean_hist = groups * pmf
    mean_counts = np.stack([
        groups * (pmf * scores / p[:, None])[:, :, None, None, None] * e[0][:, None],
        groups * (pmf * (G - scores) / (1 - p[:, None]))[:, :, None, None, None] * e[1][:, None],
    ])
    hist_ok = mean_hist > 0
    counts_ok = mean_counts > 0
    n_tests = 3 * (2 * int(hist_ok.sum()) + 2 * int(counts_ok.sum()))
    z = z_critical(n_tests)
    for sample_c, sample_t, exact_mean, ok in ((hist_c, hist_t, mean_hist, hist_ok),
                                               (counts_c, counts_t, mean_counts, counts_ok)):
        axis = 1 if sample_c is hist_c else 2
        m_c, v_c, se_m_c, se_v_c = mean_var_se(sample_c, axis=axis)
        m_t, v_t, se_m_t, se_v_t = mean_var_se(sample_t, axis=axis)
        # count sampler against the exact mean (its own standard error)
        zz = (m_c - exact_mean)[ok] / np.maximum(se_m_c[ok], 1e-300)
        assert np.abs(zz).max() < z, ("exact mean", np.abs(zz).max())
        # and against the trajectory referee (means and variances)
        zz = (m_c - m_t)[ok] / np.hypot(se_m_c, se_m_t)[ok]
        assert np.abs(zz).max() < z, ("two-sample mean", np.abs(zz).max())
        zz = (v_c - v_t)[ok] / np.maximum(np.hypot(se_v_c, se_v_t)[ok], 1e-300)
        assert np.abs(zz).max() < z, ("two-sample variance", np.abs(zz).max())
        assert not sample_c[np.broadcast_to(np.expand_dims(~ok, axis), sample_c.shape)].any()


def test_group_counts_are_consistent():
    groups, G = 1000, 8
    res = sample_group_counts(P_FLOAT, ANSWERS, groups, G, rng=2)
    hist = res.group_histogram
    scores = np.arange(G + 1)
    assert (hist.sum(axis=1) == groups).all()
    assert res.samples_drawn == 3 * groups * G
    assert (res.success_counts[:, :, 0].sum(axis=(2, 3)) == hist * scores).all()
    assert (res.failure_counts[:, :, 0].sum(axis=(2, 3)) == hist * (G - scores)).all()
    for counts in (res.success_counts, res.failure_counts):
        assert (counts[:, :, :-1].sum(axis=3) == counts[:, :, 1:].sum(axis=4)).all()
        assert not counts[np.broadcast_to(P_FLOAT == 0, counts.shape)].any()


def test_group_cost_does_not_grow_with_the_number_of_groups():
    tracemalloc.start()
    res = sample_group_counts(P_FLOAT, ANSWERS, 10**12, 16, rng=8)
    _, big = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (res.group_histogram.sum(axis=1) == 10**12).all()
    assert big < 4 * res.success_counts.nbytes + 2**20


def test_group_summed_is_the_weighted_sum():
    groups, G = 50, 6
    questions = np.array([0, 1, 2, 2])
    scores = np.arange(G + 1)
    sd = np.sqrt(scores / G * (1 - scores / G) + 1e-4)
    adv_plus = (1 - scores / G) / sd  # GRPO advantage of a right sample
    adv_minus = -(scores / G) / sd
    w_q = np.array([1.0, 0.5, 2.0, 1.0])[:, None]
    per = sample_group_counts(P_FLOAT, ANSWERS, groups, G, rng=6, questions=questions)
    summed = sample_group_counts_summed(P_FLOAT, ANSWERS, groups, G, rng=6, questions=questions,
                                        weights=w_q * adv_plus, failure_weights=w_q * adv_minus)
    np.testing.assert_array_equal(summed.group_histogram, per.group_histogram)
    np.testing.assert_allclose(
        summed.success_counts,
        np.einsum("qc,qcnij->nij", w_q * adv_plus, per.success_counts), rtol=1e-12)
    np.testing.assert_allclose(
        summed.failure_counts,
        np.einsum("qc,qcnij->nij", w_q * adv_minus, per.failure_counts), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"K": 0}, "K must be an integer"),
    ({"K": 2.0}, "K must be an integer"),
    ({"K": True}, "K must be an integer"),
    ({"rng": "seed"}, "rng must be"),
    ({"rng": -1}, "rng must be"),
    ({"answers": np.array([0, 1])}, "answers must have length M"),
    ({"answers": np.array([0, 1, 3])}, r"answers must hold states in \[0, M-1\]"),
    ({"questions": np.array([0, 5])}, r"questions must hold states in \[0, M-1\]"),
    ({"questions": np.array([], dtype=int)}, "questions must be a non-empty"),
    ({"max_bytes": 100}, "sample_counts_summed"),
])
def test_bad_input_names_the_argument(kwargs, match):
    args = {"P": P_FLOAT, "answers": ANSWERS, "K": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        sample_counts(**args)


def test_bad_weights_and_groups():
    with pytest.raises(ValueError, match="weights must have shape"):
        sample_counts_summed(P_FLOAT, ANSWERS, 10, weights=np.ones(4))
    with pytest.raises(ValueError, match="failure_weights must be finite"):
        sample_counts_summed(P_FLOAT, ANSWERS, 10, failure_weights=np.array([1, np.nan, 1]))
    with pytest.raises(ValueError, match="group_size must be an integer"):
        sample_group_counts(P_FLOAT, ANSWERS, 10, 0)
    with pytest.raises(ValueError, match="groups must be an integer"):
        sample_group_counts(P_FLOAT, ANSWERS, 0, 4)
    with pytest.raises(ValueError, match="sample_group_counts_summed"):
        sample_group_counts(P_FLOAT, ANSWERS, 10, 4, max_bytes=100)
    with pytest.raises(ValueError, match=r"weights must have shape \(3, 5\)"):
        sample_group_counts_summed(P_FLOAT, ANSWERS, 10, 4, weights=np.ones(4))
    with pytest.raises(ValueError, match="P: every row must sum to 1"):
        sample_counts(P_FLOAT * 1.1, ANSWERS, 10)
