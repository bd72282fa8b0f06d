"""GRPO and Dr. GRPO: the exact weight c_G(p), exact vs enumeration, sampled -> exact."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.rules import WeightedRule, iterate, make_rule
from rlstar_theory.rules.grpo import DrGrpo, Grpo, group_std, grpo_advantage_terms
from tests.rules import pg_reference as ref

P_GRID = np.array([0.0, 1e-3, 0.1, 0.267, 0.5, 0.77, 0.999, 1.0])
HAS_SURROGATE = importlib.util.find_spec("rlstar_theory.rules.surrogate") is not None


def _standardised(r, ddof, eps):
    """``(r - mean) / (std + eps)`` with numpy's std; 0 for a constant group."""
    centred = r - r.mean()
    if not centred.any():
        return np.zeros_like(r)
    return centred / (np.std(r, ddof=ddof) + eps)


def _grpo_coef(ddof=1, eps=1e-4):
    def for_N(N):
        return lambda r: _standardised(r, ddof, eps) / (len(r) * N)
    return for_N


def _dr_grpo_coef(N):
    return lambda r: (r - r.mean()) / (len(r) * N)


CASES = [
    ("grpo", {"group_size": 2, "samples_per_question": 4}, _grpo_coef()),
    ("grpo", {"group_size": 4, "samples_per_question": 8}, _grpo_coef()),
    ("grpo", {"group_size": 3, "samples_per_question": 6, "std": "population"},
     _grpo_coef(ddof=0)),
    ("grpo", {"group_size": 3, "samples_per_question": 6, "std_eps": 0.0},
     _grpo_coef(eps=0.0)),
    ("dr-grpo", {"group_size": 2, "samples_per_question": 4}, _dr_grpo_coef),
    ("dr-grpo", {"group_size": 4, "samples_per_question": 8}, _dr_grpo_coef),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in opts.items())}" for name, opts, _ in CASES]


def _rule(name, opts, lr=0.7):
    return make_rule(name, strict=True, lr=lr, **opts)


# --- the weight -------------------------------------------------------------------------------

def test_finite_group_weight_matches_algorithms_section_11():
    """ALGORITHMS.md §11: c_G(0.267) = 0.71, 1.42, 1.87, 2.09, 2.22 (two decimals).

    These are the numbers of the *unbiased* group std (torch's default, verl/TRL); the
    population std gives 1.00 at G = 2 and 1.64 at G = 4 instead.
    """
    quoted = {2: 0.71, 4: 1.42, 8: 1.87, 16: 2.09, 64: 2.22}
    for G, value in quoted.items():
        rule = Grpo(group_size=G, samples_per_question=G)
        assert abs(rule.question_weight(np.array([0.267]))[0] - value) <= 0.005
    population = Grpo(group_size=2, samples_per_question=2, std="population")
    assert abs(population.question_weight(np.array([0.267]))[0] - 0.71) > 0.2


def test_group_of_two_by_hand():
    """G = 2: only a mixed group counts, with A = +-(1/2)/(sigma + eps), so c_2 is constant.

    sigma = 1/sqrt(2) (unbiased) or 1/2 (population); c_2 = (1/2)/(sigma + eps) for p in (0,1).
    """
    eps = 1e-4
    p = np.array([0.1, 0.5, 0.9])
    unbiased = grpo_advantage_terms(p, 2, "unbiased", eps)
    population = grpo_advantage_terms(p, 2, "population", eps)
    np.testing.assert_allclose(unbiased[0] - unbiased[1], 0.5 / (2 ** -0.5 + eps), rtol=1e-14)
    np.testing.assert_allclose(population[0] - population[1], 0.5 / (0.5 + eps), rtol=1e-14)
    np.testing.assert_allclose(unbiased[0], (1 - p) * 0.5 / (2 ** -0.5 + eps), rtol=1e-14)


@pytest.mark.parametrize("std", ["unbiased", "population"])
@pytest.mark.parametrize("G", [2, 3, 5])
def test_advantage_terms_are_conditional_expectations(std, G):
    """w1 = E[A_1 | r_1 = 1] and w0 = E[A_1 | r_1 = 0] by enumerating the other rewards."""
    ddof = 1 if std == "unbiased" else 0
    w1, w0 = grpo_advantage_terms(P_GRID, G, std, 1e-4)
    for i, p in enumerate(P_GRID):
        def coef(r):
            return _standardised(r, ddof, 1e-4)
        assert w1[i] == pytest.approx(ref.expected_first_coefficient(coef, G, 1, p), abs=1e-12)
        assert w0[i] == pytest.approx(ref.expected_first_coefficient(coef, G, 0, p), abs=1e-12)
    assert np.all(w1 >= 0) and np.all(w0 <= 0)
    # p = 0: the others are all wrong, so a correct sample is alone (A > 0) and a wrong one is
    # in a constant group (A = 0); p = 1 mirrors it
    assert w1[0] > 0 and w0[0] == 0.0 and w1[-1] == 0.0 and w0[-1] < 0


