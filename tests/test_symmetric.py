"""Every claim of SPEC §3 about the symmetric family, as properties over random M, N, lam.

Float comparisons between the closed form and the dense engine use ``atol = 1e-12 / J_s``-type
bounds where the formula divides by ``1 + (M-1) Lam = M J``: a rounding error of size
``M eps`` in that denominator is amplified by ``1 / (M J)`` (conditioning, not tuning).
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce

import mpmath
import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from rlstar_theory import (
    expected_return,
    iterate_dense,
    iterate_symmetric,
    iterate_symmetric_exact,
    robustness,
    star_step,
    sweep_symmetric,
    symmetric_matrix,
    symmetric_star_step,
    temper,
    temper_lam,
)
from rlstar_theory.symmetric import BOUNDARY_SNAP
from tests.strategies import (
    exact_lam_values,
    exact_lam_vectors,
    lam_batches,
    lam_values,
    lam_vectors,
    sizes,
)

ATOL = 1e-12
TEMPERATURES = st.sampled_from([1.0, 0.5, 0.25, 2.0, 0.7])


def prod(values):
    return reduce(lambda a, b: a * b, values, 1)


def closed_form_step(lam, M):
    """SPEC §3 lam' in Fractions, straight from the formula."""
    L = prod(lam)
    den = 1 + (M - 1) * L
    return [(ln + prod(lam[:n] + lam[n + 1:]) + (M - 2) * L) / den for n, ln in enumerate(lam)]


@st.composite
def models(draw, max_M=8, max_N=5, **kwargs):
    M, N = draw(sizes(max_M, max_N))
    return M, N, draw(lam_vectors(M, N, **kwargs))


@st.composite
def exact_models(draw, max_M=8, max_N=4, **kwargs):
    M, N = draw(sizes(max_M, max_N))
    return M, N, draw(exact_lam_vectors(M, N, **kwargs))


def cond_tol(lam, M):
    """Absolute tolerance for quantities divided by ``1 + (M-1) Lam`` (see module doc)."""
    den = 1 + (M - 1) * float(np.prod(lam))
    return ATOL / max(den, 1e-3)


# ---------------------------------------------------------------------------- the family itself


@given(models())
def test_symmetric_matrix_entries(model):
    M, N, lam = model
    P = symmetric_matrix(lam, M)
    assert P.shape == (N, M, M)
    p = 1 / M + (M - 1) * lam / M
    for n in range(N):
        np.testing.assert_allclose(np.diag(P[n]), p[n], rtol=0, atol=ATOL)
        off = P[n][~np.eye(M, dtype=bool)]
        np.testing.assert_allclose(off, (1 - lam[n]) / M, rtol=0, atol=ATOL)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, rtol=0, atol=ATOL)


@given(models())
def test_closure_product_is_family_member(model):
    M, _, lam = model
    P = symmetric_matrix(lam, M)
    product = reduce(np.matmul, P)
    np.testing.assert_allclose(product, symmetric_matrix([np.prod(lam)], M)[0], rtol=0,
                               atol=ATOL)


@given(exact_models(max_M=5))
def test_closure_exact(model):
    M, _, lam = model
    P = symmetric_matrix(lam, M)
    assert P.dtype == object
    product = reduce(np.dot, P)
    assert product.tolist() == symmetric_matrix([prod(lam)], M)[0].tolist()


@given(models())
def test_J_formula_matches_dense_expected_return(model):
    M, _, lam = model
    J_formula = (1 + (M - 1) * np.prod(lam)) / M
    assert abs(expected_return(symmetric_matrix(lam, M)) - J_formula) <= ATOL
    run = iterate_symmetric(lam, M, 0)
    assert abs(run.J[0] - J_formula) <= ATOL
    assert abs(run.one_minus_J[0] - (1 - J_formula)) <= ATOL


@given(exact_models())
def test_J_formula_exact(model):
    M, _, lam = model
    J = (1 + (M - 1) * prod(lam)) / M
    assert expected_return(symmetric_matrix(lam, M)) == J
    assert iterate_symmetric_exact(lam, M, 0).J[0] == J


# ------------------------------------------------------------------------------- the update


@given(models(), TEMPERATURES)
def test_closed_form_step_matches_dense_step(model, tau):
    """star_step on P(lam) stays in the family with lam' = the closed form (at any tau)."""
    M, N, lam = model
    lam_s = temper_lam(lam, M, tau)
    new = star_step(symmetric_matrix(lam, M), temperature=tau)
    closed = symmetric_star_step(lam, M, temperature=tau)
    assert closed.shape == (N,)
    if 1 + (M - 1) * np.prod(lam_s) <= 1e-6:  # (almost) no success: conditioning too poor
        assume(False)
    np.testing.assert_allclose(new, symmetric_matrix(closed, M), rtol=0,
                               atol=cond_tol(lam_s, M))


