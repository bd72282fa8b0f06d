"""The regression helpers on synthetic data with known coefficients (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from rlstar_theory.open_questions.fits import fit_linear, fit_logistic, percentile_interval


def test_logistic_recovers_known_coefficients_within_its_standard_errors():
    gen = np.random.default_rng(0)
    x = np.linspace(-3, 3, 25)
    X = np.column_stack([np.ones_like(x), x])
    beta = np.array([0.4, -1.7])
    trials = np.full(x.size, 400)
    events = gen.binomial(trials, expit(X @ beta))
    fit = fit_logistic(X, events, trials)
    assert fit.converged
    assert np.all(np.abs(fit.coef - beta) <= 4 * fit.stderr)
    assert fit.stderr[1] < 0.1  # 10^4 trials pin the slope down
    assert 0.3 < fit.pearson_dispersion < 2.5  # the model is true: dispersion about 1
    np.testing.assert_allclose(fit.predict(X), expit(X @ fit.coef))


def test_logistic_dispersion_flags_a_wrong_model():
    # the truth is a bump, not monotone in x: far more spread than binomial noise
    x = np.linspace(-1, 1, 21)
    X = np.column_stack([np.ones_like(x), x])
    p = np.where(np.abs(x) < 0.5, 0.9, 0.1)
    trials = np.full(x.size, 1000)
    fit = fit_logistic(X, np.round(p * trials), trials)
    assert fit.pearson_dispersion > 50


def test_linear_recovers_a_power_law_exponent():
    gen = np.random.default_rng(1)
    M = gen.uniform(2, 100, 60)
    y = np.log(3.0) + 1.5 * np.log(M) + gen.normal(0, 0.2, M.size)
    fit = fit_linear(np.column_stack([np.ones_like(M), np.log(M)]), y)
    lo, hi = fit.interval()[1]
    assert lo < 1.5 < hi and hi - lo < 0.2
    assert fit.dof == 58 and fit.r2 > 0.95
    assert fit.residual_sd == pytest.approx(0.2, rel=0.3)


def test_percentile_interval():
    samples = np.arange(1001.0)
    lo, hi = percentile_interval(samples)
    assert lo == pytest.approx(25.0) and hi == pytest.approx(975.0)
    both = percentile_interval(np.column_stack([samples, 2 * samples]))
    assert both.shape == (2, 2) and both[1, 1] == pytest.approx(1950.0)


def test_bad_input():
    with pytest.raises(ValueError, match="trials"):
        fit_logistic(np.ones((3, 1)), [1, 2, 3], [2, 2, 2])
    with pytest.raises(ValueError, match="observations"):
        fit_linear(np.ones((2, 2)), [1.0, 2.0])
    with pytest.raises(ValueError, match="X must be"):
        fit_linear(np.ones(3), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="level"):
        percentile_interval([1.0, 2.0], level=1.0)
