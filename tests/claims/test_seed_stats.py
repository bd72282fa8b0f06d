"""Statistics over seeds and the grid verdict."""

import math

import numpy as np
import pytest

from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS
from rlstar_theory.claims.seed_stats import grid_verdict, seed_mean_se, z_score


def test_seed_mean_se_is_the_standard_error():
    x = np.array([1.0, 2.0, 4.0, 5.0])
    mean, se = seed_mean_se(x)
    assert mean == 3.0
    assert se == pytest.approx(math.sqrt(((4 + 1 + 1 + 4) / 3) / 4), abs=1e-15)
    m2, s2 = seed_mean_se(np.column_stack([x, 2 * x]))
    assert np.allclose(m2, [3.0, 6.0]) and np.allclose(s2, [se, 2 * se])
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_mean_se([1.0])


def test_z_score():
    x = np.array([1.0, 2.0, 4.0, 5.0])
    assert z_score(x) == pytest.approx(3.0 / seed_mean_se(x)[1])
    assert z_score(-x) == pytest.approx(-z_score(x))
    assert z_score([0.0, 0.0]) == 0.0
    assert z_score([0.5, 0.5]) == math.inf and z_score([-0.5, -0.5]) == -math.inf


def test_grid_verdict():
    assert grid_verdict([True, True]) == HOLDS
    assert grid_verdict([True, False]) == CONDITIONAL
    assert grid_verdict([False, False]) == FAILS
    with pytest.raises(ValueError, match="at least one"):
        grid_verdict([])
