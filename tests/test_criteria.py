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
