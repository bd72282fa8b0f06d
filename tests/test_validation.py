"""Every bad input raises ValueError whose message names the offending argument."""

from __future__ import annotations

import time
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
    sample_trajectories,
    star_step,
    symmetric_matrix,
    symmetric_star_step,
    temper,
    temper_lam,
    validation,
)
from rlstar_theory.validation import (
    check_int,
    check_memory,
    check_rng,
    check_transition,
    row_sum_tolerance,
)

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


# ---- one owner per check: integers, rng, memory (issue 9) ---------------------------------


@pytest.mark.parametrize("value", [2.0, "3", True, None, 1.5, np.float64(3)])
def test_check_int_rejects_non_integers_naming_the_argument(value):
    with raises_naming(r"chunk_size must be an integer >= 1 \(rows per chunk\)"):
        check_int(value, "chunk_size", 1, what="rows per chunk")


def test_check_int_range_and_numpy_integers():
    assert check_int(np.int32(5), "k", 0) == 5 and type(check_int(np.int64(5), "k", 0)) is int
    assert check_int(4, "k", 1, 4) == 4
    with raises_naming(r"k must be an integer in 1\.\.4, got 5"):
        check_int(5, "k", 1, 4)
    with raises_naming(r"k must be an integer >= 0, got -1"):
        check_int(-1, "k", 0)


def test_lam_that_is_not_a_number_names_lam_and_its_range():
    """Issue 9: lam=['abc'] said only "could not convert string to float"."""
    with raises_naming(r"lam0 must be numbers in \[-1/\(M-1\), 1\] = \[-0\.333333, 1\]"):
        iterate_symmetric(["abc"], 4, 1)
    with raises_naming(r"lam must be numbers in \[-1/\(M-1\), 1\]"):
        symmetric_matrix([[0.2, object()]], 4)


@pytest.mark.parametrize("rng", ["abc", 1.5, -1, True, [1, 2], np.random.RandomState(0)])
def test_bad_rng_names_rng_and_what_is_allowed(rng):
    allowed = "rng must be None, a non-negative integer seed or a numpy.random.Generator"
    with raises_naming(allowed):
        check_rng(rng)
    with raises_naming(allowed):
        finite_sample_star_step(U3, 4, rng=rng)
    with raises_naming(allowed):
        iterate_finite_sample(U3, 1, 4, rng=rng)
    with raises_naming(allowed):
        sample_trajectories(U3, 4, rng=rng)


def test_good_rng_values():
    gen = np.random.default_rng(5)
    assert check_rng(gen) is gen  # one generator can drive several calls
    assert check_rng(np.int64(7)).random() == np.random.default_rng(7).random()
    assert isinstance(check_rng(None), np.random.Generator)


def test_check_memory_names_the_size_and_the_argument_to_reduce():
    with raises_naming(r"the thing would need 2\.0 GiB, more than the memory budget of "
                       r"1\.0 GiB \(the given limit\); reduce iterations"):
        check_memory(2 * 2**30, "the thing", "iterations", limit=2**30)
    check_memory(2**30, "the thing", "iterations", limit=2**30)  # exactly fits


def test_default_memory_budget_is_half_the_available_memory(monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 8 * 2**30)
    assert validation.memory_budget() == 4 * 2**30
    with raises_naming(r"4\.0 GiB \(50% of the memory available now\); reduce K"):
        check_memory(5 * 2**30, "x", "K")
    check_memory(3 * 2**30, "x", "K")
    monkeypatch.setattr(validation, "available_memory", lambda: None)  # unknown: no limit
    check_memory(2**60, "x", "K")


def test_available_memory_is_positive_where_the_system_reports_it():
    avail = validation.available_memory()
    assert avail is None or avail > 0


def test_iterate_dense_refuses_what_cannot_fit_before_starting():
    """Issue 9: iterate_dense(P, 10**7) hung; at M = 64, N = 3 it would store ~900 GiB."""
    P = np.full((3, 64, 64), 1 / 64)
    start = time.perf_counter()
    with raises_naming(r"iterate_dense: storing the 10,000,001 policies .* GiB.*reduce "
                       r"iterations"):
        iterate_dense(P, 10**7)
    assert time.perf_counter() - start < 1.0  # refused before any iteration ran


def test_iterate_dense_memory_estimate_is_what_it_stores(monkeypatch):
    """The refusal threshold is the stored size, (T+1)(N M^2 + 2N + 3) 8-byte numbers: one
    byte less of budget is refused, exactly that much runs and stores exactly that."""
    N, M, T = 3, 64, 699
    need = (T + 1) * (N * M * M + 2 * N + 3) * 8  # 69 MB: above the 64 MiB always allowed
    P = np.full((N, M, M), 1 / M)
    monkeypatch.setattr(validation, "memory_budget", lambda: need - 1)
    with raises_naming("reduce iterations"):
        iterate_dense(P, T)
    monkeypatch.setattr(validation, "memory_budget", lambda: need)
    run = iterate_dense(P, T)
    stored = sum(a.nbytes for a in (run.P, run.J, run.J_sampling, run.delta_diag,
                                    run.p_all_correct_given_success,
                                    run.p_step_wrong_given_success))
    assert stored == need


def test_iterate_dense_progress_bar_is_optional(capfd):
    pytest.importorskip("tqdm")
    P = np.full((2, 3, 3), 1 / 3)
    P[:, :, 0] += 0.1
    P[:, :, 1] -= 0.1
    quiet = iterate_dense(P, 4)
    assert capfd.readouterr().err == ""
    shown = iterate_dense(P, 4, progress=True)
    assert "iterate_dense" in capfd.readouterr().err
    assert np.array_equal(quiet.P, shown.P) and np.array_equal(quiet.J, shown.J)