@given(exact_models(max_M=6, max_N=3), st.sampled_from([1, Fraction(1, 2), Fraction(1, 3)]))
def test_exact_closed_form_equals_exact_dense(model, tau):
    """Exact symmetric engine == exact dense engine, entry for entry (==), with tempering."""
    M, _, lam = model
    run = iterate_symmetric_exact(lam, M, 2, temperature=tau)
    dense = iterate_dense(symmetric_matrix(lam, M), 2, temperature=tau)
    for t in range(3):
        assert dense.P[t].tolist() == symmetric_matrix(list(run.lam[t]), M).tolist()
        assert dense.J[t] == run.J[t]
        assert dense.J_sampling[t] == run.J_sampling[t]
        assert dense.p_all_correct_given_success[t] == run.p_all_correct_given_success[t]
        assert dense.p_step_wrong_given_success[t].tolist() == \
            run.p_step_wrong_given_success[t].tolist()


@given(exact_models())
def test_exact_engine_is_the_spec_formula(model):
    M, _, lam = model
    run = iterate_symmetric_exact(lam, M, 1)
    if 1 + (M - 1) * prod(lam) == 0:
        assert list(run.lam[1]) == lam
    else:
        assert list(run.lam[1]) == closed_form_step(lam, M)


@given(exact_models())
def test_improvement_and_error_contraction_identities(model):
    M, N, lam = model
    L = prod(lam)
    assume(1 + (M - 1) * L != 0)
    new = iterate_symmetric_exact(lam, M, 1).lam[1]
    for n in range(N):
        others = prod(lam[:n] + lam[n + 1:])
        assert new[n] - lam[n] == others * (1 - lam[n]) * (1 + (M - 1) * lam[n]) / (
            1 + (M - 1) * L)
        assert 1 - new[n] == (1 - lam[n]) * (1 - others) / (1 + (M - 1) * L)


def as_fractions(lam, M):
    """The floats as Fractions; a float within rounding of -1/(M-1) (``M p <= BOUNDARY_SNAP``,
    the engine's documented rule) means the exact endpoint."""
    return [Fraction(-1, M - 1) if 1 + (M - 1) * v <= BOUNDARY_SNAP else Fraction(v)
            for v in lam]


@given(models())
def test_float_engine_matches_exact_engine(model):
    M, _, lam = model
    run = iterate_symmetric(lam, M, 3)
    exact = iterate_symmetric_exact(as_fractions(lam, M), M, 3)
    np.testing.assert_allclose(run.lam, exact.lam.astype(float), rtol=0, atol=1e-11)
    np.testing.assert_allclose(run.J, exact.J.astype(float), rtol=0, atol=ATOL)


def mp_tempered_step_err(lam, M, tau, dps=120):
    """Reference err' of one tempered step at ``dps`` digits, and ``1 + (M-1) Lam_s``."""
    with mpmath.workdps(dps):
        err = [1 - mpmath.mpf(float(v)) for v in lam]
        inv = 1 / mpmath.mpf(tau)
        err_s = []
        for e in err:
            one_plus = M - (M - 1) * e  # M p
            if one_plus <= 0:  # p = 0 (lam = -1/(M-1)): tempering keeps the zero diagonal
                err_s.append(mpmath.mpf(M) / (M - 1))
                continue
            r = (e / one_plus) ** inv
            err_s.append(M * r / (1 + (M - 1) * r))
        lam_s = [1 - e for e in err_s]
        L = mpmath.fprod(lam_s)
        den = 1 + (M - 1) * L
        if den <= 0:  # no trajectory can succeed (J = 0): nothing is refitted
            return [float(v) for v in err_s], float(den)
        new = [e * (1 - mpmath.fprod(lam_s[:n] + lam_s[n + 1:])) / den
               for n, e in enumerate(err_s)]
        return [float(v) for v in new], float(den)


@given(models(), TEMPERATURES)
@example(model=(2, 1, np.array([-1.0])), tau=1.0)  # J = 0: found by a newer hypothesis
def test_error_contraction_float(model, tau):
    """err' = err_s (1 - Lam_-n)/(1 + (M-1) Lam) on the tempered weights, to relative 1e-12
    (divided by 1 + (M-1) Lam where that is small: its conditioning)."""
    M, _, lam = model
    expected, den = mp_tempered_step_err(lam, M, tau)
    assume(den > 1e-3)
    got = iterate_symmetric(lam, M, 1, temperature=tau).err[1]
    np.testing.assert_allclose(got, expected, rtol=1e-12 / min(1.0, den), atol=0)


# ------------------------------------------------------------------------ the paper's criteria


@given(exact_models(negative=False, zero=False))
def test_all_positive_strict_improvement_exact(model):
    M, _, lam = model
    run = iterate_symmetric_exact(lam, M, 3)
    for t in range(3):
        for before, after in zip(run.lam[t], run.lam[t + 1], strict=True):
            assert after > before or before == after == 1
        assert run.J[t + 1] > run.J[t] or run.J[t] == 1


@given(models(lo=0.01, max_N=6))
def test_all_positive_strict_improvement_float(model):
    """lam >= 0.01, N <= 6: Lam >= 1e-12, so every change is far above float resolution."""
    M, N, lam = model
    run = iterate_symmetric(lam, M, 6)
    for t in range(6):
        moving = run.err[t] > 0
        assert np.all(run.err[t + 1][moving] < run.err[t][moving])
        assert np.all(run.err[t + 1][~moving] == 0)
        if run.one_minus_J[t] > 0:
            assert run.one_minus_J[t + 1] < run.one_minus_J[t]
            assert run.J[t + 1] >= run.J[t]


