"""The fitted stall boundary (Q3): the gold advantage against the exact STaR step, the fits on
synthetic tables with a known law, on a tiny simulated grid with held-out slices, and the
committed data against its committed summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from rlstar_theory.open_questions.stall_boundary import (
    LAWS,
    StallTable,
    check_heldout,
    exact_hit_iteration,
    fit_stall_boundary,
    gold_advantage,
    initial_J,
    slice_k50,
    stall_table,
    within_horizon,
)
from rlstar_theory.open_questions.stalls import simulate_star_runs
from rlstar_theory.symmetric import iterate_symmetric, symmetric_star_step

DATA = Path(__file__).resolve().parents[2] / "figures" / "open_questions"


@pytest.mark.parametrize("lam, M, N", [(0.2, 8, 3), (0.05, 4, 5), (0.7, 16, 2), (0.3, 2, 1)])
def test_gold_advantage_is_J0_times_the_exact_relative_progress(lam, M, N):
    lam_next = symmetric_star_step(np.full(N, lam), M)[0]
    assert gold_advantage(lam, M, N) == pytest.approx(
        initial_J(lam, M, N) * (lam_next - lam) / (1 - lam), rel=1e-12)


def _synthetic(Ms, Ns, lams, law="K*a/ln(M)", c=0.8, slope=-3.0, runs=1000, seed=0):
    gen = np.random.default_rng(seed)
    grid = np.array(np.meshgrid(Ms, Ns, lams, [2.0**e for e in range(13)], indexing="ij"))
    M, N, lam, K = (g.ravel() for g in grid)
    p = expit(slope * (np.log(K * LAWS[law](lam, M, N)) - np.log(c)))
    R = np.full(K.size, runs)
    return StallTable(M=M.astype(int), N=N.astype(int), lam0=lam, K=K.astype(int),
                      stalled=gen.binomial(R, p), runs=R)


def test_fit_recovers_a_known_boundary_and_predicts_held_out_cells():
    train = _synthetic([4, 8], [2, 3], [0.2, 0.4, 0.6])
    b = fit_stall_boundary(train, "K*a/ln(M)", bootstrap=60, rng=1)
    assert b.interval[0] < 0.8 < b.interval[1] and b.constant == pytest.approx(0.8, rel=0.03)
    assert b.slope == pytest.approx(-3.0, rel=0.1)
    assert 0.3 < b.pearson_dispersion < 2.5  # the law is true: binomial noise only
    wrong = fit_stall_boundary(train, "K*J0", bootstrap=0)
    assert wrong.deviance > 10 * b.deviance and wrong.pearson_dispersion > 10
    held = _synthetic([6, 12], [4], [0.3, 0.5], seed=2)
    check = check_heldout(b, held)
    assert check.side_accuracy == 1.0
    assert 0.9 < check.k50_ratio_range[0] <= check.k50_ratio_range[1] < 1.1
    # the wrong law misplaces the held-out boundary by far more
    assert np.ptp(np.log(check_heldout(wrong, held).k50_ratio)) > 1.0


def _simulated(M, N, lams, runs, iterations, seed) -> StallTable:
    gen = np.random.default_rng(seed)
    rows = [(M, N, lam, K, simulate_star_runs(M, N, lam, K, iterations, runs,
                                              rng=gen).stalled.sum(), runs)
            for lam in lams for K in [2**e for e in range(9)]]
    return StallTable(*(np.array(col) for col in zip(*rows, strict=True)))


def test_on_a_tiny_simulated_grid_the_gold_advantage_law_predicts_held_out_slices():
    train = _simulated(3, 2, [0.2, 0.4, 0.6], 400, 6, seed=1)
    held = _simulated(3, 2, [0.3, 0.5], 400, 6, seed=2)
    good = fit_stall_boundary(train, "K*a/ln(M)", bootstrap=0)
    ratio = check_heldout(good, held).k50_ratio
    assert ratio.size == 2 and np.all(np.abs(np.log(ratio)) < np.log(1.15))
    assert good.deviance < fit_stall_boundary(train, "K*J0", bootstrap=0).deviance


def test_slice_k50_reads_off_the_half_point():
    table = _synthetic([4], [2], [0.3], c=0.8, runs=10**6, seed=3)
    slices = slice_k50(table)
    x = LAWS["K*a/ln(M)"](0.3, 4, 2)
    assert slices.k50[0] == pytest.approx(0.8 / x, rel=0.01)
    flat = StallTable(M=np.array([4, 4]), N=np.array([2, 2]), lam0=np.array([0.3, 0.3]),
                      K=np.array([1, 2]), stalled=np.array([900, 800]), runs=np.array([1000,
                                                                                   1000]))
    assert np.isnan(slice_k50(flat).k50[0])  # never below one half: no crossing


def test_exact_hit_iteration_and_the_horizon():
    for lam, M, N, tau in [(0.2, 8, 3, 1.0), (0.1, 4, 4, 1.0), (0.35, 8, 4, 0.75)]:
        J = iterate_symmetric(np.full(N, lam), M, 200, tau).J
        assert exact_hit_iteration(lam, M, N, 0.99, 200, tau) == int(np.argmax(J >= 0.99))
    assert exact_hit_iteration(0.0, 8, 3, 0.99, 50) == -1  # two zero steps never move
    table = StallTable(M=np.array([4, 4]), N=np.array([4, 4]), lam0=np.array([0.1, 0.5]),
                       K=np.array([8, 8]), stalled=np.array([1, 1]), runs=np.array([2, 2]))
    np.testing.assert_array_equal(within_horizon(table, 10), [False, True])


@pytest.mark.skipif(not (DATA / "stall_boundary.json").exists(), reason="no committed data")
def test_committed_fit_matches_the_committed_data():
    from rlstar_theory.sweeps.results import load_results

    summary = json.loads((DATA / "stall_boundary.json").read_text())
    ds = load_results(DATA / "stalls.nc")
    assert int(ds["runs"].min()) >= 1000
    table = stall_table(ds)
    train = table.subset(within_horizon(table, ds.sizes["iteration"] - 1))
    for law in summary["laws"]:
        b = fit_stall_boundary(train, law["law"], bootstrap=0)
        assert b.constant == pytest.approx(law["constant"], rel=1e-5)
        assert law["interval_95"][0] <= b.constant <= law["interval_95"][1]
    best = min(summary["laws"], key=lambda entry: entry["deviance"])
    assert summary["best_law"] == best["law"]
    # the best law predicts every held-out slice within a factor of two
    lo, hi = best["heldout"]["k50_ratio_range"]
    assert 0.5 < lo <= hi < 2.0


def test_bad_input():
    table = _synthetic([4], [2], [0.3])
    with pytest.raises(ValueError, match="law must be one of"):
        fit_stall_boundary(table, "K*nope")
    with pytest.raises(ValueError, match="bootstrap"):
        fit_stall_boundary(table, "K*a", bootstrap=-1)
    zero = StallTable(M=np.array([4]), N=np.array([2]), lam0=np.array([0.0]), K=np.array([4]),
                      stalled=np.array([1]), runs=np.array([2]))
    with pytest.raises(ValueError, match="lam0 > 0"):
        fit_stall_boundary(zero, "K*a")