@pytest.mark.parametrize(("name", "opts", "coef"), CASES, ids=IDS)
def test_closed_form_weight_matches_binomial_expectation(name, opts, coef):
    rule = _rule(name, opts)
    np.testing.assert_allclose(rule.question_weight(P_GRID),
                               WeightedRule.question_weight(rule, P_GRID), rtol=0, atol=1e-12)


def test_dr_grpo_weight_and_issue_formulas():
    """dr-grpo: w = rho (G-1)/G / N; grpo: w = rho c_G(p) / N."""
    P, model = ref.random_model(6, 3, 3, split=True)
    p = ref.success_probabilities(P, model)
    rho = model.weights("train")
    dr = DrGrpo(group_size=4, samples_per_question=8)
    np.testing.assert_allclose(dr.weights(P, model), rho * 3 / 4 / model.N, rtol=0, atol=1e-15)
    grpo = Grpo(group_size=4, samples_per_question=8)
    w1, w0 = grpo_advantage_terms(p, 4)
    np.testing.assert_allclose(grpo.weights(P, model), rho * (w1 - w0) / model.N, rtol=0,
                               atol=1e-15)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_large_group_limit(p):
    """c_G(p) -> 1/(sqrt(p(1-p)) + eps), with an O(1/G) relative error.

    The error bound 1/(G p (1-p)) is loose (the observed error is about
    (1/2 + 1/(8 p (1-p)))/G); the 4x ratio checks the 1/G rate.
    """
    limit = 1 / (np.sqrt(p * (1 - p)) + 1e-4)
    err = {}
    for G in (512, 2048):
        w1, w0 = grpo_advantage_terms(np.array(p), G)
        err[G] = abs((w1 - w0) / limit - 1)
        assert err[G] <= 1 / (G * p * (1 - p))
    assert 3.5 <= err[512] / err[2048] <= 4.5


def test_group_std():
    r = np.array([1.0, 0, 0, 1, 1])
    assert group_std(3, 5, "unbiased") == pytest.approx(np.std(r, ddof=1), abs=1e-15)
    assert group_std(3, 5, "population") == pytest.approx(np.std(r), abs=1e-15)


# --- the step ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "opts", "coef"), CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_step_matches_enumeration(name, opts, coef, seed):
    ref.check_exact_vs_brute_force(_rule(name, opts), coef, seed, identity=seed == 0,
                                   split=seed == 1)


@pytest.mark.parametrize(("name", "opts", "coef"), CASES[:2] + CASES[4:5],
                         ids=IDS[:2] + IDS[4:5])
def test_exact_step_matches_enumeration_n3(name, opts, coef):
    ref.check_exact_vs_brute_force(_rule(name, opts), coef, 5, M=2, N=3)


@pytest.mark.parametrize(("name", "opts", "coef"), CASES, ids=IDS)
def test_gradient_matches_finite_differences(name, opts, coef):
    ref.check_finite_differences(_rule(name, opts), seed=3)


@pytest.mark.parametrize(("name", "opts", "coef"), CASES, ids=IDS)
def test_sampled_step_converges_to_exact(name, opts, coef):
    ref.check_sampled_converges(_rule(name, opts), coef, seed=12)


@pytest.mark.parametrize(("name", "opts"), [
    ("grpo", {"group_size": 4, "samples_per_question": 8}),
    ("grpo", {"group_size": 8, "samples_per_question": 8, "std": "population"}),
    ("dr-grpo", {"group_size": 4, "samples_per_question": 8}),
])
def test_symmetric_family_recursion(name, opts):
    rule = _rule(name, opts, lr=3.0)
    N = 3
    ref.check_symmetric_recursion(rule, lambda p: float(rule.question_weight(np.array(p))) / N)


@pytest.mark.parametrize(("name", "opts", "coef"), CASES, ids=IDS)
def test_support_is_kept(name, opts, coef):
    ref.check_support_kept(_rule(name, opts), seed=4)


def test_dr_grpo_is_reinforce_mean_baseline_over_n():
    P, model = ref.random_model(2, 3, 3)
    a = DrGrpo(group_size=4, samples_per_question=8, lr=0.4 * model.N).exact_step(P, model).P
    b = make_rule("reinforce", baseline="mean", group_size=4, samples_per_question=8,
                  lr=0.4).exact_step(P, model).P
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_iterate_runs_grpo_both_modes():
    P, model = ref.random_model(7, 3, 2)
    rule = Grpo(group_size=4, samples_per_question=8, lr=2.0)
    exact = iterate(rule, P, model, iterations=3, maj_ks=(1,), pass_ks=(1, 4))
    sampled = iterate(rule, P, model, iterations=3, mode="sampled", rng=0, maj_ks=(1,),
                      pass_ks=(1, 4))
    assert exact.train.J[-1] > exact.train.J[0]
    assert sampled.samples[-1] == 3 * 8 * 3


