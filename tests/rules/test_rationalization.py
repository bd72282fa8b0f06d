"""STaR with rationalization: the weight, enumeration of attempts and hints, sampled mode."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory import symmetric_matrix
from rlstar_theory.mdp import ChainMDP, backward_values, success_edges, success_probability
from rlstar_theory.rules import WeightedRule, iterate, make_rule
from rlstar_theory.rules.rationalization import hint_policy, posterior_trajectories
from tests.rules import pg_reference as ref
from tests.rules import sample_reference as sref
from tests.rules.sample_reference import exact_model

P_GRID = np.array([0.0, 1e-6, 0.1, 0.5, 0.9, 1.0])


def _rule(K: int):
    return make_rule("rationalization", strict=True, samples_per_question=K)


def unsolvable_model() -> tuple[np.ndarray, ChainMDP]:
    """M = 3, N = 2, identity truth; no state reaches 2 at step 2, so p(2) = 0."""
    P = np.array([[[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]],
                  [[0.7, 0.3, 0.0], [0.4, 0.6, 0.0], [0.5, 0.5, 0.0]]])
    return P, ChainMDP.create(3, 2, start=[0.2, 0.3, 0.5])


# --- the weight -------------------------------------------------------------------------------

@pytest.mark.parametrize("K", [1, 2, 5])
def test_weight_is_the_issue_formula(K):
    got = _rule(K).question_weight(P_GRID)
    want = [0.0 if p == 0 else K + (1 - p) ** K / p for p in P_GRID]
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    exact = _rule(K).question_weight_exact(np.array([Fraction(0), Fraction(1, 3), Fraction(1)],
                                                    dtype=object))
    assert list(exact) == [0, K + Fraction(2, 3) ** K * 3, K]


def test_k1_weight_is_one_over_p():
    p = P_GRID[1:]
    np.testing.assert_allclose(_rule(1).question_weight(p), 1 / p, rtol=1e-15)


@pytest.mark.parametrize("K", [1, 4])
def test_hint_adds_one_minus_p_to_the_k_over_p_to_the_attempts(K):
    """The generic (attempts-only) expectation of a(c, r) = K r is K; the hint adds the rest."""
    rule = _rule(K)
    p = P_GRID[1:]
    np.testing.assert_allclose(rule.question_weight(p) - WeightedRule.question_weight(rule, p),
                               (1 - p) ** K / p, rtol=0, atol=1e-13)  # K (1 +- eps) - K


# --- exact step -------------------------------------------------------------------------------

@pytest.mark.parametrize(("M", "N", "K", "seed"),
                         [(3, 2, 1, 0), (3, 2, 2, 1), (2, 3, 3, 2), (2, 2, 2, 3)])
def test_exact_step_equals_enumerated_attempts_and_hints(M, N, K, seed):
    """Fractions: every K-tuple of attempts, and the posterior draw when all fail."""
    P, model = exact_model(seed, M, N, split=seed % 2 == 1)
    update = _rule(K).exact_step(model.check_policy(P), model)
    want = sref.rationalization_data(P, model, K, exact=True)
    assert (update.train_edges == want).all()
    assert (update.P == sref.row_normalise(P, want)).all()


def test_exact_floats_match_enumeration_with_an_unsolvable_question():
    P, model = unsolvable_model()
    K = 3
    p = success_probability(P, model.answers)
    assert p[2] == 0 and np.all(p[:2] > 0)
    rule = _rule(K)
    assert rule.weights(P, model)[2] == 0
    update = rule.exact_step(P, model)
    np.testing.assert_allclose(update.train_edges, sref.rationalization_data(P, model, K, False),
                               rtol=0, atol=1e-15)
    assert np.all(update.train_edges[0, 2] == 0)  # question 2 contributes no data at all
    hinted = round(sum((1 - p[q]) ** K for q in (0, 1)))
    assert update.samples == K * 3 + hinted


def test_k1_gives_every_solvable_question_its_rho_in_data():
    """w p = rho for K = 1: step-1 row s0 of the data carries exactly rho(s0) (p > 0)."""
    P, model = unsolvable_model()
    edges = _rule(1).exact_step(P, model).train_edges
    np.testing.assert_allclose(edges[0].sum(axis=1), [0.2, 0.3, 0.0], rtol=1e-14, atol=0)
    star = make_rule("star").exact_step(P, model).train_edges
    p = success_probability(P, model.answers)
    np.testing.assert_allclose(star[0].sum(axis=1), model.start * p, rtol=1e-14)


@pytest.mark.parametrize("K", [1, 3, 16])
def test_symmetric_family_is_star(K):
    """P(lam), identity truth, uniform start: one p for all questions, so w = c rho and the
    refit is STaR's."""
    M = 5
    model = ChainMDP.create(M, 3)
    P = symmetric_matrix([0.3, 0.1, 0.5], M)
    p = success_probability(P, model.answers)
    np.testing.assert_allclose(p, p[0], rtol=1e-14)
    star = make_rule("star").exact_step(P, model).P
    got = _rule(K).exact_step(P, model).P
    np.testing.assert_allclose(got, star, rtol=0, atol=1e-14)
    assert np.abs(star - P).max() > 0.01  # the step moves


