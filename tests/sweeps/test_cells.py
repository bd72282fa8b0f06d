"""The ready-made cells: closed-form J against the paper's curve, the stall cell against exact
probabilities and the two samplers against each other (z-tolerances from the sample size)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlstar_theory.sweeps import CELLS, get_cell, run_sweep
from rlstar_theory.sweeps.cells import star_stall, symmetric_J

GOLDEN_J_LAMBDA_02 = [0.023500, 0.130984, 0.869432, 0.999777, 1.000000]  # SPEC §3, M=64, N=3
Z = 4.0  # tolerance in standard errors (fixed seeds; a false alarm has probability ~6e-5)


def test_registry():
    assert {"symmetric_J", "star_stall"} <= set(CELLS)
    with pytest.raises(ValueError, match="cell must be one of"):
        get_cell("nope")
    cell = get_cell("star_stall")
    cell.check_params(["M", "N", "lam0", "K", "iterations", "sampler"])
    with pytest.raises(ValueError, match=r"needs parameter\(s\) \['K'\]"):
        cell.check_params(["M", "N", "lam0", "iterations"])


def test_symmetric_J_reproduces_the_paper_curve():
    out = symmetric_J(np.random.default_rng(0), M=64, N=3, lam0=0.2, iterations=9)
    np.testing.assert_allclose(out["J"][:5], GOLDEN_J_LAMBDA_02, atol=5e-7)
    np.testing.assert_allclose(out["one_minus_J"], 1 - out["J"], atol=1e-15)
    assert out["lam"][0] == pytest.approx(0.2, abs=1e-15) and np.all(np.diff(out["lam"]) >= 0)


def test_stall_cell_at_the_ends_of_the_range():
    M = 5
    # lam0 = -1/(M-1): the correct move has probability 0 already in P_0
    low = star_stall(np.random.default_rng(1), M=M, N=2, lam0=-1 / (M - 1), K=8, iterations=3)
    assert low["stalled"] and low["lost_gold"] and low["stall_iteration"] == 0
    # lam0 = 1: the ground truth is a fixed point; J = 1 throughout, nothing stalls
    top = star_stall(np.random.default_rng(1), M=M, N=2, lam0=1.0, K=1, iterations=3)
    assert not top["stalled"] and top["stall_iteration"] == -1
    np.testing.assert_array_equal(top["J"], np.ones(4))
    # J_0 is the closed form (1 + (M-1) lam^N) / M
    mid = star_stall(np.random.default_rng(1), M=M, N=3, lam0=0.4, K=4, iterations=2)
    assert mid["J"][0] == pytest.approx((1 + (M - 1) * 0.4**3) / M, abs=1e-15)
    assert mid["J"].shape == (3,) and mid["stall_iteration"].dtype == np.int64


@pytest.mark.parametrize("sampler", ["counts", "trajectories"])
def test_first_iteration_question_without_success_has_the_exact_probability(sampler):
    # every question succeeds with p = J_0 = (1 + (M-1) lam0^N) / M, independently, so
    # Pr(some question has none of its K samples right) = 1 - (1 - (1 - p)^K)^M
    M, N, lam0, K, n = 4, 3, 0.2, 4, 400
    p = (1 + (M - 1) * lam0**N) / M
    expected = 1 - (1 - (1 - p) ** K) ** M
    ds = run_sweep("star_stall", {"seed": list(range(n))}, workers=1, progress=False,
                   root_seed=11, fixed={"M": M, "N": N, "lam0": lam0, "K": K, "iterations": 1,
                                        "sampler": sampler})
    flag = ds["question_without_success"].values
    assert abs(flag.mean() - expected) < Z * math.sqrt(expected * (1 - expected) / n)
    # the first event is at t = 1 exactly when that happened or a gold transition was lost
    np.testing.assert_array_equal(ds["stall_iteration"].values == 1, ds["stalled"].values)


def test_count_and_trajectory_samplers_stall_alike():
    # two-sample z-test on the stall probability (p near 0.7 here) and on the mean final J
    n = 300
    ds = run_sweep("star_stall", {"sampler": ["counts", "trajectories"], "seed": list(range(n))},
                   workers=1, progress=False, root_seed=5,
                   fixed={"M": 4, "N": 3, "lam0": 0.3, "K": 16, "iterations": 4})
    a, b = ds["stalled"].values.astype(float)
    p = (a.mean() + b.mean()) / 2
    assert 0.2 < p < 0.95  # a point where the test has power
    assert abs(a.mean() - b.mean()) < Z * math.sqrt(2 * p * (1 - p) / n)
    ja, jb = ds["J"].isel(iteration=-1).values
    se = math.sqrt((ja.var(ddof=1) + jb.var(ddof=1)) / n)
    assert abs(ja.mean() - jb.mean()) < Z * se


@pytest.mark.parametrize(("params", "match"), [
    ({"K": 0}, "K"),
    ({"M": 1}, "M must be"),
    ({"sampler": "paths"}, "sampler must be one of"),
    ({"lam0": 1.5}, "lam"),
])
def test_stall_cell_bad_parameters(params, match):
    args = {"M": 4, "N": 2, "lam0": 0.2, "K": 2, "iterations": 1} | params
    with pytest.raises(ValueError, match=match):
        star_stall(np.random.default_rng(0), **args)