@given(st.integers(2, 64), st.integers(1, 4), st.data())
def test_all_positive_converges(M, N, data):
    """lam >= 0.1, N <= 4, a batch of 300 starting points in one call: lam_T -> 1, J -> 1.

    The update is increasing in every lam_k on lam > 0, so each point stays above the corner
    lam = (0.1, ..., 0.1) at every t (checked), and the corner itself converges.
    """
    lam0 = data.draw(lam_batches(M, N, rows=300, lo=0.1))
    T = 200
    run = iterate_symmetric(lam0, M, T)
    corner = iterate_symmetric(np.full(N, 0.1), M, T)
    assert run.lam.shape == (T + 1, 300, N)
    assert np.all(run.err <= corner.err[:, None, :] * (1 + 1e-12))
    assert np.all(corner.err[-1] <= 1e-12)
    assert np.all(run.err[-1] <= 1e-12)
    assert np.all(run.J[-1] >= 1 - 1e-12)
    # robustness goes to its ideal although D_t holds wrong steps on the way
    assert np.all(run.p_all_correct_given_success[-1] >= 1 - 1e-12)
    assert np.all(run.p_step_wrong_given_success[-1] <= 1e-12)
    assert np.all(np.diff(run.J, axis=0) >= 0)


@given(st.integers(2, 16), st.integers(2, 5), st.data())
def test_single_zero_delay(M, N, data):
    k = data.draw(st.integers(0, N - 1))
    lam = data.draw(lam_vectors(M, N, lo=0.05))
    lam[k] = 0.0
    run = iterate_symmetric(lam, M, 8)
    others = np.arange(N) != k
    # t = 1: the zero step moved to Lam_{-k} > 0, the others did not move at all
    assert run.lam[1][k] > 0
    assert abs(run.lam[1][k] - np.prod(lam[others])) <= ATOL
    assert np.array_equal(run.err[1][others], run.err[0][others])
    assert run.J[0] == 1 / M
    # then every step improves strictly (or sits at 1), and so does J
    for t in range(1, 8):
        moving = run.err[t] > 0
        assert np.all(run.err[t + 1][moving] < run.err[t][moving])
        assert np.all(run.err[t + 1][~moving] == 0)
    for t in range(8):
        if run.one_minus_J[t] > 0:
            assert run.one_minus_J[t + 1] < run.one_minus_J[t]
    # the dense engine agrees on the delay
    if M <= 8:
        P1 = star_step(symmetric_matrix(lam, M))
        np.testing.assert_allclose(P1, symmetric_matrix(run.lam[1], M), rtol=0, atol=ATOL)


@given(st.integers(2, 32), st.integers(2, 6), st.data(), TEMPERATURES)
def test_two_zeros_freeze(M, N, data, tau):
    """Two or more zeros: Lam_{-n} = 0 for every n, whatever the other steps (negative ones
    included). At tau = 1 a fixed point; at any tau, J stays 1/M and the zeros stay 0, while
    success no longer depends on any single step, so the refit is the sampling policy itself:
    P_{t+1} = temper(P_t, tau) (the non-zero steps sharpen or flatten, nothing else)."""
    lam = data.draw(lam_vectors(M, N))
    zeros = data.draw(st.lists(st.integers(0, N - 1), min_size=2, max_size=N, unique=True))
    lam[zeros] = 0.0
    run = iterate_symmetric(lam, M, 30, temperature=tau)
    assert np.all(run.J == 1 / M)
    assert np.all(run.lam[:, zeros] == 0)
    if tau == 1.0:
        assert np.all(run.err == run.err[0])
    for t in range(30):
        np.testing.assert_allclose(run.lam[t + 1], temper_lam(run.lam[t], M, tau), rtol=0,
                                   atol=1e-15)
    if M <= 6:
        P = symmetric_matrix(lam, M)
        np.testing.assert_allclose(star_step(P, temperature=tau), temper(P, tau), rtol=0,
                                   atol=ATOL)


def test_negative_step_can_degrade_another():
    """SPEC §3: negative lam's can make other steps degrade (no guarantee)."""
    M = 4
    lam = np.array([-0.3, 0.5, 0.5])
    new = symmetric_star_step(lam, M)
    assert new[1] < lam[1] and new[2] < lam[2]
    exact = iterate_symmetric_exact(["-3/10", "1/2", "1/2"], M, 1).lam[1]
    assert exact[1] < Fraction(1, 2)


# ------------------------------------------------------------------------------ robustness


@given(models(max_M=6, max_N=4), TEMPERATURES)
def test_robustness_matches_dense(model, tau):
    M, _, lam = model
    run = iterate_symmetric(lam, M, 0, temperature=tau)
    rob = robustness(symmetric_matrix(lam, M), temperature=tau)
    assert abs(run.J_sampling[0] - rob.success) <= ATOL
    if rob.success <= 1e-6:
        assume(False)
    tol = cond_tol(temper_lam(lam, M, tau), M)
    assert abs(run.p_all_correct_given_success[0] - rob.p_all_correct_given_success) <= tol
    np.testing.assert_allclose(run.p_step_wrong_given_success[0],
                               rob.p_step_wrong_given_success, rtol=0, atol=tol)


