"""Every bad input raises ValueError whose message names the offending argument."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory import (
    delta_diag_to_lam,
    expected_return,
    finite_sample_star_step,
    iterate_dense,
    iterate_finite_sample,
    iterate_symmetric,
    iterate_symmetric_exact,
    lam_to_delta_diag,
    robustness,
    star_step,
    symmetric_matrix,
    symmetric_star_step,
    temper,
    temper_lam,
)
from rlstar_theory.validation import check_transition, row_sum_tolerance

NAN, INF = float("nan"), float("inf")
U3 = np.full((2, 3, 3), 1 / 3)


def raises_naming(name):
    return pytest.raises(ValueError, match=name)


@pytest.mark.parametrize("M", [1, 0, -2, 2.0, 3.5, "4", True, None])
def test_bad_M(M):
    with raises_naming("M must be"):
        symmetric_matrix([0.2], M)
    with raises_naming("M must be"):
        iterate_symmetric([0.2], M, 1)
    with raises_naming("M must be"):
        iterate_symmetric_exact([Fraction(1, 5)], M, 1)


def test_bad_N():
    with raises_naming("lam0"):
        iterate_symmetric([], 4, 1)
    with raises_naming("lam0"):
        iterate_symmetric_exact([], 4, 1)
    with raises_naming("P"):
        star_step(np.zeros((0, 3, 3)))
    with raises_naming("P"):
        expected_return(np.zeros((0, 3, 3)))


@pytest.mark.parametrize("lam", [1.0 + 1e-12, -0.5, -1 / 3 - 1e-9, 2.0, NAN, INF, -INF])
def test_lam_out_of_range_or_not_finite(lam):
    M = 4  # allowed range [-1/3, 1]
    with raises_naming("lam"):
        symmetric_matrix([0.2, lam], M)
    with raises_naming("lam0"):
        iterate_symmetric([0.2, lam], M, 2)
    with raises_naming("lam"):
        symmetric_star_step([lam], M)
    with raises_naming("lam"):
        lam_to_delta_diag(lam, M)


@pytest.mark.parametrize("lam", [Fraction(-1, 2), Fraction(11, 10), "3/2", "-0.34"])
def test_exact_lam_out_of_range(lam):
    with raises_naming("lam0"):
        iterate_symmetric_exact([Fraction(1, 5), lam], 4, 1)


def test_lam_endpoints_accepted():
    M = 4
    P = symmetric_matrix([-1 / 3, 1.0], M)
    assert np.all(P >= 0)
    assert np.array_equal(P[1], np.eye(M))
    assert iterate_symmetric_exact([Fraction(-1, 3), 1], M, 1).lam.shape == (2, 2)


@pytest.mark.parametrize("delta", [0.76, -0.26, 1.0, NAN, INF])
def test_delta_out_of_range(delta):
    with raises_naming("delta_diag"):
        delta_diag_to_lam(delta, 4)  # allowed [-1/4, 3/4]
    assert delta_diag_to_lam(0.75, 4) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [NAN, INF, -0.1])
def test_P_nan_inf_negative(bad):
    P = U3.copy()
    P[1, 2, 0] = bad
    P[1, 2, 1] = 2 / 3 - bad if np.isfinite(bad) else 1 / 3
    for func in (star_step, expected_return, robustness):
        with raises_naming("P"):
            func(P)
    with raises_naming("P"):
        iterate_dense(P, 1)
    with raises_naming("P"):
        finite_sample_star_step(P, 4, rng=0)


def test_P_rows_must_sum_to_one_with_tolerance_growing_with_M():
    P = U3.copy()
    P[0, 1] = [0.5, 0.3, 0.1]
    with raises_naming("P: every row must sum to 1"):
        star_step(P)
    # the tolerance is max(1e-9, M * 1e-12): a perturbation of 1.5e-9 fails at M = 3 ...
    small = np.full((1, 3, 3), 1 / 3)
    small[0, 0, 0] += 1.5e-9
    with raises_naming("P"):
        check_transition(small)
    small[0, 0, 0] -= 1e-9  # 5e-10 is fine
    assert check_transition(small).shape == (1, 3, 3)
    # ... and passes at M = 2000, where 2000 * 1e-12 = 2e-9 absorbs the rounding of big rows
    M = 2000
    assert row_sum_tolerance(M) == pytest.approx(2e-9)
    big = np.full((1, M, M), 1 / M)
    big[0, 0, 0] += 1.5e-9
    assert check_transition(big).shape == (1, M, M)
    big[0, 0, 0] += 1e-9
    with raises_naming("P"):
        check_transition(big)


def test_exact_rows_must_sum_to_exactly_one():
    P = np.empty((1, 2, 2), dtype=object)
    P[0] = [[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 3), Fraction(1, 2)]]
    with raises_naming("P"):
        star_step(P)
    P[0, 1, 1] = Fraction(-1, 3)
    P[0, 1, 0] = Fraction(4, 3)
    with raises_naming("P"):
        star_step(P)


@pytest.mark.parametrize("shape", [(2, 3, 4), (3,), (2, 1, 1), (2, 2, 3, 3)])
def test_P_bad_shape(shape):
    with raises_naming("P"):
        star_step(np.full(shape, 1.0 / shape[-1]))


@pytest.mark.parametrize(
    "truth",
    [
        [[0, 1, 3], [0, 1, 2]],  # out of range
        [[0, 1, -1], [0, 1, 2]],
        [[0, 1, 2]],  # N mismatch
        [[0, 1], [0, 1]],  # M mismatch
        [[0, 1, 2.5], [0, 1, 2]],  # not an integer label
        [[0, 1, NAN], [0, 1, 2]],
        [["a", "b", "c"], [0, 1, 2]],
    ],
)
def test_bad_truth(truth):
    for func in (star_step, expected_return, robustness):
        with raises_naming("truth"):
            func(U3, truth=truth)
    with raises_naming("truth"):
        finite_sample_star_step(U3, 4, rng=0, truth=truth)


@pytest.mark.parametrize(
    "start",
    [
        [0.5, 0.5, 0.5],  # sums to 1.5
        [0.3, 0.3, 0.3],
        [1.2, -0.2, 0.0],  # negative entry
        [0.5, 0.5],  # wrong length
        [0.5, 0.5, 0.0, 0.0],
        [NAN, 0.5, 0.5],
        [INF, 0.0, 0.0],
        [[1 / 3, 1 / 3, 1 / 3]],
    ],
)
def test_bad_start(start):
    for func in (star_step, expected_return, robustness):
        with raises_naming("start"):
            func(U3, start=start)
    with raises_naming("start"):
        finite_sample_star_step(U3, 4, rng=0, start=start)


def test_exact_start_must_sum_to_exactly_one():
    P = np.empty((1, 2, 2), dtype=object)
    P[0] = [[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), Fraction(1, 2)]]
    with raises_naming("start"):
        star_step(P, start=[Fraction(1, 3), Fraction(1, 3)])


@pytest.mark.parametrize("tau", [0, 0.0, -1.0, NAN, INF, -INF, "hot", None])
def test_bad_temperature(tau):
    with raises_naming("temperature"):
        star_step(U3, temperature=tau)
    with raises_naming("temperature"):
        expected_return(U3, temperature=tau)
    with raises_naming("temperature"):
        iterate_symmetric([0.2, 0.3], 4, 2, temperature=tau)
    with raises_naming("temperature"):
        symmetric_star_step([0.2], 4, temperature=tau)
    with raises_naming("temperature"):
        temper(U3, tau)
    with raises_naming("temperature"):
        temper_lam(np.array([0.2]), 4, tau)
    with raises_naming("temperature"):
        finite_sample_star_step(U3, 4, rng=0, temperature=tau)


@pytest.mark.parametrize("tau", [Fraction(2, 3), 2, Fraction(3, 2), 0.4, "2/5", 0])
def test_exact_temperature_must_be_one_over_k(tau):
    P = np.empty((1, 2, 2), dtype=object)
    P[0] = [[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 4), Fraction(3, 4)]]
    with raises_naming("temperature"):
        star_step(P, temperature=tau)
    with raises_naming("temperature"):
        iterate_symmetric_exact([Fraction(1, 5)], 4, 1, temperature=tau)
    with raises_naming("temperature"):
        temper_lam(Fraction(1, 5), 4, tau)


@pytest.mark.parametrize("K", [0, -1, 2.0, True, None])
def test_bad_sample_count(K):
    with raises_naming("samples_per_question"):
        finite_sample_star_step(U3, K, rng=0)
    with raises_naming("samples_per_question"):
        iterate_finite_sample(U3, 1, K, rng=0)


@pytest.mark.parametrize("T", [-1, 1.5, True, "3"])
def test_bad_iterations(T):
    with raises_naming("iterations"):
        iterate_symmetric([0.2], 4, T)
    with raises_naming("iterations"):
        iterate_dense(U3, T)
    with raises_naming("iterations"):
        iterate_finite_sample(U3, T, 4, rng=0)


def test_nothing_is_silently_renormalised():
    """A valid but slightly-off row (within tolerance) is used as given, not renormalised."""
    P = np.full((1, 2, 2), 0.5)
    P[0, 0] = [0.5 + 4e-10, 0.5]
    assert expected_return(P) == pytest.approx(0.5 + 2e-10, abs=1e-16)
