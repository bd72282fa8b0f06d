"""The batched stall simulator (Q3) against exact probabilities on tiny chains and against the
``star_stall`` sweep cell, with z-tolerances from the number of runs (fixed seeds)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory.open_questions.stalls import (
    STALL_CELL,
    run_stall_sweep,
    simulate_star_runs,
    stall_cell,
)
from rlstar_theory.sweeps.cells import star_stall

Z = 4.5  # tolerance in standard errors (a false alarm has probability ~7e-6 per check)


def _close(p_hat: float, p: float, n: int) -> bool:
    return abs(p_hat - p) <= Z * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


def _two_state_two_step_probabilities(lam: Fraction, K: int) -> dict[str, Fraction]:
    """Exact first-iteration event probabilities for M = 2, N = 2 from P(lam).

    Question s succeeds along the gold path (s, s, s) with probability x^2 or along the detour
    (s, 1-s, s) with probability (1-x)^2, x = (1 + lam)/2; otherwise it fails. Row (step 1, s)
    only sees question s: it loses gold iff question s has detours but no gold success. Row
    (step 2, s) sees the gold successes of question s (s -> s) and the detours of question 1-s
    (s -> 1-s): it loses gold iff question s has no gold success and question 1-s a detour.
    """
    x = (1 + lam) / 2
    gold, detour = x * x, (1 - x) ** 2
    fail = 1 - gold - detour
    # per question: (g >= 1?, d >= 1?) with its probability
    p_none = fail**K
    p_g0 = (1 - gold) ** K  # no gold success
    p_d0 = (1 - detour) ** K  # no detour
    law = {(False, False): p_none, (False, True): p_g0 - p_none,
           (True, False): p_d0 - p_none, (True, True): 1 - p_g0 - p_d0 + p_none}
    out = {"stalled": Fraction(0), "lost_gold": Fraction(0),
           "question_without_success": Fraction(0)}
    for (g0, d0), (g1, d1) in itertools.product(law, repeat=2):
        p = law[(g0, d0)] * law[(g1, d1)]
        lost = (not g0 and (d0 or d1)) or (not g1 and (d1 or d0))
        without = (not g0 and not d0) or (not g1 and not d1)
        out["lost_gold"] += p * lost
        out["question_without_success"] += p * without
        out["stalled"] += p * (lost or without)
    return out


def test_first_iteration_events_have_their_exact_probabilities_on_a_two_state_chain():
    lam, K, R = Fraction(1, 5), 3, 20_000
    exact = _two_state_two_step_probabilities(lam, K)
    runs = simulate_star_runs(2, 2, float(lam), K, 1, R, rng=2024)
    for name, p in exact.items():
        assert _close(getattr(runs, name).mean(), float(p), R), (name, p)
    # the three events are not degenerate here, so the check can fail
    assert 0.05 < float(exact["lost_gold"]) < 0.95


def test_question_without_success_has_the_closed_form_probability():
    # from P(lam0) every question succeeds with p = J_0 independently of the others
    M, N, lam0, K, R = 4, 3, 0.2, 4, 20_000
    p = (1 + (M - 1) * lam0**N) / M
    runs = simulate_star_runs(M, N, lam0, K, 1, R, rng=7)
    assert _close(runs.question_without_success.mean(), 1 - (1 - (1 - p) ** K) ** M, R)
    assert runs.J[:, 0] == pytest.approx(p, abs=1e-15)


def test_one_step_chains_never_lose_gold():
    # N = 1: a successful trajectory is the gold transition itself
    runs = simulate_star_runs(5, 1, 0.1, 2, 4, 2000, rng=3)
    assert not runs.lost_gold.any()
    assert runs.question_without_success.any()


def test_agrees_with_the_star_stall_cell_over_several_iterations():
    M, N, lam0, K, T = 3, 2, 0.3, 4, 3
    seeds = 300
    ref = [star_stall(np.random.default_rng(s), M=M, N=N, lam0=lam0, K=K, iterations=T,
                      sampler="trajectories") for s in range(seeds)]
    runs = simulate_star_runs(M, N, lam0, K, T, 6000, rng=11)
    for name in ("stalled", "lost_gold", "question_without_success"):
        a = np.mean([r[name] for r in ref])
        b = getattr(runs, name).mean()
        se = math.sqrt(a * (1 - a) / seeds + b * (1 - b) / runs.replicates) + 1e-9
        assert abs(a - b) <= Z * se, (name, a, b)
    J_ref = np.array([r["J"][-1] for r in ref])
    se = math.sqrt(J_ref.var(ddof=1) / seeds + runs.J[:, -1].var(ddof=1) / runs.replicates)
    assert abs(J_ref.mean() - runs.J[:, -1].mean()) <= Z * se
    stall_ref = np.bincount(np.array([r["stall_iteration"] for r in ref]) + 1, minlength=T + 2)
    stall_new = np.bincount(runs.stall_iteration + 1, minlength=T + 2)
    for k in range(T + 2):
        a, b = stall_ref[k] / seeds, stall_new[k] / runs.replicates
        assert abs(a - b) <= Z * math.sqrt(a * (1 - a) / seeds + b * (1 - b) / 6000) + 1e-9


def test_ends_of_the_range_and_hits():
    top = simulate_star_runs(4, 3, 1.0, 1, 3, 5, rng=0)  # the ground truth: a fixed point
    assert not top.stalled.any() and (top.hit_iteration == 0).all()
    np.testing.assert_array_equal(top.J, np.ones((5, 4)))
    low = simulate_star_runs(4, 2, -1 / 3, 8, 2, 5, rng=0)  # no gold transition at all
    assert low.lost_gold.all() and (low.stall_iteration == 0).all()
    runs = simulate_star_runs(4, 2, 0.5, 64, 6, 50, rng=1)
    reached = runs.hit_iteration >= 0
    t = runs.hit_iteration[reached]
    assert (runs.J[reached, t] >= 0.99).all() and (runs.J[reached, np.maximum(t - 1, 0)][t > 0]
                                                   < 0.99).all()


def test_same_seed_same_runs_and_blocks_do_not_matter_for_the_law():
    a = simulate_star_runs(3, 2, 0.4, 5, 3, 40, rng=9)
    b = simulate_star_runs(3, 2, 0.4, 5, 3, 40, rng=9)
    np.testing.assert_array_equal(a.J, b.J)
    np.testing.assert_array_equal(a.stall_iteration, b.stall_iteration)


def test_stall_cell_summarises_the_runs():
    out = stall_cell(np.random.default_rng(5), M=3, N=2, lam0=0.3, K=3, iterations=4,
                     replicates=200)
    assert out["runs"] == 200
    assert out["stall_iteration_count"].shape == (6,) and out["stall_iteration_count"].sum() == 200
    assert out["hit_iteration_count"].sum() == 200
    assert out["stalled"] == 200 - out["stall_iteration_count"][0]
    assert out["stalled"] >= max(out["lost_gold"], out["question_without_success"])
    assert out["J_mean"].shape == (5,)
    STALL_CELL.check_params(["M", "N", "lam0", "K", "iterations", "replicates"])


def test_run_stall_sweep_labels_the_results(tmp_path):
    ds = run_stall_sweep({"M": [3], "N": [2], "lam0": [0.3, 0.5], "K": [2, 8]}, out=tmp_path,
                         work=tmp_path / "work", workers=1, progress=False, replicates=30,
                         fixed={"iterations": 3})
    assert (tmp_path / "stalls_custom.nc").is_file()
    assert ds["first_iteration"].values.tolist() == [-1, 0, 1, 2, 3]
    assert ds["stalled"].shape == (1, 1, 2, 2) and int(ds["runs"].min()) == 30


@pytest.mark.parametrize("kwargs, match", [
    ({"K": 0}, "K"), ({"replicates": 0}, "replicates"), ({"target": 1.5}, "target"),
    ({"temperature": 0.0}, "temperature"), ({"iterations": -1}, "iterations"),
    ({"rng": "seed"}, "rng"),
])
def test_bad_input_names_the_argument(kwargs, match):
    args = {"M": 3, "N": 2, "lam0": 0.3, "K": 2, "iterations": 2, "replicates": 3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate_star_runs(**args)
