"""Critical temperature: odds map vs the closed form, formula vs bisection vs scanning."""

import numpy as np
import pytest

from rlstar_theory.open_questions.models import random_models
from rlstar_theory.open_questions.temperature import (
    _temper_batch,
    asymptotic_critical_temperature,
    check_claims,
    converges_dense,
    converges_equal_steps,
    critical_temperature,
    critical_temperature_bisect,
    critical_temperature_dense,
    equal_step_map,
    log_odds,
    sympy_checks,
)
from rlstar_theory.symmetric import iterate_symmetric, symmetric_matrix
from rlstar_theory.tempering import temper


@pytest.mark.parametrize("lam0, tau, M, N", [(0.2, 1.2, 64, 3), (0.8, 1.5, 64, 4),
                                             (0.5, 0.7, 8, 3), (0.05, 1.0, 16, 5),
                                             (0.6, 1.9, 4, 2)])
def test_odds_map_is_the_closed_form(lam0, tau, M, N):
    run = iterate_symmetric(np.full(N, lam0), M, 6, tau)
    u = [log_odds(lam0, M)]
    for _ in range(6):
        u.append(equal_step_map(u[-1], M, N, tau))
    expected = log_odds(run.lam[:, 0], M)
    finite = np.isfinite(expected)
    np.testing.assert_allclose(np.array(u)[finite], expected[finite], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("M, N", [(16, 3), (64, 5)])
def test_formula_matches_bisection_of_the_iterated_closed_form(M, N):
    lam0 = np.array([0.1, 0.5, 0.9])
    formula = critical_temperature(lam0, M, N)
    # each bisection probe runs the iterated map to its outcome (no one-step shortcut)
    bisected = critical_temperature_bisect(lam0, M, N, lo=1.0, hi=2.0, tol=1e-5,
                                           iterations=300)
    np.testing.assert_allclose(bisected, formula, atol=1e-5)
    assert np.all((formula > 1) & (formula < 2))


def test_bisection_matches_a_brute_force_scan():
    M, N, lam0 = 8, 3, 0.3
    taus = np.linspace(1.0, 2.0, 201)
    conv = converges_equal_steps(np.full(taus.shape, lam0), M, N, taus, iterations=300)
    first_fail = taus[np.argmin(conv)]
    assert conv[: np.argmin(conv)].all() and not conv[np.argmin(conv):].any()
    tau_star = critical_temperature_bisect(np.array([lam0]), M, N, lo=1.0, hi=2.0, tol=1e-5,
                                           iterations=300)[0]
    assert first_fail - 0.005 <= tau_star <= first_fail


def test_library_closed_form_agrees_on_either_side():
    M, N, lam0 = 64, 3, 0.2
    tau_star = float(critical_temperature(lam0, M, N))
    for tau, converges in ((tau_star - 1e-3, True), (tau_star + 1e-3, False)):
        run = iterate_symmetric(np.full(N, lam0), M, 100, tau)
        assert bool(run.one_minus_J[-1] < 1e-6) is converges


def test_two_and_one_steps():
    np.testing.assert_allclose(critical_temperature([0.01, 0.5, 0.99], 7, 2), 2.0,
                               atol=1e-12)
    assert np.isinf(critical_temperature([0.3], 7, 1)).all()


def test_the_issue_claims():
    checks = check_claims(iterations=120)
    assert [c.converges for c in checks] == [True, True, False]
    assert [c.holds for c in checks] == [True, False, True]
    assert checks[1].J_final == pytest.approx(1.0)
    assert checks[2].J_final == pytest.approx(1 / 64)


def test_limiting_laws():
    # lam0 -> 1: error shrinks towards the optimum
    errs = [abs(critical_temperature(1 - e, 64, 3)[()] -
                asymptotic_critical_temperature(1 - e, 64, 3, "near_one")[()])
            for e in (1e-3, 1e-6, 1e-9)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-4
    # lam0 -> 0 with M lam0 << 1: tau* - 1 ~ lam0^(N-2)
    for N in (3, 4):
        ratio = (critical_temperature(1e-4, 4, N) - 1) / 1e-4 ** (N - 2)
        assert ratio == pytest.approx(1.0, rel=1e-3)
    # M -> infinity: tau* -> N/(N-1)
    gaps = [abs(critical_temperature(0.5, M, 3)[()] - 1.5) for M in (2**5, 2**10, 2**20)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3


def test_sympy_checks():
    assert sympy_checks() == {"odds_product": True, "tempering_odds": True,
                              "two_steps_square": True, "near_one": True}


def test_batched_tempering_is_the_library_tempering():
    P = random_models("dirichlet", 3, 4, 2, np.full(2, 0.2), 0.5, rng=1)
    tau = np.array([0.5, 1.0, 1.7])
    out = _temper_batch(P, tau)
    for b in range(3):
        np.testing.assert_allclose(out[b], temper(P[b], tau[b]), atol=1e-15)


def test_dense_bisection_on_symmetric_models_is_the_closed_form():
    lam0 = np.array([0.2, 0.5, 0.8])
    P = np.stack([symmetric_matrix(np.full(3, v), 6) for v in lam0])
    dense = critical_temperature_dense(P, lo=0.5, hi=3.0, steps=14, epsilon=1e-4,
                                       iterations=400)
    width = 2.5 / 2**14
    np.testing.assert_allclose(dense, critical_temperature(lam0, 6, 3), atol=width)


def test_dense_bisection_matches_a_scan_of_a_random_model():
    P = random_models("dirichlet", 1, 5, 3, np.full(3, 0.4), 0.15, rng=2)
    taus = np.linspace(0.5, 3.0, 101)
    conv = converges_dense(np.repeat(P, taus.size, axis=0), taus)
    k = int(np.argmin(conv))
    assert conv[:k].all() and not conv[k:].any()
    tau_star = critical_temperature_dense(P, steps=12)[0]
    assert taus[k - 1] - 1e-3 <= tau_star <= taus[k] + 1e-3


def test_bad_input():
    with pytest.raises(ValueError, match="lam0"):
        critical_temperature([0.0], 8, 3)
    with pytest.raises(ValueError, match="temperature"):
        equal_step_map(-1.0, 8, 3, 0.0)
    with pytest.raises(ValueError, match="regime"):
        asymptotic_critical_temperature(0.5, 8, 3, "huge")


@pytest.mark.slow
def test_outputs_are_byte_reproducible_and_hold_no_timings(tmp_path):
    from rlstar_theory.open_questions.temperature import write_temperature_outputs

    runs = [tmp_path / "one", tmp_path / "two"]
    for run in runs:
        summary, seconds = write_temperature_outputs(run, workers=1, progress=False)
        assert "seconds" not in summary and set(seconds) >= {"exact_map", "dense_map"}
    names = sorted(p.name for p in runs[0].iterdir())
    assert "temperature_summary.json" in names and "temperature.nc" in names
    for name in names:
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
