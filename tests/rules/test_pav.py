"""PAV-RL: enumeration, mu = pi, potential-based shaping, finite differences, sampled -> exact."""

import itertools

import numpy as np
import pytest

from rlstar_theory.mdp import operator, success_edges
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.pav import PavRl
from rlstar_theory.rules.policy_gradient import Reinforce
from tests.rules._paths import finite_difference
from tests.rules.pg_reference import random_model, recovered_gradient
from tests.rules.value_reference import enumerated_step_edges, enumerated_values

COMBOS = list(itertools.product(("A", "Q"), ("step", "return")))


def _edges_by_enumeration(P, model, V_mu, alpha, dense, credit):
    """``sum w prob c_n 1[edge]`` with ``c_n = R + alpha d_n`` or ``R + alpha sum_{m>=n} d_m``."""
    def d(s0, path, m):
        value = V_mu[m, path[m], s0]
        return value - V_mu[m - 1, path[m - 1], s0] if dense == "A" else value

    def coefficient(s0, path, n):
        R = float(path[-1] == model.answers[s0])
        later = range(n, model.N + 1) if credit == "return" else (n,)
        return R + alpha * sum(d(s0, path, m) for m in later)
    return enumerated_step_edges(P, model, coefficient)


def _models(seed, M=3, N=3):
    P0, model = random_model(seed, M=M, N=N, split=True)
    P1, _ = random_model(seed + 30, M=M, N=N)
    return P0, P1, model


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("dense, credit", COMBOS)
def test_exact_edges_equal_enumeration_with_a_frozen_prover(seed, dense, credit):
    P0, P1, model = _models(seed)
    rule = PavRl(alpha=2.5, prover_k=3, dense=dense, credit=credit)
    state = rule.init_state(P0, model)
    expected = _edges_by_enumeration(P1, model, enumerated_values(P0, model, 3), 2.5, dense,
                                     credit)
    np.testing.assert_allclose(rule.exact_edges(P1, model, state), expected, rtol=0,
                               atol=1e-14)
    update = rule.exact_step(P1, model, state)
    np.testing.assert_allclose(update.P, operator.gradient_step(P1, expected, rule.lr),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_prover_equal_to_the_policy_is_outcome_reinforce_scaled_by_one_plus_alpha(seed, alpha):
    P, model = random_model(seed, M=4, N=3, split=True)
    rule = PavRl(alpha=alpha, prover="self", prover_k=1, lr=0.7)
    C = success_edges(P, model.weights("train"), model.answers)
    got = operator.gradient(P, rule.exact_edges(P, model, rule.init_state(P, model)))
    np.testing.assert_allclose(got, (1 + alpha) * operator.gradient(P, C), rtol=0, atol=1e-12)
    reinforce = Reinforce(lr=0.7 * (1 + alpha)).exact_step(P, model).P
    np.testing.assert_allclose(rule.exact_step(P, model, None).P, reinforce, rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_summed_advantages_are_potential_based_shaping_for_any_prover(seed):
    P0, P1, model = _models(seed)
    rule = PavRl(alpha=1.5, prover_k=4, credit="return", dense="A")
    C = success_edges(P1, model.weights("train"), model.answers)
    got = operator.gradient(P1, rule.exact_edges(P1, model, rule.init_state(P0, model)))
    np.testing.assert_allclose(got, 2.5 * operator.gradient(P1, C), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_q_and_a_give_the_same_exact_step_with_per_step_credit(seed):
    P0, P1, model = _models(seed)
    a, q = (PavRl(alpha=2.0, dense=dense) for dense in ("A", "Q"))
    state = a.init_state(P0, model)
    np.testing.assert_allclose(operator.gradient(P1, a.exact_edges(P1, model, state)),
                               operator.gradient(P1, q.exact_edges(P1, model, state)),
                               rtol=0, atol=1e-13)
    # ... but not with summed credit: Q^mu there is not potential-based shaping
    qr = PavRl(alpha=2.0, dense="Q", credit="return")
    diff = operator.gradient(P1, qr.exact_edges(P1, model, state)) - operator.gradient(
        P1, a.exact_edges(P1, model, state))
    assert np.abs(diff).max() > 1e-3


def _forward(Q):
    F = [np.eye(Q.shape[1])]
    for n in range(Q.shape[0]):
        F.append(F[-1] @ Q[n])
    return F


@pytest.mark.parametrize("seed", range(2))
def test_per_step_credit_is_the_gradient_with_the_visits_held_fixed(seed):
    P0, P1, model = _models(seed)
    alpha, rule = 2.0, PavRl(alpha=2.0, prover_k=2)
    V_mu = enumerated_values(P0, model, 2)
    w = model.weights("train")
    F0 = _forward(P1)

    def objective(theta):
        Q = operator.softmax(theta)
        J = sum(w[q] * _forward(Q)[-1][q, model.answers[q]] for q in range(model.M))
        dense = sum(w[q] * F0[n - 1][q] @ Q[n - 1] @ V_mu[n, :, q]
                    for q in range(model.M) for n in range(1, model.N + 1))
        return J + alpha * dense

    fd = finite_difference(objective, operator.logits(P1))
    got = operator.gradient(P1, rule.exact_edges(P1, model, rule.init_state(P0, model)))
    np.testing.assert_allclose(got, fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("seed", range(2))
def test_summed_q_credit_is_the_gradient_of_the_shaped_return(seed):
    P0, P1, model = _models(seed)
    alpha, rule = 1.5, PavRl(alpha=1.5, prover_k=3, dense="Q", credit="return")
    V_mu = enumerated_values(P0, model, 3)
    w = model.weights("train")

    def objective(theta):
        F = _forward(operator.softmax(theta))
        return sum(w[q] * (F[-1][q, model.answers[q]]
                           + alpha * sum(F[n][q] @ V_mu[n, :, q] for n in range(1, model.N + 1)))
                   for q in range(model.M))

    fd = finite_difference(objective, operator.logits(P1))
    got = operator.gradient(P1, rule.exact_edges(P1, model, rule.init_state(P0, model)))
    np.testing.assert_allclose(got, fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("dense, credit", [("A", "step"), ("Q", "return")])
def test_sampled_gradient_is_unbiased(dense, credit):
    P0, P1, model = _models(4, M=3, N=2)
    rule = PavRl(alpha=2.0, prover_k=3, dense=dense, credit=credit, samples_per_question=8,
                 lr=0.5)
    state = rule.init_state(P0, model)
    exact = operator.gradient(P1, rule.exact_edges(P1, model, state))
    gen = np.random.default_rng(1)
    replicates = 400
    draws = np.array([recovered_gradient(P1, rule.sampled_step(P1, model, state, gen).P, 0.5)
                      for _ in range(replicates)])
    mean, spread = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    z = 5.0
    assert np.all(np.abs(mean - exact) <= z * spread / np.sqrt(replicates) + 1e-10)
    big = PavRl(alpha=2.0, prover_k=3, dense=dense, credit=credit,
                samples_per_question=8 * 256, lr=0.5)
    one = recovered_gradient(P1, big.sampled_step(P1, model, state, gen).P, 0.5)
    assert np.all(np.abs(one - exact) <= 1.2 * z * spread / 16 + 1e-10)


def test_runs_both_modes_through_iterate_and_keeps_the_support():
    P0, model = random_model(8, M=4, N=3, split=True)
    for mode in ("exact", "sampled"):
        h = iterate(make_rule("pav-rl", alpha=3.0, lr=0.5), P0, model, iterations=2,
                    mode=mode, rng=0, maj_ks=())
        assert h.rule == "pav-rl" and h.settings["alpha"] == 3.0
        assert h.samples[-1] == 2 * 16 * int(model.train.sum())
        np.testing.assert_array_equal(h.P[-1] == 0, P0 == 0)


@pytest.mark.parametrize("options, match", [
    ({"alpha": -1.0}, "alpha must be"),
    ({"alpha": float("nan")}, "alpha must be"),
    ({"dense": "V"}, "dense must be"),
    ({"credit": "episode"}, "credit must be"),
    ({"prover": "oracle"}, "prover must be"),
    ({"prover_k": 0}, "prover_k must be"),
    ({"lr": 0.0}, "lr must be"),
])
def test_bad_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        make_rule("pav-rl", **options)
