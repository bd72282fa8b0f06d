"""Step values, Q-values, advantages and best-of-K values against enumeration."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from rlstar_theory.mdp import ChainMDP
from rlstar_theory.mdp.values import (
    StepValues,
    advantages,
    best_of_k,
    policy_values,
    q_values,
    step_advantage,
)
from tests.rules.pg_reference import random_model
from tests.rules.value_reference import continuations, enumerated_values
from tests.strategies import dense_models


@settings(max_examples=25)
@given(dense_models(max_M=3, max_N=3))
def test_exact_values_equal_enumerated_continuations(m):
    model = ChainMDP.create(m.M, m.N, m.truth, m.start_exact)
    got = policy_values(m.P_exact, model)
    assert got.K == 1 and got.N == m.N and got.M == m.M
    assert (got.V == enumerated_values(m.P_exact, model)).all()


@pytest.mark.parametrize("seed", range(3))
def test_q_values_and_advantages_are_the_enumerated_differences(seed):
    P, model = random_model(seed, M=3, N=3)
    values = policy_values(P, model)
    V = enumerated_values(P, model)
    A = values.advantages()
    assert A.shape == (3, 3, 3, 3)
    for n in range(1, 4):
        for s, t, s0 in itertools.product(range(3), repeat=3):
            # Q_n(s, t) = E[R | S_{n-1} = s, S_n = t]: condition the continuations from s on t
            from_s = [(path, prob) for path, prob in continuations(P, n - 1, s)]
            through_t = [(path, prob) for path, prob in from_s if path[1] == t]
            mass = sum(prob for _, prob in through_t)
            if mass > 0:
                q = sum(prob for path, prob in through_t
                        if path[-1] == model.answers[s0]) / mass
                assert values.q(n)[s, t, s0] == pytest.approx(q, abs=1e-14)
            assert values.q(n)[s, t, s0] == pytest.approx(V[n, t, s0], abs=1e-14)
            expected = V[n, t, s0] - V[n - 1, s, s0]
            assert values.advantage(n)[s, t, s0] == pytest.approx(expected, abs=1e-14)
            assert A[n - 1, s, t, s0] == pytest.approx(expected, abs=1e-14)


def test_values_mean_of_advantages_is_zero_under_the_policy_itself():
    """``sum_t P_n[s, t] A_n(s, t) = 0``: the policy's own advantage has mean 0 on every row."""
    P, model = random_model(7, M=4, N=3)
    values = policy_values(P, model)
    for n in range(1, 4):
        mean = np.einsum("st,stq->sq", P[n - 1], values.advantage(n))
        np.testing.assert_allclose(mean, 0.0, atol=1e-15)


def _best_of_k_by_tuples(P, model, n, s, s0, K):
    """Pr(at least one of K independent continuations from s at step n ends at y(s0))."""
    conts = list(continuations(P, n, s))
    total = Fraction(0)
    for tup in itertools.product(conts, repeat=K):
        prob = Fraction(1)
        for _, p in tup:
            prob *= p
        if any(path[-1] == model.answers[s0] for path, _ in tup):
            total += prob
    return total


@pytest.mark.parametrize("K", [2, 3])
def test_best_of_k_values_equal_enumerated_k_tuples(K):
    P = np.empty((2, 3, 3), dtype=object)
    rng = np.random.default_rng(K)
    counts = rng.integers(0, 3, size=(2, 3, 3)) + np.eye(3, dtype=int)
    for idx in np.ndindex(2, 3, 3):
        P[idx] = Fraction(int(counts[idx]), int(counts[idx[:2]].sum()))
    model = ChainMDP.create(3, 2, truth=[[1, 2, 0], [0, 0, 2]], start=["1/3"] * 3)
    values = policy_values(P, model, K=K)
    assert values.K == K
    for n, s, s0 in itertools.product(range(3), range(3), range(3)):
        assert values.V[n, s, s0] == _best_of_k_by_tuples(P, model, n, s, s0, K)
    # float64 agrees with the exact values
    np.testing.assert_allclose(policy_values(P.astype(float), model, K=K).V,
                               values.V.astype(float), rtol=0, atol=1e-15)


def test_best_of_k_is_accurate_for_tiny_values_and_exact_at_the_ends():
    V = np.array([0.0, 1e-20, 0.5, 1.0])
    got = best_of_k(V, 4)
    assert got[0] == 0.0 and got[3] == 1.0
    assert got[1] == pytest.approx(4e-20, rel=1e-12)  # 1 - (1 - V)^K would round to 0
    assert got[2] == pytest.approx(1 - 0.5**4, abs=1e-16)
    np.testing.assert_array_equal(best_of_k(V, 1), V)


def test_step_values_dataclass_uses_the_array_functions():
    P, model = random_model(2, M=3, N=2)
    values = policy_values(P, model, K=2)
    assert isinstance(values, StepValues)
    np.testing.assert_array_equal(values.q(2), q_values(values.V, 2))
    np.testing.assert_array_equal(values.advantage(1), step_advantage(values.V, 1))
    np.testing.assert_array_equal(values.advantages(), advantages(values.V))


@pytest.mark.parametrize("call, match", [
    (lambda P, m: policy_values(P, m, K=0), "K must be"),
    (lambda P, m: policy_values(P[:1], m), "P must have shape"),
    (lambda P, m: policy_values(P, "model"), "model must be a ChainMDP"),
    (lambda P, m: step_advantage(policy_values(P, m).V, 0), "n must be"),
    (lambda P, m: q_values(policy_values(P, m).V, 3), "n must be"),
    (lambda P, m: best_of_k(np.array([0.5]), 1.5), "K must be"),
])
def test_bad_input_is_named(call, match):
    P, model = random_model(0, M=3, N=2)
    with pytest.raises(ValueError, match=match):
        call(P, model)
