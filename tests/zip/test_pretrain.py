"""The pre-training curriculum's schedule (numpy only: no torch needed)."""

import numpy as np
import pytest

from rlstar_theory.zip.config import make_config
from rlstar_theory.zip.pretrain import FINAL_LR_FACTOR, RAMP_LEVELS, curriculum


def test_levels_move_the_data_from_warm_to_target_monotonically():
    cfg = make_config("paper", delta0_diag=(0.2, 0.0, 0.1), pretrain_warm_steps=30,
                      pretrain_ramp_steps=40, pretrain_steps=25, warmup_steps=10)
    plan = curriculum(cfg)
    assert plan.steps == 95
    levels = [plan.level(s) for s in range(plan.steps)]
    assert levels[:30] == [0] * 30
    assert levels[30] == 1 and levels[69] == RAMP_LEVELS and levels[70:] == [RAMP_LEVELS] * 25
    assert np.all(np.diff(levels) >= 0) and set(levels[30:70]) == set(range(1, RAMP_LEVELS + 1))
    np.testing.assert_array_equal(plan.delta_diag_at_level(0), [0.9] * 3)
    np.testing.assert_array_equal(plan.delta_diag_at_level(RAMP_LEVELS), [0.2, 0.0, 0.1])
    mid = plan.delta_diag_at_level(RAMP_LEVELS // 2)
    np.testing.assert_allclose(mid, (np.array([0.2, 0.0, 0.1]) + 0.9) / 2, rtol=1e-12)
    # each step's excess moves monotonically towards its own target
    d = np.array([plan.delta_diag_at_level(lv) for lv in range(RAMP_LEVELS + 1)])
    assert np.all(np.diff(d, axis=0) < 0)
    names = [p["name"] for p in plan.phases()]
    assert names == ["warm", "ramp", "final"]
    assert [p["steps"] for p in plan.phases()] == [30, 40, 25]


def test_learning_rate_warms_up_holds_then_decays_to_the_final_factor():
    cfg = make_config("paper", pretrain_warm_steps=30, pretrain_ramp_steps=40,
                      pretrain_steps=50, warmup_steps=10)
    plan = curriculum(cfg)
    f = np.array([plan.lr_factor(s) for s in range(plan.steps + 1)])
    np.testing.assert_allclose(f[:10], np.arange(1, 11) / 10)
    np.testing.assert_array_equal(f[10:31], 1.0)  # constant through the warm phase
    assert np.all(np.diff(f[30:]) < 0)  # then decays over the ramp and final phases
    assert f[-1] == pytest.approx(FINAL_LR_FACTOR, abs=1e-15)


def test_without_curriculum_only_the_target_is_trained_on():
    cfg = make_config("paper", warm_delta_diag="none", pretrain_steps=200, warmup_steps=20)
    plan = curriculum(cfg)
    assert plan.steps == 200 and [p["name"] for p in plan.phases()] == ["final"]
    assert all(plan.level(s) == RAMP_LEVELS for s in range(0, 200, 7))
    np.testing.assert_array_equal(plan.delta_diag_at_level(0), [0.2] * 3)
    f = [plan.lr_factor(s) for s in range(201)]
    assert f[19] == 1.0 and f[200] == pytest.approx(FINAL_LR_FACTOR, abs=1e-15)
    assert np.all(np.diff(f[20:]) < 0)
