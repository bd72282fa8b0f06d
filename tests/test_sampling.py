"""Finite-sample RL-STaR: exactness of the bookkeeping, and convergence to the exact step.

Statistical checks use fixed seeds and tolerances derived from the sample size: a refitted entry
``p_hat = c / n`` of a row visited ``n`` times by kept trajectories has standard error
``sqrt(p (1 - p) / n)`` (floored at ``1/n`` for entries near 0 or 1); we allow 6 of them. The
same check is shown to reject a wrong target (the exact step at another temperature).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlstar_theory import (
    expected_return,
    finite_sample_star_step,
    iterate_finite_sample,
    robustness,
    sample_trajectories,
    star_step,
    validation,
)
from rlstar_theory.dense import answer_map
from rlstar_theory.sampling import trajectory_memory
from tests.strategies import dense_models

Z = 6.0  # sigmas


def fixed_model(M=4, N=3, seed=1, zeros=True):
    rng = np.random.default_rng(seed)
    w = rng.gamma(1.0, size=(N, M, M))
    if zeros:
        w[rng.random((N, M, M)) < 0.15] = 0.0
        w[..., 0] += (w.sum(axis=-1) == 0)  # no empty row
    P = w / w.sum(axis=-1, keepdims=True)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    return P, truth


def recount(P, K, seed, truth, start, temperature=1.0):
    """Counts of kept transitions, recomputed from the same sampled paths."""
    N, M = P.shape[0], P.shape[1]
    D = np.full(M, 1 / M) if start is None else np.asarray(start, dtype=float)
    paths = sample_trajectories(P, K, seed, D, temperature)
    kept = paths[paths[:, N] == answer_map(truth)[paths[:, 0]]]
    w = D[kept[:, 0]] / K
    counts = np.zeros((N, M, M))
    sq = np.zeros((N, M))  # sum of squared weights per row (Kish effective size)
    for n in range(N):
        np.add.at(counts[n], (kept[:, n], kept[:, n + 1]), w)
        np.add.at(sq[n], kept[:, n], w**2)
    return paths, kept, counts, sq


def z_scores(P_hat, target, counts, sq):
    """|P_hat - target| / sd per entry of every visited row (Kish n = (sum w)^2 / sum w^2)."""
    den = counts.sum(axis=2)
    visited = den > 0
    n_eff = np.where(visited, den**2 / np.where(visited, sq, 1.0), 1.0)[..., None]
    var = np.maximum(target * (1 - target), 1 / n_eff) / n_eff
    z = np.abs(P_hat - target) / np.sqrt(var)
    return np.where(visited[..., None], z, 0.0)


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_refit_is_the_count_ML_of_the_same_paths(uniform, tau):
    P, truth = fixed_model()
    start = None if uniform else np.array([0.1, 0.0, 0.6, 0.3])
    step = finite_sample_star_step(P, 500, rng=7, truth=truth, start=start, temperature=tau)
    paths, kept, counts, _ = recount(P, 500, 7, truth, start, tau)
    den = counts.sum(axis=2, keepdims=True)
    expected = np.where(den > 0, counts / np.where(den > 0, den, 1), P)
    np.testing.assert_allclose(step.P, expected, rtol=1e-12, atol=0)
    assert step.n_sampled == len(paths)
    assert step.n_kept == len(kept)
    assert step.rows_without_data == int((den == 0).sum())
    wrong = np.array([(kept[:, n + 1] != truth[n][kept[:, n]]) for n in range(3)])
    assert step.wrong_steps_kept.tolist() == wrong.sum(axis=1).tolist()
    assert step.kept_with_wrong_step == int(wrong.any(axis=0).sum())
    D = np.full(4, 0.25) if start is None else start
    assert step.success_rate == pytest.approx(D[kept[:, 0]].sum() / 500, rel=1e-12)


@pytest.mark.parametrize("K", [1_000, 10_000, 60_000])
@pytest.mark.parametrize("start", [None, (0.1, 0.0, 0.6, 0.3)])
def test_converges_to_exact_step_within_sigma_bound(K, start):
    P, truth = fixed_model()
    exact = star_step(P, truth, start)
    step = finite_sample_star_step(P, K, rng=K + 3, truth=truth, start=start)
    _, _, counts, sq = recount(P, K, K + 3, truth, start)
    z = z_scores(step.P, exact, counts, sq)
    assert z.max() <= Z
    # in a visited row, a transition no successful path uses is never in the kept data
    visited = np.broadcast_to(counts.sum(axis=2, keepdims=True) > 0, P.shape)
    assert np.all(step.P[(exact == 0) & visited] == 0)
    assert np.array_equal(step.P[~visited], P[~visited])


def test_the_sigma_check_can_fail():
    """The same bound rejects the exact step at temperature 0.5 (a wrong target)."""
    P, truth = fixed_model()
    K = 60_000
    step = finite_sample_star_step(P, K, rng=11, truth=truth)
    _, _, counts, sq = recount(P, K, 11, truth, None)
    assert z_scores(step.P, star_step(P, truth), counts, sq).max() <= Z
    assert z_scores(step.P, star_step(P, truth, temperature=0.5), counts, sq).max() > 3 * Z
    assert z_scores(step.P, star_step(P, truth, temperature=0.9), counts, sq).max() > Z


def test_tempered_sampling_converges_to_tempered_exact_step():
    P, truth = fixed_model(seed=5)
    K = 60_000
    step = finite_sample_star_step(P, K, rng=2, truth=truth, temperature=0.5)
    _, _, counts, sq = recount(P, K, 2, truth, None, 0.5)
    assert z_scores(step.P, star_step(P, truth, temperature=0.5), counts, sq).max() <= Z
    assert z_scores(step.P, star_step(P, truth), counts, sq).max() > Z


def test_wrong_step_counts_match_exact_robustness():
    P, truth = fixed_model(seed=3, zeros=False)
    K = 50_000
    M = P.shape[1]
    step = finite_sample_star_step(P, K, rng=5, truth=truth)
    rob = robustness(P, truth)
    n = step.n_kept
    for k in range(P.shape[0]):
        p = rob.p_step_wrong_given_success[k]
        assert abs(step.wrong_steps_kept[k] / n - p) <= Z * np.sqrt(p * (1 - p) / n)
    p = 1 - rob.p_all_correct_given_success
    assert abs(step.kept_with_wrong_step / n - p) <= Z * np.sqrt(p * (1 - p) / n)
    J = rob.success
    assert abs(step.success_rate - J) <= Z * np.sqrt(J * (1 - J) / (M * K))
    assert step.wrong_steps_kept.min() > 0  # the kept data do hold wrong steps


def test_same_seed_same_result_and_generator_accepted():
    P, truth = fixed_model()
    a = finite_sample_star_step(P, 300, rng=42, truth=truth)
    b = finite_sample_star_step(P, 300, rng=42, truth=truth)
    c = finite_sample_star_step(P, 300, rng=np.random.default_rng(42), truth=truth)
    d = finite_sample_star_step(P, 300, rng=43, truth=truth)
    assert np.array_equal(a.P, b.P) and np.array_equal(a.P, c.P)
    assert a.n_kept == b.n_kept == c.n_kept
    assert not np.array_equal(a.P, d.P)
    r1 = iterate_finite_sample(P, 3, 200, rng=9, truth=truth)
    r2 = iterate_finite_sample(P, 3, 200, rng=9, truth=truth)
    assert np.array_equal(r1.P, r2.P) and np.array_equal(r1.J, r2.J)


def test_iterate_finite_sample_bookkeeping_and_tracks_exact():
    P, truth = fixed_model(seed=4, zeros=False)
    run = iterate_finite_sample(P, 3, 20_000, rng=1, truth=truth)
    assert run.P.shape == (4,) + P.shape
    assert len(run.steps) == 3
    for t in range(4):
        assert run.J[t] == pytest.approx(expected_return(run.P[t], truth), rel=1e-14)
    for t in range(3):
        assert np.array_equal(run.steps[t].P, run.P[t + 1])
    # one exact step from each sampled policy is close to the next sampled one
    for t in range(3):
        exact_next = star_step(run.P[t], truth)
        assert np.abs(run.P[t + 1] - exact_next).max() < 0.05
    assert run.J[-1] > run.J[0]


@settings(max_examples=25)
@given(dense_models(max_M=4, max_N=3), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_sample_trajectories_structure(model, K, seed):
    paths = sample_trajectories(model.P, K, seed, model.start)
    support = np.flatnonzero(model.start > 0)
    assert paths.shape == (len(support) * K, model.N + 1)
    assert paths.dtype == np.int64
    assert np.array_equal(paths[:, 0], np.repeat(support, K))
    for n in range(model.N):  # only transitions with positive probability
        assert np.all(model.P[n, paths[:, n], paths[:, n + 1]] > 0)
    step = finite_sample_star_step(model.P, K, seed, model.truth, model.start)
    assert np.all(step.P >= 0)
    np.testing.assert_allclose(step.P.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    # rows without data are the previous rows, exactly
    den = np.zeros((model.N, model.M))
    kept = paths[paths[:, model.N] == answer_map(model.truth)[paths[:, 0]]]
    for n in range(model.N):
        np.add.at(den[n], kept[:, n], 1)
    assert np.array_equal(step.P[den == 0], model.P[den == 0])
    assert step.rows_without_data == int((den == 0).sum())


def test_first_step_frequencies_match_the_rows():
    P, _ = fixed_model(M=5, N=1, seed=8)
    K = 40_000
    paths = sample_trajectories(P, K, 3)
    for s in range(5):
        freq = np.bincount(paths[paths[:, 0] == s, 1], minlength=5) / K
        sd = np.sqrt(np.maximum(P[0, s] * (1 - P[0, s]), 1 / K) / K)
        assert np.all(np.abs(freq - P[0, s]) <= Z * sd)


# ---- sizes are checked before sampling (issue 9) -----------------------------------------


@pytest.mark.parametrize("func, keep", [(sample_trajectories, False),
                                        (finite_sample_star_step, True)])
@pytest.mark.parametrize("high_J", [False, True])
def test_trajectory_memory_bounds_the_measured_peak(func, keep, high_J):
    """The documented estimate is an upper bound of the peak numpy allocation (tracemalloc),
    and not a loose one; the worst case keeps every trajectory (J close to 1)."""
    M, N, K = 8, 3, 20_000
    if high_J:
        P = np.tile(0.999 * np.eye(M) + 0.001 / M, (N, 1, 1))
    else:
        P, _ = fixed_model(M=M, N=N, seed=2, zeros=False)
    tracemalloc.start()
    try:
        func(P, K, rng=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = trajectory_memory(M, K, N, keep=keep)
    assert 0.5 * estimate < peak <= estimate


def test_oversized_sampling_is_refused_before_allocating(monkeypatch):
    """Issue 9: finite_sample_star_step at K = 10**8 asked for 41.7 GB and then failed."""
    P, truth = fixed_model(M=8, N=3)
    monkeypatch.setattr(validation, "memory_budget", lambda: 8 * 2**30)
    need = trajectory_memory(8, 10**8, 3) / 2**30
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"would need {need:,.1f} GiB, more than the memory "
                                         r"budget of 8\.0 GiB.*reduce samples_per_question"):
        finite_sample_star_step(P, 10**8, rng=0, truth=truth)
    with pytest.raises(ValueError, match="reduce samples_per_question"):
        sample_trajectories(P, 10**8, rng=0)
    with pytest.raises(ValueError, match="reduce samples_per_question"):
        iterate_finite_sample(P, 2, 10**8, rng=0, truth=truth)
    assert time.perf_counter() - start < 1.0


def test_oversized_finite_sample_run_is_refused_before_the_first_iteration(monkeypatch):
    P, _ = fixed_model(M=64, N=3)
    with pytest.raises(ValueError, match=r"storing the 10,000,001 policies.*reduce iterations"):
        iterate_finite_sample(P, 10**7, 1, rng=0)


def test_sampler_is_the_inverse_cdf_draw_of_each_trajectory():
    """Grouping trajectories by state (for vectorised draws) changes nothing: a seeded run is
    the inverse-CDF draw of one uniform per trajectory and step, in path order."""
    P, _ = fixed_model(M=5, N=2, seed=3)
    K = 50
    paths = sample_trajectories(P, K, 11)
    gen = np.random.default_rng(11)
    ref = np.empty_like(paths)
    ref[:, 0] = np.repeat(np.arange(5), K)
    cum = np.cumsum(P, axis=2)
    cum[..., -1] = 1.0
    for n in range(2):
        u = gen.random(len(ref))
        for i in range(len(ref)):
            ref[i, n + 1] = min(np.searchsorted(cum[n, ref[i, n]], u[i], side="right"), 4)
    assert np.array_equal(paths, ref)
