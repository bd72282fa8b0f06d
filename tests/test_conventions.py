"""The two "delta" conventions: mixing weight lam vs diagonal excess delta_diag."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlstar_theory import (
    delta_diag_to_lam,
    diag_prob_to_lam,
    lam_to_delta_diag,
    lam_to_diag_prob,
    symmetric_matrix,
)
from rlstar_theory.conventions import delta_diag_range
from tests.strategies import exact_lam_values, lam_values

MS = st.integers(2, 200)


def test_spec_example_m64():
    """SPEC §3: for M = 64, delta = 0.2 in one convention is lam = 0.2032 in the other."""
    assert delta_diag_to_lam(0.2, 64) == pytest.approx(0.2 * 64 / 63, rel=1e-15)
    assert round(delta_diag_to_lam(0.2, 64), 4) == 0.2032
    assert lam_to_delta_diag(Fraction(1, 5), 64) == Fraction(63, 320)
    assert delta_diag_to_lam(Fraction(1, 5), 64) == Fraction(64, 315)


@given(MS.flatmap(lambda M: st.tuples(st.just(M), exact_lam_values(M))))
def test_exact_round_trips_and_matrix_diagonal(M_lam):
    M, lam = M_lam
    d = lam_to_delta_diag(lam, M)
    assert isinstance(d, Fraction)
    assert delta_diag_to_lam(d, M) == lam
    p = lam_to_diag_prob(lam, M)
    assert p == Fraction(1, M) + d
    assert diag_prob_to_lam(p, M) == lam
    lo, hi = delta_diag_range(M)
    assert Fraction(lo).limit_denominator(10**6) <= d <= Fraction(hi).limit_denominator(10**6)
    if M <= 12:
        assert symmetric_matrix([lam], M)[0, 0, 0] == p


@given(MS.flatmap(lambda M: st.tuples(st.just(M), st.lists(lam_values(M), min_size=1,
                                                              max_size=5))))
def test_float_and_array_round_trips(M_lam):
    M, lam = M_lam
    arr = np.array(lam)
    d = lam_to_delta_diag(arr, M)
    assert d.shape == arr.shape
    np.testing.assert_allclose(delta_diag_to_lam(d, M), arr, rtol=0, atol=1e-15)
    p = lam_to_diag_prob(arr, M)
    np.testing.assert_allclose(p, 1 / M + d, rtol=0, atol=1e-15)
    np.testing.assert_allclose(diag_prob_to_lam(p, M), arr, rtol=0, atol=1e-13)
    if M <= 50:
        np.testing.assert_allclose(np.diagonal(symmetric_matrix(arr, M), axis1=1, axis2=2),
                                   np.repeat(p[:, None], M, axis=1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("func", [lam_to_delta_diag, delta_diag_to_lam, lam_to_diag_prob,
                                  diag_prob_to_lam])
@pytest.mark.parametrize("M", [1, 0, -3, 2.5, True])
def test_conversions_validate_M(func, M):
    with pytest.raises(ValueError, match="M must be"):
        func(0.1, M)


@given(MS.flatmap(lambda M: st.tuples(st.just(M), exact_lam_values(M))))
def test_diag_prob_and_delta_diag_and_off_diagonal_are_one_family(M_lam):
    """p = 1/M + delta_diag, each wrong move (1 - lam)/M, and p + (M-1) * off = 1 (exact)."""
    from rlstar_theory.conventions import (
        delta_diag_to_diag_prob,
        diag_prob_to_delta_diag,
        off_diag_prob,
    )

    M, lam = M_lam
    p, d = lam_to_diag_prob(lam, M), lam_to_delta_diag(lam, M)
    assert delta_diag_to_diag_prob(d, M) == p and diag_prob_to_delta_diag(p, M) == d
    assert p + (M - 1) * off_diag_prob(lam, M) == 1
    assert isinstance(delta_diag_to_diag_prob(d, M), Fraction)


def test_ranges_and_unchecked_conversion_for_plot_axes():
    from rlstar_theory.conventions import lam_range

    assert lam_range(8) == (-1 / 7, 1.0) and delta_diag_range(8) == (-1 / 8, 7 / 8)
    with pytest.raises(ValueError, match="lam must lie"):
        lam_to_delta_diag(1.5, 8)
    # axis transforms probe values outside the range: no check there
    np.testing.assert_allclose(lam_to_delta_diag(np.array([1.5, -3.0]), 8, check_range=False),
                               [1.5 * 7 / 8, -3.0 * 7 / 8])
    assert delta_diag_to_lam(2.0, 8, check_range=False) == 2.0 * 8 / 7


def test_symmetric_run_delta_diag_uses_the_convention():
    from rlstar_theory import iterate_symmetric, iterate_symmetric_exact

    run = iterate_symmetric([0.2, 0.4], 64, 2)
    np.testing.assert_array_equal(run.delta_diag, lam_to_delta_diag(run.lam, 64))
    np.testing.assert_allclose(run.diag_prob, lam_to_diag_prob(run.lam, 64), rtol=1e-15)
    exact = iterate_symmetric_exact(["1/5", "2/5"], 64, 2)
    assert list(exact.delta_diag[0]) == [Fraction(63, 320), Fraction(63, 160)]