def test_robustness_tends_to_ideal_and_data_hold_wrong_steps():
    run = iterate_symmetric([0.2, 0.2, 0.2], 64, 9)
    # D_0: prod p / J = 0.2125**3 / 0.0235; most kept trajectories hold a wrong step
    assert run.p_all_correct_given_success[0] == pytest.approx(0.2125**3 / 0.0235, rel=1e-12)
    assert run.p_all_correct_given_success[0] < 0.5
    assert run.p_step_wrong_given_success[0].min() > 0.1
    p_all = run.p_all_correct_given_success
    for t in range(9):
        if p_all[t] < 1 - 1e-9:
            assert p_all[t + 1] > p_all[t]
    assert run.p_all_correct_given_success[-1] > 1 - 1e-12
    assert run.p_step_wrong_given_success[-1].max() < 1e-12


# ------------------------------------------------------------------------------ temperature


@given(models(max_M=8), TEMPERATURES)
def test_family_closed_under_tempering(model, tau):
    M, _, lam = model
    np.testing.assert_allclose(temper(symmetric_matrix(lam, M), tau),
                               symmetric_matrix(temper_lam(lam, M, tau), M), rtol=0, atol=ATOL)


#: the float engines carry err = 1 - lam, whose resolution at lam = 0 is one ulp of 1
ERR_RESOLUTION = np.finfo(float).eps


@given(models(), TEMPERATURES)
def test_tempering_keeps_the_sign(model, tau):
    M, _, lam = model
    lam_t = temper_lam(lam, M, tau)
    resolved = np.abs(lam) >= ERR_RESOLUTION
    assert np.array_equal(np.sign(lam_t[resolved]), np.sign(lam[resolved]))
    assert np.all(np.abs(lam_t[~resolved]) <= 2 * ERR_RESOLUTION / min(tau, 1))
    assert np.all((lam_t >= -1 / (M - 1) - 1e-15) & (lam_t <= 1))


@given(exact_models(), st.sampled_from([1, Fraction(1, 2), Fraction(1, 3)]),
       st.integers(0, 80))
def test_tempering_keeps_the_sign_exact(model, tau, shrink):
    M, _, lam = model
    lam = [v / 2**shrink for v in lam]  # down to ~1e-25: signs must survive exactly
    lam_t = [temper_lam(v, M, tau) for v in lam]
    assert [np.sign(float(v)) for v in lam_t] == [np.sign(float(v)) for v in lam]
    assert all(Fraction(-1, M - 1) <= v <= 1 for v in lam_t)


@given(exact_models(max_M=6, max_N=3), st.sampled_from([Fraction(1, 2), Fraction(1, 3)]))
def test_exact_tempered_run_vs_float(model, tau):
    M, _, lam = model
    exact = iterate_symmetric_exact(lam, M, 2, temperature=tau)
    flt = iterate_symmetric(np.array([float(v) for v in lam]), M, 2, temperature=float(tau))
    np.testing.assert_allclose(flt.lam, exact.lam.astype(float), rtol=0, atol=1e-11)
    np.testing.assert_allclose(flt.J_sampling, exact.J_sampling.astype(float), rtol=0,
                               atol=ATOL)


# ----------------------------------------------------------------------------- golden values


def authors_curve(lam0: Fraction, M: int, T: int) -> list[Fraction]:
    """The authors' N = 3 theory script, in Fractions."""
    out = []
    lam = lam0
    for _ in range(T + 1):
        beta = (1 - lam) / M
        alpha = lam + beta
        out.append(alpha**3 + 3 * (M - 1) * alpha * beta**2 + (M - 1) * (M - 2) * beta**3)
        lam = ((M - 2) * lam**3 + lam**2 + lam) / ((M - 1) * lam**3 + 1)
    return out


def test_golden_published_curve_lam_0_2():
    published = [0.023500, 0.130984, 0.869432, 0.999777, 1.000000]
    run = iterate_symmetric([0.2, 0.2, 0.2], 64, 9)
    assert np.round(run.J[:5], 6).tolist() == published
    assert np.all(np.round(run.J[4:], 6) == 1.0)
    dense = iterate_dense(symmetric_matrix([0.2] * 3, 64), 9)
    np.testing.assert_allclose(dense.J, run.J, rtol=0, atol=ATOL)


@pytest.mark.parametrize("lam0", [Fraction(1, 5), Fraction(1, 10)])
def test_golden_authors_formula(lam0):
    T = 9
    ref = authors_curve(lam0, 64, T)
    run = iterate_symmetric([float(lam0)] * 3, 64, T)
    np.testing.assert_allclose(run.J, [float(j) for j in ref], rtol=0, atol=ATOL)
    exact = iterate_symmetric_exact([lam0] * 3, 64, 5)
    assert list(exact.J) == ref[:6]


# -------------------------------------------------------------------------------- numerics


