"""Row-wise tempering ``P_tau ∝ P^(1/tau)`` and its closed form on the symmetric family."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rlstar_theory import star_step, symmetric_matrix, temper, temper_lam
from rlstar_theory.tempering import scaled_diag, temper_err, temper_weights
from tests.strategies import dense_models, exact_lam_values, lam_values

TAUS = st.sampled_from([0.1, 0.25, 0.5, 0.7, 1.0, 1.5, 3.0])


@given(dense_models(), TAUS)
def test_temper_is_rowwise_power_normalised(model, tau):
    got = temper(model.P, tau)
    powered = model.P ** (1 / tau)
    np.testing.assert_allclose(got, powered / powered.sum(axis=-1, keepdims=True), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.array_equal(got == 0, model.P == 0)  # zero entries stay zero, no new zeros


@given(dense_models(), st.sampled_from([1, 2, 3]))
def test_exact_temper_matches_float(model, k):
    exact = temper(model.P_exact, Fraction(1, k))
    assert exact.dtype == object
    np.testing.assert_allclose(temper(model.P, 1 / k), exact.astype(float), rtol=0, atol=1e-12)
    assert all(sum(row) == 1 for row in exact.reshape(-1, model.M).tolist())


def test_temper_one_is_identity_and_extremes():
    P = np.array([[[0.5, 0.3, 0.2], [0.0, 0.9, 0.1], [1 / 3, 1 / 3, 1 / 3]]])
    assert temper(P, 1.0) is P
    cold = temper(P, 1e-3)  # -> argmax (uniform row stays uniform)
    np.testing.assert_allclose(cold[0, :2], [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(cold[0, 2], 1 / 3, atol=1e-12)
    hot = temper(P, 1e6)  # -> uniform over the support
    np.testing.assert_allclose(hot[0, 1], [0, 0.5, 0.5], atol=1e-5)


def test_temper_tiny_entries_do_not_underflow_the_row():
    """All entries 1e-200 relative to each other: log-space normalisation keeps the row."""
    P = np.array([[[1 - 2e-200, 1e-200, 1e-200], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]])
    got = temper(P, 0.01)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, atol=1e-15)


@given(st.integers(2, 64).flatmap(lambda M: st.tuples(st.just(M), lam_values(M))), TAUS)
def test_temper_lam_matches_high_precision(M_lam, tau):
    """``1 - lam_tau`` to relative 1e-12 (the closed form in err keeps precision near 1).

    Away from ``p = 0`` only (``p >= 1e-3``): there ``p**(1/tau)`` is not Lipschitz for
    ``tau > 1`` and a rounding of ``p`` by ``M eps`` moves the result by ``(M eps)**(1/tau)``
    in any float implementation (the endpoint itself is in ``test_temper_err_edges``)."""
    M, lam = M_lam
    err_float = 1 - lam  # what the engines carry
    assume(1 - (M - 1) * err_float / M >= 1e-3)
    with mpmath.workdps(60):
        err = mpmath.mpf(err_float)
        p = 1 - (M - 1) * err / M
        q = (1 - p) / (M - 1)
        if p <= 0:
            expected = mpmath.mpf(M) / (M - 1)
        else:
            a, b = p ** (1 / mpmath.mpf(tau)), q ** (1 / mpmath.mpf(tau))
            expected = 1 - (M * a / (a + (M - 1) * b) - 1) / (M - 1)
        expected = float(expected)
    got = float(temper_err(np.array(err_float), M, tau))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-300)


@given(st.integers(2, 12).flatmap(lambda M: st.tuples(st.just(M), exact_lam_values(M))),
       st.sampled_from([1, 2, 3, 4]))
def test_temper_lam_exact_is_the_matrix_tempering(M_lam, k):
    M, lam = M_lam
    lam_t = temper_lam(lam, M, Fraction(1, k))
    assert isinstance(lam_t, Fraction)
    assert temper(symmetric_matrix([lam], M), Fraction(1, k)).tolist() == \
        symmetric_matrix([lam_t], M).tolist()
    assert abs(float(temper_lam(np.array([float(lam)]), M, 1 / k)[0]) - float(lam_t)) <= 1e-12


@given(st.integers(2, 64).flatmap(
    lambda M: st.tuples(st.just(M), lam_values(M, negative=False, zero=False))))
def test_colder_sampling_sharpens_positive_lam(M_lam):
    M, lam = M_lam
    assert temper_lam(lam, M, 0.5) >= temper_lam(lam, M, 1.0) >= temper_lam(lam, M, 2.0)
    if 0.01 < lam < 0.99:
        assert temper_lam(lam, M, 0.5) > lam > temper_lam(lam, M, 2.0)


def test_temper_err_edges():
    M = 5
    got = temper_err(np.array([0.0, 1.0, 5 / 4, 1e-150]), M, 0.5)
    assert got[0] == 0.0  # lam = 1 stays 1
    assert got[1] == 1.0  # lam = 0 stays 0
    assert got[2] == 5 / 4  # lam = -1/(M-1): p = 0 stays 0
    # M r / (1 + (M-1) r) with r = (err / (M - (M-1) err))**2: no early flush to zero
    assert got[3] == pytest.approx(5 * (1e-150 / 5) ** 2, rel=1e-12)


def mp_tempered(lam: Fraction, M: int, tau: float, dps: int = 420):
    """Reference (lam_tau, 1 - lam_tau, M p_tau) from the exact input, at ``dps`` digits
    (enough for lam = 1e-300, where M p_tau - 1 cancels 300 digits)."""
    with mpmath.workdps(dps):
        p = (1 + (M - 1) * mpmath.mpf(lam.numerator) / lam.denominator) / M
        if p == 0:
            return -1 / mpmath.mpf(M - 1), mpmath.mpf(M) / (M - 1), mpmath.mpf(0)
        q = (1 - p) / (M - 1)
        a, b = p ** (1 / mpmath.mpf(tau)), q ** (1 / mpmath.mpf(tau))
        p_t = a / (a + (M - 1) * b)
        lam_t = (M * p_t - 1) / (M - 1)
        return lam_t, 1 - lam_t, M * p_t


def _close(got: float, want, rel: float = 1e-12) -> bool:
    return abs(got - float(want)) <= rel * abs(float(want)) + 1e-300


@given(st.integers(2, 64), st.sampled_from([1e-300, 1e-12, 1e-6, 0.3, 0.5]),
       st.sampled_from(["small", "near_one", "near_boundary", "negative_small"]), TAUS)
def test_temper_weights_relative_precision_everywhere(M, size, where, tau):
    """All three tempered forms to relative 1e-12 where they are small: lam near 0, err near
    lam = 1, M p near the boundary (issue 9: small lam lost 5 digits)."""
    lo = Fraction(-1, M - 1)
    lam = {"small": Fraction(size), "near_one": 1 - Fraction(size),
           "near_boundary": lo + Fraction(size) * (-lo), "negative_small": -Fraction(size) * -lo}[
        where]
    lam = Fraction(float(lam))  # the float input, exactly
    assume(lo - Fraction(1, 10**15) <= lam <= 1)
    if 1 + (M - 1) * lam <= 4 * Fraction(2) ** -52:  # documented: within rounding of p = 0
        lam = lo
    x = float(lam)
    got = temper_weights(np.array(float(lam)), np.array(float(1 - lam)),
                         scaled_diag(np.array(x), M), M, tau)
    want = mp_tempered(lam, M, tau)
    # near the boundary the input's M p is itself rounded once (relative eps)
    rel = 1e-12 if where != "near_boundary" else 1e-12 + 4 / tau * 2.0**-52
    for g, w in zip(got, want, strict=True):
        assert _close(float(g), w, rel)


def test_temper_lam_small_weights_keep_relative_precision():
    for tau in (0.5, 2.0):
        for lam in (1e-12, -1e-12, 1e-200):
            want = mp_tempered(Fraction(lam), 8, tau)[0]
            assert _close(float(temper_lam(np.array(lam), 8, tau)), want, 1e-13)
    assert temper_lam(np.array(0.0), 8, 0.5) == 0.0 and not np.signbit(
        temper_lam(np.array(0.0), 8, 0.5))


@given(st.integers(2, 2**40), st.floats(0, 1))
def test_scaled_diag_is_one_rounding_of_the_exact_value(M, u):
    lam = -1 / (M - 1) + u * (1 + 1 / (M - 1))
    lam = min(max(lam, -1 / (M - 1)), 1.0)
    exact = 1 + (M - 1) * Fraction(lam)
    got = float(scaled_diag(np.array(lam), M))
    if exact <= 4 * 2.0**-52:
        assert got == 0.0
    else:
        assert abs(Fraction(got) - exact) <= 2.0**-52 * exact


def test_dense_row_without_data_keeps_its_untempered_row():
    """A tempered row that gets no data keeps the untempered previous row (dense engine, the
    documented choice): step 1 never reaches state 2, so row 2 of step 2 has no data."""
    F = Fraction
    P = np.array([[[F(1, 2), F(1, 2), F(0)], [F(1, 3), F(2, 3), F(0)], [F(1, 4), F(3, 4), F(0)]],
                  [[F(2, 3), F(1, 6), F(1, 6)], [F(1, 5), F(3, 5), F(1, 5)],
                   [F(1, 2), F(1, 3), F(1, 6)]]], dtype=object)
    tau = F(1, 2)
    assert temper(P, tau)[1, 2].tolist() != P[1, 2].tolist()  # tempering would change it
    P1 = star_step(P, temperature=tau)
    assert P1[1, 2].tolist() == P[1, 2].tolist()  # untempered previous row, exactly
    assert P1[1, 0].tolist() != P[1, 0].tolist()  # rows with data are refitted
    # float engine: the same rule
    P1_float = star_step(P.astype(float), temperature=0.5)
    np.testing.assert_array_equal(P1_float[1, 2], P.astype(float)[1, 2])