# --- options: clipping, epochs, KL ------------------------------------------------------------

def test_defaults_are_trl_like():
    rule = make_rule("grpo")
    assert (rule.group_size, rule.std, rule.std_eps, rule.eps_clip, rule.epochs, rule.beta) == \
        (8, "unbiased", 1e-4, 0.2, 1, 0.0)


def test_one_epoch_ignores_the_clip_range():
    """On the first (on-policy) epoch the ratio is 1, so eps_clip cannot matter."""
    P, model = ref.random_model(1, 3, 2)
    a = Grpo(group_size=4, samples_per_question=8, eps_clip=0.2).exact_step(P, model).P
    b = Grpo(group_size=4, samples_per_question=8, eps_clip=0.01).exact_step(P, model).P
    np.testing.assert_array_equal(a, b)


def test_surrogate_options_need_the_surrogate_module(monkeypatch):
    """Without rlstar_theory.rules.surrogate, epochs > 1 or beta > 0 is a clear ValueError."""
    import rlstar_theory.rules

    monkeypatch.setitem(sys.modules, "rlstar_theory.rules.surrogate", None)
    monkeypatch.delattr(rlstar_theory.rules, "surrogate", raising=False)
    P, model = ref.random_model(1, 3, 2)
    for opts in ({"epochs": 2}, {"beta": 0.04}):
        rule = Grpo(group_size=4, samples_per_question=8, **opts)
        with pytest.raises(ValueError, match="surrogate"):
            rule.exact_step(P, model, rule.init_state(P, model))
        with pytest.raises(ValueError, match="surrogate"):
            rule.sampled_step(P, model, rule.init_state(P, model), np.random.default_rng(0))
    rule = Grpo(group_size=4, samples_per_question=8)  # one epoch, no KL: no surrogate needed
    np.testing.assert_allclose(rule.exact_step(P, model).P.sum(axis=-1), 1.0, atol=1e-12)


@pytest.mark.skipif(not HAS_SURROGATE, reason="rlstar_theory.rules.surrogate not written yet")
def test_one_epoch_surrogate_is_the_weighted_step():
    """The surrogate with mu = 1, beta = 0, fed by grpo_advantage_terms, is the mu = 1 step."""
    from rlstar_theory.rules.surrogate import clipped_surrogate_step

    P, model = ref.random_model(1, 3, 2)
    rule = Grpo(group_size=4, samples_per_question=8, lr=0.9)
    rho = model.weights("train") / model.N
    w1, w0 = rule.advantage_terms(success_probability(P, model.answers))
    got = clipped_surrogate_step(P, model, rho * w1, rho * w0, eps_clip=0.2, epochs=1, lr=0.9)
    np.testing.assert_allclose(got, rule.exact_step(P, model).P, rtol=0, atol=1e-12)


@pytest.mark.skipif(not HAS_SURROGATE, reason="rlstar_theory.rules.surrogate not written yet")
def test_multi_epoch_exact_step_is_a_policy_on_the_same_support():
    P, model = ref.random_model(1, 3, 2)
    rule = Grpo(group_size=4, samples_per_question=8, epochs=3, beta=0.04, lr=0.9)
    update = rule.exact_step(P, model, rule.init_state(P, model))
    np.testing.assert_array_equal(update.P == 0, P == 0)
    np.testing.assert_allclose(update.P.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(update.state, P)  # the reference stays P0


@pytest.mark.parametrize(("opts", "match"), [
    ({"group_size": 1, "samples_per_question": 4}, "group_size"),
    ({"std": "biased"}, "std"),
    ({"std_eps": -1e-4}, "std_eps"),
    ({"eps_clip": 0.0}, "eps_clip"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"beta": -0.1}, "beta"),
    ({"beta": float("nan")}, "beta"),
])
def test_bad_options(opts, match):
    with pytest.raises(ValueError, match=match):
        Grpo(**opts)
    if "group_size" in opts:
        with pytest.raises(ValueError, match=match):
            DrGrpo(**opts)


def test_bad_group_size_for_terms():
    with pytest.raises(ValueError, match="group_size"):
        grpo_advantage_terms(np.array([0.5]), 1)


@pytest.mark.skipif(not HAS_SURROGATE, reason="rlstar_theory.rules.surrogate not written yet")
def test_multi_epoch_sampled_step_runs_through_iterate():
    P, model = ref.random_model(1, 3, 2)
    rule = Grpo(group_size=4, samples_per_question=8, epochs=3, beta=0.04, lr=0.9)
    history = iterate(rule, P, model, iterations=2, mode="sampled", rng=3, maj_ks=(1,),
                      pass_ks=(1,))
    assert history.samples[-1] == 2 * 8 * 3
    np.testing.assert_array_equal(history.P[-1] == 0, P == 0)