def naive_lam_recurrence(lam, M, T):
    """The lam-form recurrence in floats: 1 - lam' cancels catastrophically near lam = 1."""
    lam = np.array(lam, dtype=float)
    out = [1 - lam]
    for _ in range(T):
        L = np.prod(lam)
        others = np.array([np.prod(np.delete(lam, n)) for n in range(len(lam))])
        lam = (lam + others + (M - 2) * L) / (1 + (M - 1) * L)
        out.append(1 - lam)
    return np.array(out)


def test_err_keeps_relative_precision_near_one():
    M, T = 4, 9
    lam0 = [Fraction(1, 2), Fraction(3, 5), Fraction(7, 10)]
    run = iterate_symmetric([float(v) for v in lam0], M, T)
    exact = iterate_symmetric_exact(lam0, M, T)
    exact_err = [[float(e) for e in row] for row in exact.err]
    assert min(exact_err[-1]) < 1e-200  # deep in the quadratic phase
    assert min(exact_err[-1]) > 0  # but still a normal double
    np.testing.assert_allclose(run.err, exact_err, rtol=1e-10, atol=0)
    rel_J = [float(1 - j) for j in exact.J]
    np.testing.assert_allclose(run.one_minus_J, rel_J, rtol=1e-10, atol=0)
    # the naive lam-form recurrence loses it entirely
    naive = naive_lam_recurrence([float(v) for v in lam0], M, T)
    assert np.all(naive[-1] == 0) or np.max(np.abs(naive[-1] / exact_err[-1] - 1)) > 1


def products_except_one(values, one):
    """``[prod(values[:n] + values[n+1:])]`` in O(N) by prefix and suffix products."""
    prefix = [one]
    for v in values[:-1]:
        prefix.append(prefix[-1] * v)
    out = [one] * len(values)
    suffix = one
    for n in range(len(values) - 1, -1, -1):
        out[n] = prefix[n] * suffix
        suffix *= values[n]
    return out


def mp_reference(lam0, M, T, dps=80):
    """err-form recurrence at ``dps`` digits (cheaper than Fractions for long chains)."""
    with mpmath.workdps(dps):
        err = [1 - mpmath.mpf(Fraction(v).numerator) / Fraction(v).denominator for v in lam0]
        out = [list(err)]
        for _ in range(T):
            lam = [1 - e for e in err]
            others = products_except_one(lam, mpmath.mpf(1))
            L = others[0] * lam[0]
            den = 1 + (M - 1) * L
            err = [e * (1 - o) / den for e, o in zip(err, others, strict=True)]
            out.append(list(err))
        return np.array([[float(e) for e in row] for row in out])


@pytest.mark.parametrize("N", [300, 500])
def test_long_chains_small_lam(N):
    M = 16
    rng = np.random.default_rng(N)
    # small weights everywhere except a few steps near one; some negative
    k = rng.integers(-6, 100, size=N)
    near_one = rng.random(N) < 0.7
    k[near_one] = 100 - rng.integers(0, 3, size=near_one.sum())
    lam0 = [Fraction(int(v), 100) for v in k]
    run = iterate_symmetric(np.array([float(v) for v in lam0]), M, 40)
    assert np.all(np.isfinite(run.lam)) and np.all(np.isfinite(run.J))
    assert np.all(np.isfinite(run.p_all_correct_given_success))
    # one step exactly (the SPEC formula in Fractions, O(N) products)
    others = products_except_one(lam0, Fraction(1))
    L = others[0] * lam0[0]
    exact1 = [(ln + o + (M - 2) * L) / (1 + (M - 1) * L)
              for ln, o in zip(lam0, others, strict=True)]
    np.testing.assert_allclose(run.lam[1], [float(v) for v in exact1], rtol=0, atol=ATOL)
    L1 = prod(exact1)
    assert abs(run.J[1] - float((1 + (M - 1) * L1) / M)) <= ATOL
    ref = mp_reference(lam0, M, 40)
    np.testing.assert_allclose(run.err, ref, rtol=1e-9, atol=0)


def test_long_chain_all_small_no_nan():
    """Lam = 0.01**400 underflows: J = 1/M, no NaN/inf anywhere, tiny steps still move."""
    M, N = 64, 400
    run = iterate_symmetric(np.full(N, 0.01), M, 20)
    for field in (run.lam, run.err, run.J, run.one_minus_J, run.J_sampling,
                  run.p_all_correct_given_success, run.p_step_wrong_given_success):
        assert np.all(np.isfinite(field))
    assert np.all(run.J == 1 / M)
    # Lam_{-n} = 0.01**399 is below the smallest double: nothing can move
    assert np.all(run.err == run.err[0])


def test_million_point_sweep_one_call():
    rng = np.random.default_rng(0)
    lam0 = rng.uniform(-1 / 63, 1, size=(1000, 1000, 2))
    run = iterate_symmetric(lam0, 64, 3)
    assert run.lam.shape == (4, 1000, 1000, 2)
    assert run.J.shape == (4, 1000, 1000)
    assert run.p_step_wrong_given_success.shape == (4, 1000, 1000, 2)
    assert np.all(np.isfinite(run.lam))
    # spot-check a few points against one-at-a-time calls
    for i, j in [(0, 0), (517, 3), (999, 999)]:
        one = iterate_symmetric(lam0[i, j], 64, 3)
        np.testing.assert_array_equal(run.lam[:, i, j], one.lam)


