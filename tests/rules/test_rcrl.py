"""Return-conditioned RL: the tagged likelihood, its reductions to expert iteration, sampling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.rcrl import Rcrl, TaggedHeads, tagged_counts
from rlstar_theory.rules.star import Star
from tests.rules._paths import finite_difference, paths_from, random_policy
from tests.strategies import dense_models


def _model(rng, M: int, N: int) -> ChainMDP:
    truth = rng.integers(0, M, size=(N, M))
    start = rng.integers(0, 4, size=M).astype(float)
    start[rng.integers(M)] += 1
    return ChainMDP.create(M, N, truth=truth, start=start / start.sum())


@settings(max_examples=25)
@given(dense_models(max_M=4, max_N=3))
def test_maximum_likelihood_is_expert_iteration_in_fractions(m):
    """Separate tables (and the per-edge offset, the same model reparametrised): the + head's
    MLE on the tagged counts is the STaR/EI refit, exactly."""
    model = ChainMDP.create(m.M, m.N, m.truth, [str(v) for v in m.start_exact])
    P = model.check_policy(m.P_exact)
    star = Star().exact_step(P, model).P
    for rule in (Rcrl(shared=False, fit_steps=0), Rcrl(shared=True, fit_steps=0)):
        update = rule.exact_step(P, model, rule.init_state(P, model))
        assert (update.P == star).all()
        assert (update.state.pos == star).all()


def test_gradient_fit_converges_to_expert_iteration():
    """Many likelihood-ascent steps on separate tables reach the EI refit (an interior optimum:
    strictly positive policy, bijective truth, every question asked)."""
    rng = np.random.default_rng(1)
    M, N = 3, 3
    model = ChainMDP.create(M, N, truth=np.array([rng.permutation(M) for _ in range(N)]))
    P = random_policy(rng, M, N, zeros=False)
    C_pos, _ = tagged_counts(P, model)
    lr = 1.0 / C_pos.sum(axis=-1).max()  # the row Hessians are bounded by the row sums
    rule = Rcrl(shared=False, fit_steps=4000, lr=lr)
    got = rule.exact_step(P, model, rule.init_state(P, model)).P
    np.testing.assert_allclose(got, Star().exact_step(P, model).P, rtol=0, atol=1e-9)


def _brute_likelihood(P_data, model, P_pos, P_neg) -> float:
    """``sum rho sum_tau pi_data(tau) log P_tag(tau)`` by enumerating every path."""
    w = model.weights("train")
    total = 0.0
    for s0 in np.flatnonzero(w):
        paths, prob = paths_from(P_data, 0, s0)
        live = prob > 0
        paths, prob = paths[live], prob[live]
        correct = paths[:, -1] == model.answers[s0]
        for n in range(model.N):
            a, b = paths[:, n], paths[:, n + 1]
            loglik = np.where(correct, np.log(P_pos[n][a, b]), np.log(P_neg[n][a, b]))
            total += w[s0] * float(prob @ loglik)
    return total


@pytest.mark.parametrize("phi", ["edge", "target"])
def test_one_fit_step_is_the_likelihood_gradient(phi):
    """Heads ``softmax(theta +- phi)``; one step moves them by ``lr`` times the gradient of the
    enumerated tagged likelihood in ``(theta, phi)`` (central differences)."""
    rng = np.random.default_rng(2)
    M, N, lr = 3, 3, 0.7
    model = _model(rng, M, N)
    P_data = random_policy(rng, M, N)
    theta = operator.logits(P_data) + 0.3 * rng.standard_normal(P_data.shape)
    phi_shape = (N, M, M) if phi == "edge" else (N, 1, M)
    offset = 0.3 * rng.standard_normal(phi_shape)

    def likelihood(t, f):
        return _brute_likelihood(P_data, model, operator.softmax(t + f), operator.softmax(t - f))

    C_pos, C_neg = tagged_counts(P_data, model)
    P_pos, P_neg = operator.softmax(theta + offset), operator.softmax(theta - offset)
    counted = (C_pos * np.log(np.where(C_pos > 0, P_pos, 1.0))).sum() + \
        (C_neg * np.log(np.where(C_neg > 0, P_neg, 1.0))).sum()
    assert counted == pytest.approx(likelihood(theta, offset), abs=1e-12)

    d_theta = finite_difference(lambda t: likelihood(t, offset), theta)
    d_phi = finite_difference(lambda f: likelihood(theta, f), offset)
    rule = Rcrl(lr=lr, fit_steps=1, phi=phi)
    new = rule.fit(TaggedHeads(pos=P_pos, neg=P_neg), C_pos, C_neg)
    np.testing.assert_allclose(new.pos, operator.softmax(theta + offset + lr * (d_theta + d_phi)),
                               rtol=0, atol=1e-8)
    np.testing.assert_allclose(new.neg, operator.softmax(theta - offset + lr * (d_theta - d_phi)),
                               rtol=0, atol=1e-8)


def test_edge_offset_is_separate_tables_at_twice_the_step():
    """(theta, phi) -> (theta + phi, theta - phi) is a linear bijection: shared per-edge RCRL
    with step lr is separate tables with step 2 lr, so wrong-tagged samples never reach the
    decoded policy."""
    rng = np.random.default_rng(3)
    model = _model(rng, 4, 3)
    P = random_policy(rng, 4, 3)
    shared = Rcrl(lr=0.4, fit_steps=5, phi="edge")
    separate = Rcrl(lr=0.8, fit_steps=5, shared=False)
    state_a, state_b = shared.init_state(P, model), separate.init_state(P, model)
    for _ in range(3):
        a = shared.exact_step(state_a.pos, model, state_a)
        b = separate.exact_step(state_b.pos, model, state_b)
        state_a, state_b = a.state, b.state
        np.testing.assert_allclose(a.P, b.P, rtol=0, atol=1e-13)
        np.testing.assert_allclose(a.state.neg, b.state.neg, rtol=0, atol=1e-13)


def test_negatives_move_the_decoded_policy_only_through_a_target_offset():
    rng = np.random.default_rng(4)
    model = _model(rng, 3, 3)
    P = random_policy(rng, 3, 3, zeros=False)
    heads = TaggedHeads(pos=P, neg=P)
    C_pos, C_neg = tagged_counts(P, model)
    other = C_neg * rng.uniform(0.2, 3.0, C_neg.shape)
    edge = Rcrl(lr=2.0, fit_steps=3, phi="edge")
    np.testing.assert_allclose(edge.fit(heads, C_pos, C_neg).pos,
                               edge.fit(heads, C_pos, other).pos, rtol=0, atol=1e-14)
    target = Rcrl(lr=2.0, fit_steps=3, phi="target")
    moved = np.abs(target.fit(heads, C_pos, C_neg).pos - target.fit(heads, C_pos, other).pos)
    assert moved.max() > 1e-3


def test_sampled_counts_are_unbiased():
    """Mean of R independent sampled tagged counts against the exact ones: z < 5."""
    rng = np.random.default_rng(5)
    model = _model(rng, 3, 2)
    P = random_policy(rng, 3, 2, zeros=False)
    rule = Rcrl(samples_per_question=300)
    reps = [rule.sampled_counts(P, model, np.random.default_rng(s)) for s in range(40)]
    for k, target in enumerate(tagged_counts(P, model)):
        sample = np.stack([rep[k] for rep in reps])
        se = sample.std(axis=0, ddof=1) / np.sqrt(len(reps))
        seen = se > 0
        assert seen.sum() >= 0.8 * np.count_nonzero(target)
        assert (np.abs(sample.mean(axis=0) - target)[seen] / se[seen]).max() < 5.0
    assert reps[0][2] == 300 * np.count_nonzero(model.weights("train"))


@pytest.mark.parametrize("fit_steps", [0, 3])
def test_sampled_step_converges_to_the_exact_step(fit_steps):
    """The RMS error of the sampled step falls like 1/sqrt(K) (the refit's ratio bias is
    O(1/K))."""
    rng = np.random.default_rng(6)
    model = _model(rng, 3, 2)
    P = random_policy(rng, 3, 2, zeros=False)
    rule = Rcrl(fit_steps=fit_steps, lr=3.0, phi="edge" if fit_steps == 0 else "target")
    exact = rule.exact_step(P, model, None).P

    def squared_error(K, seed):
        return np.mean((replace(rule, samples_per_question=K).sampled_step(P, model, None, seed).P
                        - exact) ** 2)

    small = np.sqrt(np.mean([squared_error(200, s) for s in range(12)]))
    large = np.sqrt(np.mean([squared_error(3200, 100 + s) for s in range(12)]))
    assert large < 0.4 * small  # 1/sqrt(16) = 0.25 expected


def test_iterate_in_fractions_follows_star():
    model = ChainMDP.create(3, 2, truth=np.array([[1, 2, 0], [0, 0, 2]]))
    P0 = model.check_policy(np.array(
        [[["1/2", "1/4", "1/4"], ["1/3", "1/3", "1/3"], ["0", "1/2", "1/2"]],
         [["1/5", "2/5", "2/5"], ["1/2", "0", "1/2"], ["1/4", "1/4", "1/2"]]], dtype=object))
    rcrl = iterate(make_rule("rcrl", fit_steps=0, shared=False), P0, model, iterations=3,
                   maj_ks=(1,))
    star = iterate(make_rule("star"), P0, model, iterations=3, maj_ks=(1,))
    assert (rcrl.P == star.P).all()
    sampled = iterate(make_rule("rcrl", samples_per_question=4), P0, model, iterations=2,
                      mode="sampled", rng=3, maj_ks=(1,))
    np.testing.assert_array_equal(sampled.samples, [0, 12, 24])


def test_bad_options_name_the_argument():
    for kwargs, name in [({"fit_steps": -1}, "fit_steps"), ({"phi": "row"}, "phi"),
                         ({"lr": 0.0}, "lr"), ({"shared": "yes"}, "shared"),
                         ({"fit_steps": 0, "phi": "target"}, "fit_steps")]:
        with pytest.raises(ValueError, match=name):
            Rcrl(**kwargs)


def test_symmetric_family():
    """Identity truth, uniform questions, ``P(lam)``: the MLE is the STaR closed form; a
    per-target offset is a row constant there (all targets alike) and the heads start equal, so
    ``G_+ + G_- = gradient(Call) = 0`` and the decoded policy never moves."""
    from rlstar_theory import symmetric_matrix, symmetric_star_step

    M, lams = 5, np.array([0.2, 0.45, 0.1])
    model = ChainMDP.create(M, len(lams))
    P = symmetric_matrix(lams, M)
    mle = Rcrl(fit_steps=0).exact_step(P, model, None).P
    np.testing.assert_allclose(mle, symmetric_matrix(symmetric_star_step(lams, M), M),
                               rtol=0, atol=1e-13)
    rule = Rcrl(fit_steps=4, lr=5.0, phi="target")
    update = rule.exact_step(P, model, rule.init_state(P, model))
    np.testing.assert_allclose(update.P, P, rtol=0, atol=1e-14)
    edge = Rcrl(fit_steps=4, lr=5.0, phi="edge").exact_step(P, model, None).P
    assert np.abs(edge - P).max() > 1e-2
