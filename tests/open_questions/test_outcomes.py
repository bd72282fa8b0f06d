"""Outcome classification against direct iteration of the exact engines."""

import numpy as np
import pytest

from rlstar_theory.criteria import iterations_to_reach
from rlstar_theory.dense import expected_return, iterate_dense
from rlstar_theory.open_questions.models import random_models
from rlstar_theory.open_questions.outcomes import Outcome, run_to_outcome
from rlstar_theory.rules.registry import make_rule
from rlstar_theory.symmetric import symmetric_matrix


def test_symmetric_starts_escape_when_the_closed_form_says_so():
    M, eps = 6, 0.01
    lams = np.array([[0.3, 0.2, 0.1], [0.0, 0.4, 0.2], [0.05, 0.05, 0.05], [0.6, 0.0, 0.0]])
    P0 = np.stack([symmetric_matrix(lam, M) for lam in lams])
    res = run_to_outcome("star", P0, epsilon=eps, iterations=200)
    expected = iterations_to_reach(lams, M, eps, 200)
    np.testing.assert_array_equal(res.iterations_to_epsilon[:3], expected[:3])
    assert list(res.outcome) == [Outcome.ESCAPED] * 3 + [Outcome.FROZEN]
    assert res.J_final[3] == pytest.approx(1 / M)
    assert res.movement[3] == 0.0
    assert np.all(res.gold_final[:3] > 0.99)


def test_random_models_agree_with_direct_iteration():
    M, N, eps, tol = 3, 3, 0.01, 1e-12
    P0 = random_models("dirichlet", 12, M, N, np.full(N, 0.1), 0.6, rng=5)
    res = run_to_outcome("star", P0, epsilon=eps, iterations=400, fixed_tol=tol)
    assert set(res.outcome) <= {Outcome.ESCAPED, Outcome.SUBOPTIMAL}
    assert Outcome.SUBOPTIMAL in res.outcome  # collisions: the case beyond the paper
    for b in range(len(P0)):
        t = int(res.iterations_run[b])
        run = iterate_dense(P0[b], t + 1)
        J = run.J
        np.testing.assert_allclose(res.P_final[b], run.P[t], atol=1e-12)
        assert res.J_final[b] == pytest.approx(J[t], abs=1e-12)
        assert np.all(J[:t] < 1 - eps)
        if res.outcome[b] == Outcome.ESCAPED:
            assert J[t] >= 1 - eps
            assert res.iterations_to_epsilon[b] == t
        else:
            assert J[t] < 1 - eps
            assert np.abs(run.P[t + 1] - run.P[t]).max() <= tol
            assert np.all(np.abs(np.diff(run.P[:t + 1], axis=0)).max(axis=(1, 2, 3)) > tol)


def test_a_collision_is_a_fixed_point_at_the_start():
    # step 1 sends both questions to state 0, so both have the same answer distribution
    # (row 0 of step 2) and J = (P_2[0, 0] + P_2[0, 1]) / 2 = 1/2 whatever STaR does; the
    # filtered data reproduce the policy exactly
    P = np.array([[[[1.0, 0.0], [1.0, 0.0]], [[0.7, 0.3], [0.4, 0.6]]]])
    res = run_to_outcome("star", P, epsilon=0.01, iterations=50)
    assert res.outcome[0] == Outcome.FROZEN
    assert res.iterations_run[0] == 0
    assert res.J_final[0] == pytest.approx(0.5)
    assert res.movement[0] == 0.0
    assert expected_return(iterate_dense(P[0], 3).P[-1]) == pytest.approx(0.5)


def test_gradient_rule_is_frozen_at_a_symmetric_fixed_point():
    P0 = symmetric_matrix([0.0, 0.0, 0.3], 5)[None]
    for rule in ("grpo", "reinforce", "fisft+-"):
        res = run_to_outcome(rule, P0, iterations=20)
        assert res.outcome[0] == Outcome.FROZEN


def test_undecided_when_the_budget_is_short():
    P0 = symmetric_matrix([0.1, 0.1, 0.1], 8)[None]
    res = run_to_outcome(make_rule("reinforce"), P0, iterations=3)
    assert res.outcome[0] == Outcome.UNDECIDED
    assert res.iterations_run[0] == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"rule": "ppo"}, "rule"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"epsilon": 1.0}, "epsilon"),
    ({"iterations": -1}, "iterations"),
    ({"fixed_tol": -1.0}, "fixed_tol"),
])
def test_bad_input(kwargs, match):
    args = {"rule": "star", "P0": symmetric_matrix([0.2, 0.2], 3)[None]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_to_outcome(**args)
