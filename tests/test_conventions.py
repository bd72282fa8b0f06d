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
