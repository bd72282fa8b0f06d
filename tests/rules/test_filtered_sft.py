"""Iterative filtered SFT (fisft+, fisft-, fisft+-): weights, steps, and the refit guard."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory import symmetric_matrix
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules import WeightedRule, make_rule
from rlstar_theory.rules.filtered_sft import (
    FilteredSftBoth,
    FilteredSftNegative,
    FilteredSftPositive,
    geometric_weight,
)
from rlstar_theory.rules.star import Star
from tests.rules import pg_reference as ref

P_GRID = np.array([0.0, 1e-3, 0.1, 0.267, 0.5, 0.9, 1.0])


def _group_mean(mask):
    """1/|group| on the group's members, 0 elsewhere (and for an empty group)."""
    count = mask.sum()
    return mask / count if count else np.zeros(mask.shape)


def _plus(N):
    return lambda r: _group_mean(r == 1) / N


def _minus(N):
    return lambda r: -_group_mean(r == 0) / N


def _both(N):
    return lambda r: (_group_mean(r == 1) - _group_mean(r == 0)) / N


def _w_plus(p, G):
    return G if p == 0 else (1 - (1 - p) ** G) / p


def _w_minus(p, G):
    return G if p == 1 else (1 - p ** G) / (1 - p)


CASES = [
    ("fisft+", _plus, _w_plus),
    ("fisft-", _minus, _w_minus),
    ("fisft+-", _both, lambda p, G: _w_plus(p, G) + _w_minus(p, G)),
]
IDS = [name for name, _, _ in CASES]


def _rule(name, G=3, lr=0.7, **opts):
    return make_rule(name, strict=True, group_size=G, samples_per_question=2 * G, lr=lr, **opts)