@given(seed_lam=lam_batches(M=6, N=3, rows=64, lo=-0.2), T=st.integers(0, 12),
       tau=st.sampled_from([1.0, 0.5, 2.0]))
def test_sweep_matches_iterate_final_state(seed_lam, T, tau):
    """The chunked history-free sweep evaluates exactly the recurrence of iterate_symmetric."""
    seed_lam[::7, 1:] = 0.0  # frozen and single-zero starts in the mix
    run = iterate_symmetric(seed_lam, 6, T, temperature=tau)
    for chunk in (7, 10_000):
        sweep = sweep_symmetric(seed_lam, 6, T, temperature=tau, chunk=chunk)
        np.testing.assert_array_equal(sweep.lam, run.lam[-1])
        np.testing.assert_array_equal(sweep.J, run.J[-1])
        np.testing.assert_array_equal(sweep.one_minus_J, run.one_minus_J[-1])


def test_sweep_shapes_and_bad_chunk():
    lam0 = np.full((4, 5, 2), 0.3)
    sweep = sweep_symmetric(lam0, 8, 3)
    assert sweep.lam.shape == (4, 5, 2) and sweep.J.shape == (4, 5)
    with pytest.raises(ValueError, match="chunk"):
        sweep_symmetric(lam0, 8, 3, chunk=0)


# ------------------------------------------------------------- the boundary lam = -1/(M-1)
# p = 0 (the correct move never happens). The exact engines are the referee.


def test_boundary_single_step_has_J_zero_exactly():
    """N = 1 at the boundary: no trajectory succeeds, J = 0 and nothing moves (issue 9)."""
    run = iterate_symmetric([-1 / 7], 8, 3)
    exact = iterate_symmetric_exact([Fraction(-1, 7)], 8, 3)
    dense = iterate_dense(symmetric_matrix([Fraction(-1, 7)], 8), 3)
    assert list(exact.J) == [0] * 4 and list(dense.J) == [0] * 4
    assert run.J.tolist() == [0.0] * 4
    assert np.all(run.lam == -1 / 7) and np.all(run.diag_prob == 0)
    assert np.all(np.isnan(run.p_all_correct_given_success))  # no success: undefined
    assert all(v is None for v in exact.p_all_correct_given_success)


@pytest.mark.parametrize("lam", [-1 / 99, np.nextafter(-1 / 99, 0.0), -1 / 99 - 1e-17])
def test_boundary_within_rounding_is_the_boundary(lam):
    """Floats within a few roundings of -1/(M-1) are the endpoint: J = 0, never -6e-17."""
    run = iterate_symmetric([lam], 100, 2)
    assert run.J.tolist() == [0.0, 0.0, 0.0]
    assert np.all(run.diag_prob == 0) and np.all(run.lam >= -1 / 99)


def test_boundary_step_with_others_stays_at_p_zero():
    """(0.9, 0.9, -1/99), M = 100: step 3 keeps p = 0 exactly, robustness is finite while
    J > 0, and every lam is accepted by symmetric_matrix (issue 9 reported -8.5e-8, NaN and a
    rejected matrix)."""
    T, M = 12, 100
    run = iterate_symmetric([0.9, 0.9, -1 / 99], M, T)
    exact = iterate_symmetric_exact(["9/10", "9/10", Fraction(-1, 99)], M, T)
    assert np.all(run.diag_prob[:, 2] == 0) and all(p == 0 for p in exact.diag_prob[:, 2])
    assert np.all(np.isfinite(run.p_all_correct_given_success))
    for t in range(T + 1):
        symmetric_matrix(run.lam[t], M)  # accepts the library's own output
    np.testing.assert_allclose(run.J, exact.J.astype(float), rtol=1e-13, atol=0)
    np.testing.assert_allclose(run.p_all_correct_given_success,
                               exact.p_all_correct_given_success.astype(float), rtol=1e-13,
                               atol=0)
    np.testing.assert_allclose(run.lam, exact.lam.astype(float), rtol=0, atol=1e-14)


def test_boundary_exact_zero_matches_dense_and_exact_when_one_other_step_dies():
    """(1/2, -1/7, 1), M = 8: Lam_{-1} = -1/7, so step 1 reaches p = 0 after one step exactly;
    the float engine gets that zero exactly too (cancellation-free products)."""
    lam = [Fraction(1, 2), Fraction(-1, 7), Fraction(1)]
    exact = iterate_symmetric_exact(lam, 8, 3)
    dense = iterate_dense(symmetric_matrix(lam, 8), 3)
    run = iterate_symmetric([float(v) for v in lam], 8, 3)
    assert exact.diag_prob[1, 0] == 0 and dense.P[1, 0, 0, 0] == 0
    assert run.diag_prob[1, 0] == 0 and run.diag_prob[1, 1] == 0
    assert list(dense.J) == list(exact.J)
    np.testing.assert_allclose(run.J, exact.J.astype(float), rtol=0, atol=1e-16)


