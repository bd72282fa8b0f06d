"""Samples to J >= 0.99 (Q3): the quantile of first hits, the best K, and the scaling-law fit on
synthetic data with known exponents."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlstar_theory.open_questions.sample_complexity import (
    SamplesTable,
    boundary_covariate,
    fit_sample_law,
    law_design,
    quantile_iteration,
    samples_to_target,
)
from rlstar_theory.open_questions.stall_boundary import exact_hit_iteration

DATA = Path(__file__).resolve().parents[2] / "figures" / "open_questions"


def test_quantile_iteration_from_histograms():
    # index k counts runs whose first hit is t = k - 1 (index 0: never)
    counts = np.array([[0, 0, 5, 3, 2],   # hits at 1, 2, 3 -> 90% reached by t = 3
                       [1, 0, 9, 0, 0],   # 9 of 10 at t = 1
                       [2, 0, 8, 0, 0],   # only 80% ever: infinite at 90%
                       [0, 10, 0, 0, 0]])  # already there at t = 0
    np.testing.assert_array_equal(quantile_iteration(counts, 0.9), [3, 1, np.inf, 0])
    np.testing.assert_array_equal(quantile_iteration(counts, 0.5), [1, 1, 1, 0])
    with pytest.raises(ValueError, match="reliability"):
        quantile_iteration(counts, 0.0)


def _dataset(counts: np.ndarray, K: list[int]):
    import xarray as xr

    return xr.Dataset({"hit_iteration_count": (("M", "N", "lam0", "K", "first_iteration"),
                                               counts)},
                      coords={"M": [4], "N": [2], "lam0": [0.3], "K": K,
                              "first_iteration": np.arange(-1, counts.shape[-1] - 1)})


def test_samples_to_target_takes_the_cheapest_reliable_K():
    # K = 1 never reliably, K = 4 by t = 5 (cost 4*4*5 = 80), K = 16 by t = 1 (cost 64),
    # K = 64 by t = 1 (cost 256): the best is K = 16
    counts = np.zeros((1, 1, 1, 4, 8), dtype=int)
    counts[0, 0, 0, 0, [0, 3]] = [5, 5]
    counts[0, 0, 0, 1, 6] = 10
    counts[0, 0, 0, 2, 2] = 10
    counts[0, 0, 0, 3, 2] = 10
    table = samples_to_target(_dataset(counts, [1, 4, 16, 64]))
    assert table.samples.tolist() == [64.0] and table.best_K.tolist() == [16.0]
    assert table.iterations.tolist() == [1.0] and table.temperature.tolist() == [1.0]


def _synthetic_table(law_coef, seed=0, noise=0.15):
    gen = np.random.default_rng(seed)
    grid = np.array(np.meshgrid([0.5, 0.75, 1.0], [4, 8, 16], [2, 3, 4], [0.2, 0.35, 0.5],
                                indexing="ij"))
    tau, M, N, lam = (g.ravel() for g in grid)
    X = law_design("free", tau, M, N, lam)
    samples = np.exp(X @ law_coef + gen.normal(0, noise, tau.size))
    return SamplesTable(temperature=tau, M=M.astype(int), N=N.astype(int), lam0=lam,
                        samples=samples, best_K=np.ones(tau.size), iterations=np.ones(tau.size),
                        reliability=0.9)


def test_free_law_recovers_known_exponents():
    truth = np.array([0.5, 1.0, 2.5, -3.0, 5.0])  # ln C, b_M, b_N, b_lam, b_tau
    law = fit_sample_law(_synthetic_table(truth), "free")
    ci = law.fit.interval()
    assert np.all((ci[:, 0] < truth) & (truth < ci[:, 1]))
    assert np.all(np.abs(law.fit.coef - truth) < 4 * law.fit.stderr)
    assert law.fit.residual_sd == pytest.approx(0.15, rel=0.3)


def test_boundary_law_recovers_a_known_exponent():
    table = _synthetic_table(np.zeros(5))
    u = boundary_covariate(table.temperature, table.M, table.N, table.lam0)
    gen = np.random.default_rng(4)
    table = SamplesTable(**{**table.__dict__,
                            "samples": 2.0 * u**0.9 * np.exp(gen.normal(0, 0.1, u.size))})
    law = fit_sample_law(table, "boundary")
    lo, hi = law.fit.interval()[1]
    assert lo < 0.9 < hi and hi - lo < 0.05
    assert law.predict(1.0, 8, 3, 0.35)[0] == pytest.approx(
        2.0 * boundary_covariate(1.0, 8, 3, 0.35)[()] ** 0.9, rel=0.1)


def test_boundary_covariate_by_hand():
    # tau = 1: lam_tau = lam0, a = lam0^(N-1) (1 + (M-1) lam0) / M
    M, N, lam0 = 4, 2, 0.5
    a = lam0 * (1 + 3 * lam0) / M
    t_star = exact_hit_iteration(lam0, M, N)
    assert boundary_covariate(1.0, M, N, lam0)[()] == pytest.approx(
        M * np.log(M) * t_star / a, rel=1e-12)


def test_bootstrap_needs_the_histograms():
    table = _synthetic_table(np.array([0.0, 1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="bootstrap needs counts"):
        fit_sample_law(table, "free", bootstrap=5)
    with pytest.raises(ValueError, match="law must be one of"):
        law_design("nope", 1.0, 4, 2, 0.3)


@pytest.mark.skipif(not (DATA / "sample_complexity.json").exists(), reason="no committed data")
def test_committed_law_matches_the_committed_data():
    from rlstar_theory.sweeps.results import load_results

    summary = json.loads((DATA / "sample_complexity.json").read_text())
    table = samples_to_target(load_results(DATA / "sample_complexity.nc"))
    np.testing.assert_allclose(table.samples, summary["settings"]["samples"], rtol=1e-6)
    law = fit_sample_law(table, "boundary")
    gamma = summary["laws"]["boundary"]["coefficients"]["ln(M lnM t*_tau / a_tau)"]
    assert law.fit.coef[1] == pytest.approx(gamma["value"], rel=1e-5)
    assert gamma["bootstrap_interval_95"][0] <= law.fit.coef[1] <= \
        gamma["bootstrap_interval_95"][1]
