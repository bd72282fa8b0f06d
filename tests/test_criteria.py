"""classify_start and iterations_to_reach against the theory and a direct loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlstar_theory import (
    StartClass,
    classify_start,
    iterate_symmetric,
    iterations_to_reach,
)
from tests.strategies import lam_batches, lam_vectors, sizes


@pytest.mark.parametrize(
    ("lam", "kind", "converges", "zeros", "negatives"),
    [
        ([0.2, 0.2, 0.2], StartClass.ALL_POSITIVE, True, (), ()),
        ([1.0], StartClass.ALL_POSITIVE, True, (), ()),
        ([0.3, 0.0, 0.5], StartClass.ONE_ZERO, True, (2,), ()),
        ([0.0], StartClass.ONE_ZERO, True, (1,), ()),
        ([0.0, 0.0, 0.5], StartClass.FROZEN, False, (1, 2), ()),
        ([0.0, -0.01, 0.0], StartClass.FROZEN, False, (1, 3), (2,)),
        ([0.5, -0.01, 0.5], StartClass.HAS_NEGATIVE, None, (), (2,)),
        ([0.0, -0.01, 0.5], StartClass.HAS_NEGATIVE, None, (1,), (2,)),
    ],
)
def test_classify_start_cases(lam, kind, converges, zeros, negatives):
    pred = classify_start(lam, 8)
    assert pred.kind is kind
    assert pred.converges is converges
    assert pred.zero_steps == zeros
    assert pred.negative_steps == negatives
    assert isinstance(pred.prediction, str) and pred.prediction
    assert StartClass(kind.value) is kind  # the enum round-trips through its string


@given(sizes(max_M=16, max_N=5), st.data())
def test_classification_agrees_with_simulation(size, data):
    M, N = size
    lam = data.draw(lam_vectors(M, N, lo=0.2) if data.draw(st.booleans())
                    else lam_vectors(M, N))
    pred = classify_start(lam, M)
    run = iterate_symmetric(lam, M, 100)
    # the slowest corner of the tested box (the update is increasing in every lam on lam > 0)
    assert iterate_symmetric(np.full(5, 0.2), 2, 100).one_minus_J[-1] <= 1e-9
    if pred.kind is StartClass.FROZEN:
        assert np.all(run.J == 1 / M)
    elif pred.kind is StartClass.ALL_POSITIVE and min(lam) >= 0.2 and N <= 5:
        assert run.one_minus_J[-1] <= 1e-9
    if pred.converges:
        assert np.all(np.diff(run.J) >= 0)


def direct_loop(lam0, M, epsilon, max_iterations, tau=1.0):
    """First t with 1 - J_t <= epsilon, row by row from one full run of the batch."""
    run = iterate_symmetric(lam0, M, max_iterations, temperature=tau)
    out = []
    for row in range(lam0.shape[0]):
        hits = np.flatnonzero(run.one_minus_J[:, row] <= epsilon)
        out.append(int(hits[0]) if len(hits) else -1)
    return out


@given(st.integers(2, 64), st.integers(1, 4), st.data(),
       st.sampled_from([0.5, 0.1, 1e-3, 1e-9]), st.sampled_from([1.0, 0.5, 2.0]))
def test_iterations_to_reach_matches_direct_loop(M, N, data, epsilon, tau):
    lam0 = data.draw(lam_batches(M, N, rows=20, lo=-1 / (M - 1)))
    lam0[:3] = np.abs(lam0[:3])  # a few all-non-negative rows
    if N >= 2:
        lam0[3, :2] = 0.0  # a frozen row
    eps = min(epsilon, (1 - 1 / M) / 2)
    got = iterations_to_reach(lam0, M, epsilon=eps, max_iterations=60, temperature=tau)
    assert got.shape == (20,)
    expected = direct_loop(lam0, M, eps, 60, tau)
    assert got.tolist() == expected
    if N >= 2:
        assert got[3] == -1


def test_iterations_to_reach_known_values():
    # the published curve (M = 64, lam0 = 0.2, N = 3): 1 - J = 0.130566 at t = 2, 2.2e-4 at 3
    assert iterations_to_reach([0.2, 0.2, 0.2], 64, epsilon=0.2) == 2
    assert iterations_to_reach([0.2, 0.2, 0.2], 64, epsilon=1e-3) == 3
    assert iterations_to_reach([1.0, 1.0], 8, epsilon=1e-12) == 0
    assert iterations_to_reach([0.0, 0.0, 0.9], 8, epsilon=0.5) == -1
    assert iterations_to_reach([0.2] * 3, 64, epsilon=1e-3, max_iterations=2) == -1
    grid = iterations_to_reach(np.full((4, 5, 3), 0.2), 64, epsilon=1e-3)
    assert grid.shape == (4, 5) and np.all(grid == 3)


@pytest.mark.parametrize("epsilon", [0.0, -0.1, 7 / 8, 1.0, float("nan")])
def test_iterations_to_reach_rejects_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        iterations_to_reach([0.2, 0.2], 8, epsilon=epsilon)


@pytest.mark.parametrize("max_iterations", [-1, 2.5, True])
def test_iterations_to_reach_rejects_bad_max_iterations(max_iterations):
    with pytest.raises(ValueError, match="max_iterations"):
        iterations_to_reach([0.2, 0.2], 8, max_iterations=max_iterations)


def test_classify_start_rejects_batches():
    with pytest.raises(ValueError, match="lam0"):
        classify_start(np.full((2, 3), 0.2), 8)


def test_frozen_start_is_never_reached_at_any_temperature():
    # two zero steps: J = 1/M forever; the nonzero step is re-tempered but J cannot move
    for tau in (0.5, 1.0, 2.0):
        got = iterations_to_reach([[0.3, 0.0, 0.0], [0.3, 0.2, 0.1]], 8, temperature=tau,
                                  max_iterations=200)
        assert got[0] == -1
    run = iterate_symmetric([0.3, 0.0, 0.0], 8, 6, temperature=0.5)
    np.testing.assert_array_equal(run.J, np.full(7, 1 / 8))
    assert np.all(run.lam[:, 1:] == 0)


def test_high_temperature_can_undo_the_all_positive_guarantee():
    """The criteria hold at tau <= 1; at tau > 1 a positive start can decay."""
    hot = iterate_symmetric([0.3, 0.2, 0.25], 8, 5, temperature=3.0)
    assert np.all(np.diff(hot.lam[:, 0]) < 0)
    cool = iterate_symmetric([0.3, 0.2, 0.25], 8, 5, temperature=0.7)
    assert np.all(np.diff(cool.lam[:, 0]) >= 0) and cool.lam[-1, 0] > 0.999


# ------------------------------------------------------------ what holds at which temperature

COLD = st.sampled_from([0.25, 0.5, 0.75, 0.9, 1.0])


@given(sizes(max_M=16, max_N=4), st.data(), COLD)
def test_all_positive_guarantees_hold_for_tau_at_most_one(size, data, tau):
    """tau <= 1: every lam increases strictly (until 1), J strictly, and the run stays above
    the tau = 1 run (the argument in the criteria module), which converges."""
    M, N = size
    lam = data.draw(lam_vectors(M, N, lo=0.05))
    pred = classify_start(lam, M, temperature=tau)
    assert pred.kind is StartClass.ALL_POSITIVE and pred.converges is True
    assert "increases strictly" in pred.prediction
    run = iterate_symmetric(lam, M, 60, temperature=tau)
    base = iterate_symmetric(lam, M, 60)
    for t in range(60):
        moving = run.err[t] > 0
        assert np.all(run.err[t + 1][moving] < run.err[t][moving])
        if run.one_minus_J[t] > 0:
            assert run.one_minus_J[t + 1] < run.one_minus_J[t]
    assert np.all(run.err <= base.err * (1 + 1e-12))
    assert run.one_minus_J[-1] <= 1e-9


@pytest.mark.parametrize("tau", [0.5, 0.75])
def test_one_zero_at_tau_below_one_others_sharpen_then_all_converge(tau):
    run = iterate_symmetric([0.3, 0.0, 0.5], 8, 40, temperature=tau)
    assert run.lam[1, 1] > 0
    assert run.lam[1, 0] > 0.3 and run.lam[1, 2] > 0.5  # sharpened, not waiting
    assert np.all(np.diff(run.J) > 0) or run.one_minus_J[-1] == 0
    assert run.one_minus_J[-1] <= 1e-12
    pred = classify_start([0.3, 0.0, 0.5], 8, temperature=tau)
    assert pred.kind is StartClass.ONE_ZERO and pred.converges is True


@pytest.mark.parametrize("tau", [1.25, 1.5, 2.0, 3.0])
def test_above_one_nothing_is_promised_and_the_prediction_says_so(tau):
    pred = classify_start([0.8, 0.8, 0.8], 64, temperature=tau)
    assert pred.converges is None and pred.temperature == tau
    assert "no guarantee" in pred.prediction and "increases strictly" not in pred.prediction
    frozen = classify_start([0.8, 0.0, 0.0], 64, temperature=tau)
    assert frozen.converges is False and "J stays 1/M" in frozen.prediction


def test_high_temperature_examples_against_the_dense_engine():
    """The numbers quoted in the criteria docs: tau = 1.5, M = 64, lam0 = 0.8 converges for
    N = 3 and falls to J = 1/M for N = 4 (dense engine as referee); tau = 2 loses N = 3."""
    from rlstar_theory import iterate_dense, symmetric_matrix

    for N, J_end in ((3, 1.0), (4, 1 / 64)):
        run = iterate_symmetric([0.8] * N, 64, 40, temperature=1.5)
        dense = iterate_dense(symmetric_matrix([0.8] * N, 64), 40, temperature=1.5)
        np.testing.assert_allclose(dense.J, run.J, rtol=0, atol=1e-12)
        assert run.J[-1] == pytest.approx(J_end, abs=1e-9)
    assert iterations_to_reach([0.8] * 3, 64, 0.01, 300, temperature=2.0) == -1


@pytest.mark.parametrize(("tau", "attracts"), [(1.25, True), (1.5, True), (1.75, True),
                                               (2.5, False), (3.0, False)])
def test_local_rate_near_the_optimum(tau, attracts):
    """err' ~ (N-1) M^(1 - 2/tau) err^(2/tau) near lam = 1 (documented in criteria)."""
    M, N, err0 = 8, 3, 1e-8
    run = iterate_symmetric([1 - err0] * N, M, 1, temperature=tau)
    predicted = (N - 1) * M ** (1 - 2 / tau) * err0 ** (2 / tau)
    assert run.err[1, 0] == pytest.approx(predicted, rel=1e-2)
    far = iterate_symmetric([1 - err0] * N, M, 40, temperature=tau)
    assert bool(far.one_minus_J[-1] < 1e-12) is attracts


def test_classify_start_exact_input_keeps_tiny_signs():
    from fractions import Fraction

    tiny = Fraction(1, 10**400)  # 0.0 as a float
    assert classify_start([tiny, Fraction(1, 2)], 8).kind is StartClass.ALL_POSITIVE
    assert classify_start([-tiny, Fraction(1, 2)], 8).kind is StartClass.HAS_NEGATIVE
    assert classify_start(["1/3", "0", "0"], 8).kind is StartClass.FROZEN
    assert classify_start([1e-320, 0.5], 8).kind is StartClass.ALL_POSITIVE


def test_iterations_to_reach_stops_at_float_fixed_points_fast():
    """Lam_{-n} = 0.2^299 moves nothing in float64: a fixed point, found at once."""
    got = iterations_to_reach(np.full(300, 0.2), 64, 0.01, 10**6)
    assert got == -1