def test_rationalization_differs_from_star_when_p_differs():
    P, model = ref.random_model(3, 3, 2)
    p = success_probability(P, model.answers)
    assert np.ptp(p[model.weights("train") > 0]) > 0.05
    star = make_rule("star").exact_step(P, model).P
    assert np.abs(_rule(1).exact_step(P, model).P - star).max() > 1e-3


def test_support_is_kept():
    P, model = unsolvable_model()
    for K in (1, 4):
        for update in (_rule(K).exact_step(P, model), _rule(K).sampled_step(P, model, None, 1)):
            assert np.all(update.P[P == 0] == 0)


# --- the hint ---------------------------------------------------------------------------------

def test_hint_policy_samples_the_posterior():
    """Path probabilities under the Doob transform = pi(tau) 1[correct] / p, by enumeration."""
    P, model = ref.random_model(5, 3, 3)
    V = backward_values(P, model.answers)
    for s0 in range(model.M):
        p = sum(prob for path, prob in ref.paths_of(P, s0) if path[-1] == model.answers[s0])
        if p == 0:
            continue
        hinted = dict(ref.paths_of(hint_policy(P, V[:, :, s0]), s0))
        for path, prob in ref.paths_of(P, s0):
            want = prob / p if path[-1] == model.answers[s0] else 0.0
            assert hinted[path] == pytest.approx(want, abs=1e-14)


def test_posterior_trajectories_end_at_the_answer():
    P, model = ref.random_model(6, 4, 3)
    questions = np.flatnonzero(success_probability(P, model.answers) > 0)
    paths = posterior_trajectories(P, model, questions, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(paths[:, 0]), questions)
    np.testing.assert_array_equal(paths[:, -1], model.answers[paths[:, 0]])
    for n in range(model.N):
        assert np.all(P[n][paths[:, n], paths[:, n + 1]] > 0)


# --- sampled mode -----------------------------------------------------------------------------

@pytest.mark.parametrize(("K", "seed"), [(1, 7), (3, 8)])
def test_sampled_data_is_unbiased_for_the_exact_data(K, seed):
    """Mean of R sampled rounds within 4.5 standard errors (empirical std / sqrt(R)) of
    C+[rho (K + (1-p)^K/p)]; ~18 entries, so a chance failure has probability ~1e-4."""
    P, model = ref.random_model(seed, 3, 2, split=True)
    rule = _rule(K)
    exact = rule.exact_step(P, model).train_edges
    gen = np.random.default_rng(seed)
    draws = np.array([rule.sampled_step(P, model, None, gen).train_edges for _ in range(400)])
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    err = np.abs(draws.mean(axis=0) - exact)
    assert np.all(err <= 4.5 * se + 1e-14), (err / np.where(se > 0, se, np.inf)).max()


def test_sampled_error_shrinks_like_one_over_sqrt_k():
    """Per question, the attempts give rho/K sum_i 1[tau_i correct, edge in tau_i]: K i.i.d.
    Bernoulli(E+_q) terms, so their standard deviation is sd_K = sqrt(sum_q rho_q^2 E+_q
    (1 - E+_q) / K) (E+ by enumeration). Every p here is >= 0.05, so at K = 4096 a hint fires
    with probability <= 3 (0.95)^4096 < 1e-90, and the hint's mean (1-p)^K/p is as small."""
    P, model = ref.random_model(9, 3, 2, zeros=False)
    rho = model.weights("train")
    p = success_probability(P, model.answers)
    assert p.min() >= 0.05
    var = np.zeros(P.shape)
    for s0 in range(model.M):
        e_plus = np.zeros(P.shape)
        for path, prob in ref.paths_of(P, s0):
            if path[-1] == model.answers[s0]:
                for n in range(model.N):
                    e_plus[n, path[n], path[n + 1]] += prob
        var += rho[s0] ** 2 * e_plus * (1 - e_plus)
    gen = np.random.default_rng(10)
    for K in (16, 4096):
        exact = _rule(K).exact_step(P, model).train_edges / K
        got = _rule(K).sampled_step(P, model, None, gen).train_edges / K
        hint = float(np.sum(rho * (1 - p) ** K / p)) / K
        assert np.all(np.abs(got - exact) <= 5 * np.sqrt(var / K) + hint + 1e-14)


def test_sampled_counts_attempts_and_hints():
    P, model = unsolvable_model()
    K = 2
    update = _rule(K).sampled_step(P, model, None, 3)
    assert K * 3 <= update.samples <= K * 3 + 2  # at most one hint per solvable question
    np.testing.assert_array_equal(update.train_edges[0, 2], 0)
    h = iterate(_rule(K), P, model, 2, mode="sampled", rng=4)
    assert h.samples[-1] >= 2 * K * 3


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="samples_per_question"):
        _rule(0)
    assert make_rule("rationalization").settings()["rule"] == "rationalization"


def test_success_edges_of_the_weight_are_the_exact_data():
    """The exact step is the success-edge operator at w = rho (K + (1-p)^K / p)."""
    P, model = ref.random_model(11, 3, 3)
    K = 3
    p = success_probability(P, model.answers)
    solvable = p > 0
    assert not solvable.all()  # the p = 0 question gets w = 0, not 0 * inf
    safe = np.where(solvable, p, 1.0)
    w = model.weights("train") * np.where(solvable, K + (1 - p) ** K / safe, 0.0)
    np.testing.assert_allclose(_rule(K).exact_step(P, model).train_edges,
                               success_edges(P, w, model.answers), rtol=1e-13, atol=0)