# --- weights ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
@pytest.mark.parametrize("G", [1, 2, 4])
def test_closed_form_weight(name, coef, weight, G):
    """Closed form = generic binomial expectation of a(c, r) = the issue's formula."""
    rule = _rule(name, G)
    closed = rule.question_weight(P_GRID)
    np.testing.assert_allclose(closed, WeightedRule.question_weight(rule, P_GRID), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(closed, [weight(p, G) for p in P_GRID], rtol=0, atol=1e-12)
    assert np.all(closed > 0)


@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
@pytest.mark.parametrize("G", [1, 3])
def test_weight_matches_enumerated_group_losses(name, coef, weight, G):
    """G (E[coef_1 | r_1 = 1] - E[coef_1 | r_1 = 0]) from the per-group averaged losses."""
    N = 2
    for p in P_GRID:
        e1 = ref.expected_first_coefficient(coef(N), G, 1, p)
        e0 = ref.expected_first_coefficient(coef(N), G, 0, p)
        assert G * (e1 - e0) == pytest.approx(weight(p, G) / N, abs=1e-12)


def test_weights_include_rho_and_one_over_n():
    P, model = ref.random_model(6, 3, 3, split=True)
    p = ref.success_probabilities(P, model)
    rho = model.weights("train")
    for name, _, weight in CASES:
        expected = rho * np.array([weight(q, 4) for q in p]) / model.N
        np.testing.assert_allclose(_rule(name, 4).weights(P, model), expected, rtol=0,
                                   atol=1e-14)


def test_geometric_weight_exact():
    q = np.array([Fraction(1, 3), Fraction(1), Fraction(0)], dtype=object)
    got = geometric_weight(q, 3)
    assert list(got) == [Fraction(13, 9), 3, 1]


# --- gradient steps ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_step_matches_enumeration(name, coef, weight, seed):
    ref.check_exact_vs_brute_force(_rule(name, 3), coef, seed, identity=seed == 0,
                                   split=seed == 1)


@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
def test_exact_step_matches_enumeration_n3(name, coef, weight):
    ref.check_exact_vs_brute_force(_rule(name, 2), coef, 5, M=2, N=3)


@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
def test_gradient_matches_finite_differences(name, coef, weight):
    ref.check_finite_differences(_rule(name, 4), seed=3)


@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
@pytest.mark.parametrize("G", [2, 4])
def test_sampled_step_converges_to_exact(name, coef, weight, G):
    ref.check_sampled_converges(_rule(name, G), coef, seed=13)


@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
def test_symmetric_family_recursion(name, coef, weight):
    rule = _rule(name, 4, lr=2.0)
    ref.check_symmetric_recursion(rule, lambda p: weight(p, 4) / 3)


@pytest.mark.parametrize(("name", "coef", "weight"), CASES, ids=IDS)
def test_support_is_kept(name, coef, weight):
    ref.check_support_kept(_rule(name, 4), seed=4)


def test_positive_and_negative_differ_only_through_the_weight():
    """ALGORITHMS.md §0.5 F3: with one p for every question, fisft+ at rate lr w-/w+ is fisft-."""
    M, G = 3, 4
    P = symmetric_matrix([0.4, 0.2], M)
    model = ChainMDP.create(M, 2)
    p = float(ref.success_probabilities(P, model)[0])
    ratio = _w_minus(p, G) / _w_plus(p, G)
    minus = _rule("fisft-", G, lr=1.5).exact_step(P, model).P
    plus = _rule("fisft+", G, lr=1.5 * ratio).exact_step(P, model).P
    np.testing.assert_allclose(plus, minus, rtol=0, atol=1e-13)


# --- refit ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fisft-", "fisft+-"])
def test_refit_with_negatives_is_refused(name):
    with pytest.raises(ValueError, match="ill-posed"):
        make_rule(name, refit=True)


def test_refit_must_be_a_bool():
    with pytest.raises(ValueError, match="refit"):
        FilteredSftPositive(refit="yes")


def test_refit_positive_with_one_sample_is_star():
    """fisft+ fitted to convergence with G = 1 is STaR's refit (w = rho)."""
    P, model = ref.random_model(2, 3, 3, split=True)
    rule = FilteredSftPositive(group_size=1, samples_per_question=4, refit=True)
    np.testing.assert_allclose(rule.exact_step(P, model).P, Star().exact_step(P, model).P,
                               rtol=0, atol=1e-12)
    assert rule.settings()["mode"] == "refit"


@pytest.mark.parametrize("G", [1, 3])
def test_refit_positive_exact_fractions_match_enumeration(G):
    """Fraction policy: refit of sum_{s0} rho (1-(1-p)^G)/p * (successful path edges)."""
    M, N = 3, 2
    P = ref.exact_fraction_policy(21, M, N)
    start = [Fraction(1, 6), Fraction(1, 3), Fraction(1, 2)]
    model = ChainMDP.create(M, N, truth=[[1, 2, 0], [0, 0, 2]], start=start)
    edges = np.full((N, M, M), Fraction(0), dtype=object)
    for s0 in range(M):
        paths = list(ref.paths_of(P, s0))
        p = sum(prob for path, prob in paths if path[-1] == model.answers[s0])
        if p == 0:
            continue
        w = start[s0] * (1 - (1 - p) ** G) / p
        for path, prob in paths:
            if path[-1] == model.answers[s0]:
                for n in range(N):
                    edges[n, path[n], path[n + 1]] += w * prob
    expected = P.copy()
    for n in range(N):
        for s in range(M):
            total = sum(edges[n, s])
            if total:
                expected[n, s] = [e / total for e in edges[n, s]]
    rule = FilteredSftPositive(group_size=G, samples_per_question=G, refit=True)
    got = rule.exact_step(P, model).P
    assert got.dtype == object
    assert got.tolist() == expected.tolist()


def test_refit_positive_sampled_runs_and_stays_stochastic():
    P, model = ref.random_model(3, 3, 2)
    rule = FilteredSftPositive(group_size=2, samples_per_question=8, refit=True)
    update = rule.sampled_step(P, model, None, np.random.default_rng(0))
    np.testing.assert_allclose(update.P.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(update.P[P == 0] == 0)


def test_gradient_rule_refuses_fraction_policies():
    P = ref.exact_fraction_policy(21, 3, 2)
    model = ChainMDP.create(3, 2)
    with pytest.raises(ValueError, match="float64"):
        FilteredSftNegative(group_size=2, samples_per_question=2).exact_step(P, model)


def test_registered_names():
    assert isinstance(make_rule("fisft+"), FilteredSftPositive)
    assert isinstance(make_rule("fisft-"), FilteredSftNegative)
    assert isinstance(make_rule("fisft+-"), FilteredSftBoth)
