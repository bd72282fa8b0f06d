"""REINFORCE, RLOO and online RFT: exact vs enumeration, sampled -> exact, weights, recursion."""

from __future__ import annotations

import numpy as np
import pytest

from rlstar_theory.rules import WeightedRule, make_rule
from rlstar_theory.rules.policy_gradient import OnlineRft, Reinforce, Rloo
from tests.rules import pg_reference as ref

P_GRID = np.array([0.0, 1e-3, 0.1, 0.267, 0.5, 0.9, 1.0])


def _reinforce(N):
    return lambda r: r / len(r)


def _reinforce_mean(N):
    return lambda r: (r - r.mean()) / len(r)


def _rloo(N):
    def coef(r):
        G = len(r)
        return (r - (r.sum() - r) / (G - 1)) / G

    return coef


def _online_rft(N):
    return lambda r: r / (len(r) * N)


# name, options, reference group coefficient (a function of N), hand-derived weight of p
CASES = [
    ("reinforce", {"group_size": 1}, _reinforce, lambda p, G, N: 1.0),
    ("reinforce", {"group_size": 3, "samples_per_question": 6}, _reinforce,
     lambda p, G, N: 1.0),
    ("reinforce", {"group_size": 3, "samples_per_question": 6, "baseline": "mean"},
     _reinforce_mean, lambda p, G, N: (G - 1) / G),
    ("rloo", {"group_size": 2, "samples_per_question": 4}, _rloo, lambda p, G, N: 1.0),
    ("rloo", {"group_size": 4, "samples_per_question": 8}, _rloo, lambda p, G, N: 1.0),
    ("online-rft", {"group_size": 1, "samples_per_question": 4}, _online_rft,
     lambda p, G, N: 1.0 / N),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in opts.items())}" for name, opts, _, _ in CASES]


def _rule(name, opts, lr=0.7):
    return make_rule(name, strict=True, lr=lr, **opts)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_step_matches_enumeration(name, opts, coef, weight, seed):
    ref.check_exact_vs_brute_force(_rule(name, opts), coef, seed, identity=seed == 0,
                                   split=seed == 1)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_exact_step_matches_enumeration_n3(name, opts, coef, weight):
    ref.check_exact_vs_brute_force(_rule(name, opts), coef, 5, M=2, N=3)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_closed_form_weight_matches_binomial_expectation(name, opts, coef, weight):
    rule = _rule(name, opts)
    closed = rule.question_weight(P_GRID)
    generic = WeightedRule.question_weight(rule, P_GRID)
    np.testing.assert_allclose(closed, generic, rtol=0, atol=1e-12)



@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_weights_are_the_stated_formula(name, opts, coef, weight):
    """``w(s0) = rho(s0) * weight(p(s0))`` with the issue's formula (1/N included)."""
    rule = _rule(name, opts)
    P, model = ref.random_model(6, 3, 3, split=True)
    p = ref.success_probabilities(P, model)
    rho = model.weights("train")
    expected = rho * np.array([weight(q, rule.group_size, model.N) for q in p])
    np.testing.assert_allclose(rule.weights(P, model), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_weight_matches_enumerated_group_coefficients(name, opts, coef, weight):
    rule, N = _rule(name, opts), 2
    G = rule.group_size
    for p in P_GRID:
        e1 = ref.expected_first_coefficient(coef(N), G, 1, p)
        e0 = ref.expected_first_coefficient(coef(N), G, 0, p)
        assert G * (e1 - e0) == pytest.approx(weight(p, G, N), abs=1e-12)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_gradient_matches_finite_differences(name, opts, coef, weight):
    ref.check_finite_differences(_rule(name, opts), seed=3)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_sampled_step_converges_to_exact(name, opts, coef, weight):
    ref.check_sampled_converges(_rule(name, opts), coef, seed=11)


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_symmetric_family_recursion(name, opts, coef, weight):
    rule = _rule(name, opts, lr=2.0)
    N = 3
    ref.check_symmetric_recursion(rule, lambda p: weight(p, rule.group_size, N))


@pytest.mark.parametrize(("name", "opts", "coef", "weight"), CASES, ids=IDS)
def test_support_is_kept(name, opts, coef, weight):
    ref.check_support_kept(_rule(name, opts), seed=4)


def test_reinforce_is_online_rft_times_n():
    """With no baseline and 0/1 rewards REINFORCE's step is online RFT's at N times the rate."""
    P, model = ref.random_model(8, 3, 3)
    a = Reinforce(lr=0.3).exact_step(P, model).P
    b = OnlineRft(lr=0.3 * model.N).exact_step(P, model).P
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_rloo_equals_reinforce_in_expectation():
    P, model = ref.random_model(9, 3, 2)
    a = Rloo(group_size=4, samples_per_question=8, lr=0.5).exact_step(P, model).P
    b = Reinforce(lr=0.5).exact_step(P, model).P
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_registered_names():
    assert isinstance(make_rule("reinforce"), Reinforce)
    assert isinstance(make_rule("rloo"), Rloo)
    assert isinstance(make_rule("online-rft"), OnlineRft)


@pytest.mark.parametrize(("cls", "opts", "match"), [
    (Reinforce, {"baseline": "median"}, "baseline"),
    (Reinforce, {"baseline": "mean", "group_size": 1}, "group_size"),
    (Rloo, {"group_size": 1}, "group_size"),
    (Rloo, {"group_size": 3, "samples_per_question": 16}, "multiple"),
    (OnlineRft, {"lr": -1.0}, "lr"),
])
def test_bad_options(cls, opts, match):
    with pytest.raises(ValueError, match=match):
        cls(**opts)