@st.composite
def boundary_models(draw):
    """Exact models with some steps exactly at -1/(M-1) or at 1 (the exact-zero cases)."""
    M, N = draw(sizes(max_M=9, max_N=4, min_M=3))
    lam = []
    for _ in range(N):
        kind = draw(st.sampled_from(["boundary", "one", "other"]))
        lam.append(Fraction(-1, M - 1) if kind == "boundary" else Fraction(1) if kind == "one"
                   else draw(exact_lam_values(M)))
    assume(any(v == Fraction(-1, M - 1) for v in lam))
    return M, lam


@given(boundary_models(), st.sampled_from([1, Fraction(1, 2)]))
def test_boundary_float_engine_against_exact(model, tau):
    """With steps on the boundary: J >= 0, exact zeros exactly, lam in range, p = 0 kept,
    robustness finite whenever J_sampling > 0, and the exact numbers to rounding."""
    M, lam = model
    T = 4
    exact = iterate_symmetric_exact(lam, M, T, temperature=tau)
    run = iterate_symmetric(np.array([float(v) for v in lam]), M, T, temperature=float(tau))
    J_exact = exact.J.astype(float)
    assert np.all(run.J >= 0) and np.all(run.J_sampling >= 0)
    assert np.array_equal(run.J == 0, exact.J == 0)
    assert np.array_equal(run.diag_prob == 0, exact.diag_prob == 0)
    assert np.all(run.lam >= -1 / (M - 1)) and np.all(run.lam <= 1)
    assert np.all(run.diag_prob >= 0) and np.all(run.diag_prob <= 1)
    succeeded = exact.J_sampling > 0
    assert np.all(np.isfinite(run.p_all_correct_given_success[succeeded]))
    assert np.all(np.isnan(run.p_all_correct_given_success[~succeeded]))
    for t in range(T + 1):
        symmetric_matrix(run.lam[t], M)
    # conditioning: quantities divided by M J_s (see the module doc)
    tol = 1e-12 / max(min(float(v) for v in exact.J_sampling[succeeded] * M), 1e-3) \
        if succeeded.any() else 1e-12
    np.testing.assert_allclose(run.J, J_exact, rtol=0, atol=tol)
    np.testing.assert_allclose(run.lam, exact.lam.astype(float), rtol=0, atol=100 * tol)


def test_equal_steps_stay_equal_in_long_runs():
    """(0.3, 0.3, -1/7), M = 8, 500 iterations: the two equal steps must stay equal (their
    difference is unstable, x 8/7 per iteration); exactly J_500 rounds to 1/8."""
    run = iterate_symmetric([0.3, 0.3, -1 / 7], 8, 500)
    exact = iterate_symmetric_exact(["3/10", "3/10", Fraction(-1, 7)], 8, 500)
    assert np.array_equal(run.lam[:, 0], run.lam[:, 1])
    assert run.J[-1] == float(exact.J[-1]) == 0.125
    np.testing.assert_allclose(run.J, exact.J.astype(float), rtol=1e-14, atol=0)
    # the surviving weight decays like (6/7)^t: carried as lam, it keeps relative precision
    np.testing.assert_allclose(run.lam[:, 0], exact.lam[:, 0].astype(float), rtol=1e-12, atol=0)


@given(st.integers(3, 16), st.integers(2, 40), st.data())
def test_equal_steps_are_bitwise_equal(M, N, data):
    """Steps equal at t = 0 stay bit-for-bit equal (exact arithmetic: the update is symmetric);
    N up to 40 covers both ways of finding equal steps."""
    values = data.draw(st.lists(lam_values(M), min_size=1, max_size=3))
    pick = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=N, max_size=N))
    lam = np.array([values[i] for i in pick])
    run = iterate_symmetric(lam, M, 6, temperature=data.draw(TEMPERATURES))
    for i in range(N):
        for j in range(i):
            if lam[i] == lam[j]:
                assert np.array_equal(run.lam[:, i], run.lam[:, j])
                assert np.array_equal(run.err[:, i], run.err[:, j])


# ------------------------------------------------------------------ small lam keeps precision


@pytest.mark.parametrize("lam0", [1e-12, -1e-12, 1e-300, 3e-8])
def test_small_lam_keeps_relative_precision(lam0):
    """lam = 1e-12 is carried as lam, not as 1 - lam (issue 9: relative error 2e-5)."""
    M = 8
    run = iterate_symmetric([lam0, lam0], M, 3)
    exact = iterate_symmetric_exact([Fraction(lam0)] * 2, M, 3)
    assert run.lam[0, 0] == lam0
    np.testing.assert_allclose(run.lam, exact.lam.astype(float), rtol=1e-14, atol=0)
    np.testing.assert_allclose(run.one_minus_J, exact.one_minus_J.astype(float), rtol=1e-14)
    np.testing.assert_allclose(run.delta_diag, exact.delta_diag.astype(float), rtol=1e-14)


def test_near_boundary_keeps_relative_precision_of_p():
    """p ~ 1e-12 above the boundary: the correct-move probability keeps relative precision,
    against the exact engine from the same (float) input."""
    M = 8
    lam0 = float(Fraction(-1, 7) + Fraction(8, 7) * Fraction(10**-12))  # p ~ 1e-12
    run = iterate_symmetric([lam0, 0.5], M, 3)
    exact = iterate_symmetric_exact([Fraction(lam0), Fraction(1, 2)], M, 3)
    assert 0.9e-12 < exact.diag_prob[0, 0] < 1.1e-12
    np.testing.assert_allclose(run.diag_prob, exact.diag_prob.astype(float), rtol=1e-14, atol=0)
    one = iterate_symmetric([lam0], M, 1)  # N = 1: J = p
    assert one.J[0] == pytest.approx(float(exact.diag_prob[0, 0]), rel=1e-15, abs=0)


# ----------------------------------------------------------- rows with no data, memory, size


def test_no_success_keeps_untempered_weights():
    """J_sampling = 0 (a boundary step, the others at 1): nothing is refitted at any tau, the
    weights are the untempered ones, as in the dense engine."""
    lam = [Fraction(-1, 7), Fraction(1)]
    for tau in (1, Fraction(1, 2)):
        exact = iterate_symmetric_exact(lam, 8, 2, temperature=tau)
        dense = iterate_dense(symmetric_matrix(lam, 8), 2, temperature=tau)
        run = iterate_symmetric([-1 / 7, 1.0], 8, 2, temperature=float(tau))
        assert all(list(row) == lam for row in exact.lam)
        assert all((dense.P[t] == dense.P[0]).all() for t in range(3))
        assert np.all(run.lam == [-1 / 7, 1.0]) and np.all(run.J_sampling == 0)


def test_history_that_cannot_fit_is_refused_before_allocating():
    with pytest.raises(ValueError, match="iterations"):
        iterate_symmetric([0.2, 0.2, 0.2], 64, 10**10)


# --------------------------------------------------------------------- exact-mode inputs


def test_exact_inputs_floats_through_decimal_repr():
    """0.1 means 1/10 (through repr), strings are exact, Fractions stay as given."""
    by_float = iterate_symmetric_exact([0.1] * 3, 8, 1)
    assert list(by_float.lam[0]) == [Fraction(1, 10)] * 3
    assert list(iterate_symmetric_exact(["0.1"] * 3, 8, 1).J) == list(by_float.J)
    assert list(iterate_symmetric_exact(np.array([0.1, 0.25]), 8, 0).lam[0]) == \
        [Fraction(1, 10), Fraction(1, 4)]
    assert iterate_symmetric_exact([Fraction(0.1)], 8, 0).lam[0, 0] == Fraction(0.1) \
        != Fraction(1, 10)
    assert iterate_symmetric_exact([0.2], 8, 0, temperature=0.5).temperature == 0.5
    with pytest.raises(ValueError, match="lam0"):
        iterate_symmetric_exact([float("nan")], 8, 1)


def test_exact_size_estimate_and_refusal():
    from rlstar_theory.symmetric import estimate_exact_digits

    lam0 = ["1/3", "0", "1/2"]
    est = estimate_exact_digits(lam0, 8, 6)
    run = iterate_symmetric_exact(lam0, 8, 7)
    actual = [max(len(str(v.numerator)), len(str(v.denominator))) for v in run.lam[7]]
    assert est.digits == pytest.approx(max(actual), rel=0.05)  # lam_7 is measured here
    long = estimate_exact_digits(lam0, 8, 40)
    assert long.growth == pytest.approx(3, rel=0.01)  # N = 3 steps: digits x 3 per iteration
    assert long.digits > 1e18
    assert 0 <= long.max_iterations(1e5) < 40
    assert long.digits_at(long.max_iterations(1e5) + 1) <= 1e5
    with pytest.raises(ValueError, match=r"iterations: .*max_digits") as info:
        iterate_symmetric_exact(lam0, 8, 40, max_digits=1e5)
    assert f"at most {long.max_iterations(1e5)} iterations" in str(info.value)
    hot = estimate_exact_digits(["1/5"] * 3, 64, 10, temperature="1/2")
    assert hot.growth == pytest.approx(6, rel=0.1)  # N / tau
    frozen = estimate_exact_digits(["1/2", "0", "0"], 8, 10**6)
    assert frozen.digits < 2  # nothing changes, nothing grows (and the probe stops at once)
    # equal steps and a boundary step: a Moebius map, digits grow linearly, not geometrically
    slow = ["3/10", "3/10", Fraction(-1, 7)]
    linear = estimate_exact_digits(slow, 8, 200)
    run = iterate_symmetric_exact(slow, 8, 201)
    actual = max(len(str(v.denominator)) for v in run.lam[201])
    assert linear.digits == pytest.approx(actual, rel=0.1)
    assert "digits are added per iteration" in linear.describe()


def test_exact_progress_bar_on_request(capsys):
    iterate_symmetric_exact(["1/3", "1/2"], 8, 3, progress=True)
    iterate_symmetric([0.3, 0.5], 8, 3, progress=True)
    err = capsys.readouterr().err
    assert "iterate_symmetric_exact" in err and "iterate_symmetric:" in err
