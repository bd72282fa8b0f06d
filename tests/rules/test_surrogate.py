"""The exact clipped surrogate: objective, analytic gradient, ascent, and its sampled version."""

from __future__ import annotations

import numpy as np
import pytest

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.critic import penalty_advantages, visit_edges
from rlstar_theory.rules.grpo import Grpo
from rlstar_theory.rules.surrogate import (
    clipped_surrogate_ascent,
    clipped_surrogate_step,
    outcome_edges,
    sampled_surrogate_step,
    surrogate_gradient,
    surrogate_objective,
)
from tests.rules._paths import (
    clip_margin,
    clipped,
    finite_difference,
    k3,
    log_ratio,
    paths_from,
    perturbed_logits,
    random_policy,
)

SEEDS = range(6)


def _model(rng, M: int, N: int) -> ChainMDP:
    truth = rng.integers(0, M, size=(N, M))
    start = rng.integers(0, 4, size=M).astype(float)
    start[rng.integers(M)] += 1
    return ChainMDP.create(M, N, truth=truth, start=start / start.sum())


def _coefficients(rng, model: ChainMDP) -> tuple[np.ndarray, np.ndarray]:
    rho = model.weights("train") / model.N
    return rho * rng.uniform(0.2, 2.0, model.M), -rho * rng.uniform(0.2, 2.0, model.M)


def _brute_objective(P_theta, P_old, model, cp, cn, eps, beta=0.0, P_ref=None, kw=None):
    """Sum over every (question, path) of the clipped per-step terms, minus beta k3."""
    total = 0.0
    for s0 in range(model.M):
        paths, prob = paths_from(P_old, 0, s0)
        live = prob > 0
        paths, prob = paths[live], prob[live]
        correct = paths[:, -1] == model.answers[s0]
        for n in range(model.N):
            a, b = paths[:, n], paths[:, n + 1]
            r = P_theta[n][a, b] / P_old[n][a, b]
            term = clipped(r, np.where(correct, cp[s0], cn[s0]), eps)
            if beta > 0:
                term = term - beta * kw[s0] * k3(P_theta[n][a, b], P_ref[n][a, b])
            total += float(prob @ term)
    return total


@pytest.mark.parametrize("seed", SEEDS)
def test_objective_and_gradient_match_path_enumeration(seed):
    """L(theta) of the edge form equals the sum over all paths; its analytic gradient equals
    central differences of that sum (with the k3 KL, at ratios outside the trust region)."""
    rng = np.random.default_rng(seed)
    M, N, eps, beta = 3, 3 if seed % 2 else 2, 0.2, 0.3
    model = _model(rng, M, N)
    P_old = random_policy(rng, M, N, zeros=True)
    P_ref = np.where(P_old > 0, random_policy(rng, M, N, zeros=False), 0.0)
    P_ref /= P_ref.sum(axis=-1, keepdims=True)
    cp, cn = _coefficients(rng, model)
    kw = model.weights("train") / N
    pos, neg = outcome_edges(P_old, model, cp, cn)
    visits = visit_edges(P_old, kw)
    theta = perturbed_logits(rng, P_old, eps)
    P_theta = operator.softmax(theta)
    r = np.divide(P_theta, P_old, out=np.ones(P_old.shape), where=P_old > 0)
    assert r.max() > 1 + eps and r.min() < 1 - eps  # the clip is active somewhere

    def brute(t):
        return _brute_objective(operator.softmax(t), P_old, model, cp, cn, eps, beta, P_ref, kw)

    exact = surrogate_objective(P_theta, P_old, pos, neg, eps, beta, P_ref, visits)
    assert exact == pytest.approx(brute(theta), abs=1e-12)
    analytic = surrogate_gradient(P_theta, P_old, pos, neg, eps, beta, P_ref, visits)
    np.testing.assert_allclose(analytic, finite_difference(brute, theta), atol=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_edge_gradient_matches_finite_differences(seed):
    """Arbitrary signed edge weights (PPO-type), unclipped and clipped."""
    rng = np.random.default_rng(100 + seed)
    M, N = 4, 2
    P_old = random_policy(rng, M, N)
    pos = rng.random(P_old.shape) * (P_old > 0)
    neg = -rng.random(P_old.shape) * (P_old > 0)
    for eps in (0.1, np.inf):
        theta = perturbed_logits(rng, P_old, 0.1)

        def objective(t, eps=eps):
            return surrogate_objective(operator.softmax(t), P_old, pos, neg, eps)

        analytic = surrogate_gradient(operator.softmax(theta), P_old, pos, neg, eps)
        np.testing.assert_allclose(analytic, finite_difference(objective, theta), atol=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_epoch_without_kl_is_the_gradient_step(seed):
    rng = np.random.default_rng(200 + seed)
    M, N = 2 + seed % 3, 1 + seed % 3
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    cp, cn = _coefficients(rng, model)
    lr = 0.5 + seed
    got = clipped_surrogate_step(P, model, cp, cn, eps_clip=0.2, epochs=1, lr=lr)
    C = success_edges(P, cp - cn, model.answers, model.identity)
    np.testing.assert_allclose(got, operator.gradient_step(P, C, lr), rtol=0, atol=1e-13)
    assert np.all(got[P == 0] == 0)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_one_epoch_k3_is_the_visit_weighted_pull_to_the_reference(seed):
    """ALGORITHMS.md §3d/§9: the in-loss k3 KL adds ``-beta d_{n-1}(s) (P - P_ref)[s, :]`` to
    the logit gradient on the first epoch (``d`` the weighted visits of ``s``)."""
    rng = np.random.default_rng(300 + seed)
    M, N, beta, lr = 3, 3, 0.7, 0.9
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    P_ref = np.where(P > 0, random_policy(rng, M, N, zeros=False), 0.0)
    P_ref /= P_ref.sum(axis=-1, keepdims=True)
    cp, cn = _coefficients(rng, model)
    got = clipped_surrogate_step(P, model, cp, cn, lr=lr, beta=beta, P_ref=P_ref)
    kw = model.weights("train") / N
    d = np.empty((N, M))
    d[0] = kw
    for n in range(1, N):
        d[n] = d[n - 1] @ P[n - 1]
    C = success_edges(P, cp - cn, model.answers, model.identity)
    step = operator.gradient(P, C) - beta * d[:, :, None] * (P - P_ref)
    expected = operator.softmax(operator.logits(P) + lr * step)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


def test_clip_stops_the_push_at_the_trust_region():
    """One step, two states, identity truth, ``P = 1/2``: every row has one right and one
    wrong edge with weights ``+-1/4``. The two ratios move symmetrically (``r_right = 2 -
    r_wrong``); clipping stops both when they reach ``1 +- eps`` (up to one step's overshoot)
    and the ascent then stands still, while unclipped ascent runs on towards ``r = 2``."""
    model = ChainMDP.create(2, 1)
    P = np.full((1, 2, 2), 0.5)
    rho = model.weights()
    eps, lr = 0.2, 0.1
    clipped_P = clipped_surrogate_step(P, model, rho, -rho, eps_clip=eps, epochs=200, lr=lr)
    longer = clipped_surrogate_step(P, model, rho, -rho, eps_clip=eps, epochs=400, lr=lr)
    free = clipped_surrogate_step(P, model, rho, -rho, eps_clip=np.inf, epochs=200, lr=lr)
    r_right = np.diagonal(clipped_P[0]) / 0.5
    # one step moves r by at most lr * |gradient| * 2 P(1-P) / P <= lr * 0.25 * 1.2 * 2
    overshoot = lr * 0.25 * 1.2 * 2
    assert np.all(r_right > 1 + eps)
    assert np.all(r_right <= 1 + eps + overshoot)
    np.testing.assert_array_equal(longer, clipped_P)
    assert np.all(np.diagonal(free[0]) / 0.5 > 1.9)


def test_clip_binds_with_large_steps_on_a_random_model():
    """Many large steps: the unclipped surrogate (linear in r) runs to a vertex, while the
    clipped one stays near the old policy."""
    rng = np.random.default_rng(7)
    M, N = 4, 3
    model = _model(rng, M, N)
    P = random_policy(rng, M, N, zeros=False)
    cp, cn = _coefficients(rng, model)
    scale = 1.0 / success_edges(P, cp - cn, model.answers, model.identity).max()
    kwargs = {"epochs": 50, "lr": 0.05 * scale}
    free = clipped_surrogate_step(P, model, cp, cn, eps_clip=np.inf, **kwargs)
    held = clipped_surrogate_step(P, model, cp, cn, eps_clip=0.2, **kwargs)
    tv_free = 0.5 * np.abs(free - P).sum(axis=-1).max()
    tv_held = 0.5 * np.abs(held - P).sum(axis=-1).max()
    assert tv_held < 0.5 * tv_free


def test_reward_penalty_split_matches_path_enumeration():
    """kl="reward-penalty": each sample's advantage is ``coef/kl_weight + a^KL`` on its step,
    split by sign per (question, outcome, edge); one epoch is the linear gradient step."""
    rng = np.random.default_rng(11)
    M, N, beta, eps, lr = 3, 3, 0.4, 0.2, 3.0
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    P_ref = np.where(P > 0, random_policy(rng, M, N, zeros=False), 0.0)
    P_ref /= P_ref.sum(axis=-1, keepdims=True)
    cp, cn = _coefficients(rng, model)
    kw = model.weights("train") / N
    a_kl = penalty_advantages(P, P_ref, beta)
    pos = np.zeros(P.shape)
    neg = np.zeros(P.shape)
    for s0 in range(M):
        paths, prob = paths_from(P, 0, s0)
        correct = paths[:, -1] == model.answers[s0]
        for n in range(N):
            a, b = paths[:, n], paths[:, n + 1]
            adv = np.where(correct, cp[s0], cn[s0]) + kw[s0] * a_kl[n][a, b]
            np.add.at(pos[n], (a, b), prob * np.maximum(adv, 0))
            np.add.at(neg[n], (a, b), prob * np.minimum(adv, 0))
    for epochs in (1, 4):
        got = clipped_surrogate_step(P, model, cp, cn, eps_clip=eps, epochs=epochs, lr=lr,
                                     beta=beta, P_ref=P_ref, kl="reward-penalty")
        expected = clipped_surrogate_ascent(P, pos, neg, eps_clip=eps, epochs=epochs, lr=lr)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_reward_penalty_path_values_match_enumeration():
    """The penalty's advantage on an edge is the step's penalty ``-beta log(P/P_ref)`` plus the
    penalty still to come after it minus that before it, both by enumerating the paths."""
    rng = np.random.default_rng(12)
    M, N, beta = 3, 3, 0.6
    P = random_policy(rng, M, N)
    P_ref = np.where(P > 0, random_policy(rng, M, N, zeros=False), 0.0)
    P_ref /= P_ref.sum(axis=-1, keepdims=True)
    a_kl = penalty_advantages(P, P_ref, beta)
    for n in range(1, N + 1):
        for s in range(M):
            tail_s, prob_s = paths_from(P, n - 1, s)
            value_s = -beta * sum(
                prob_s @ log_ratio(P, P_ref, n - 1 + k, tail_s[:, k], tail_s[:, k + 1])
                for k in range(N - n + 1))
            for t in np.flatnonzero(P[n - 1][s] > 0):
                if n < N:
                    tail_t, prob_t = paths_from(P, n, t)
                    value_t = -beta * sum(
                        prob_t @ log_ratio(P, P_ref, n + k, tail_t[:, k], tail_t[:, k + 1])
                        for k in range(N - n))
                else:
                    value_t = 0.0
                step = -beta * np.log(P[n - 1][s, t] / P_ref[n - 1][s, t])
                assert a_kl[n - 1][s, t] == pytest.approx(step + value_t - value_s, abs=1e-12)


def test_bad_options_name_the_argument():
    model = ChainMDP.create(2, 1)
    P = np.full((1, 2, 2), 0.5)
    rho = model.weights()
    with pytest.raises(ValueError, match="eps_clip"):
        clipped_surrogate_step(P, model, rho, -rho, eps_clip=0)
    with pytest.raises(ValueError, match="epochs"):
        clipped_surrogate_step(P, model, rho, -rho, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        clipped_surrogate_step(P, model, rho, -rho, lr=-1)
    with pytest.raises(ValueError, match="beta"):
        clipped_surrogate_step(P, model, rho, -rho, beta=np.nan)
    with pytest.raises(ValueError, match="kl"):
        clipped_surrogate_step(P, model, rho, -rho, kl="forward")
    with pytest.raises(ValueError, match="coef_pos"):
        clipped_surrogate_step(P, model, -rho, -rho)
    with pytest.raises(ValueError, match="coef_neg"):
        clipped_surrogate_step(P, model, rho, rho)
    with pytest.raises(ValueError, match="P_ref"):
        clipped_surrogate_step(P, model, rho, -rho, beta=1.0, kl="reward-penalty",
                               P_ref=np.array([[[1.0, 0.0], [0.5, 0.5]]]))


def _grpo_model():
    rng = np.random.default_rng(21)
    model = _model(rng, 3, 2)
    return model, random_policy(rng, 3, 2, zeros=False)


def test_sampled_surrogate_edges_are_unbiased():
    """GRPO's sampled positive part (the correct samples' advantages) has the exact mean
    ``C+[rho w1 / N]``: z-scores from R independent replicates."""
    model, P = _grpo_model()
    rule = Grpo(group_size=4, samples_per_question=400, epochs=2, lr=0.5)
    reps = np.stack([sampled_surrogate_step(rule, P, model, None, seed).train_edges
                     for seed in range(40)])
    rho = model.weights("train") / model.N
    w1, _ = rule.advantage_terms(success_probability(P, model.answers))
    exact = success_edges(P, rho * w1, model.answers, model.identity)
    R, K = len(reps), rule.samples_per_question
    se = reps.std(axis=0, ddof=1) / np.sqrt(R)
    z = np.abs(reps.mean(axis=0) - exact) / np.where(se > 0, se, 1.0)
    assert z.max() < 5.0
    # an edge never seen in R K samples per question has visit probability below about
    # 20 / (R K) (else Pr(unseen) < e^-20), so its exact weight is below that times max(rho w1)
    assert np.all(exact[se == 0] < 20.0 / (R * K) * np.max(rho * w1))


def test_sampled_surrogate_step_converges_to_the_exact_step():
    """Several epochs and a k3 KL: the RMS error of the sampled step falls like 1/sqrt(K). The
    exact run clips some edges and keeps every ratio 0.02 away from the kinks ``1 +- eps``."""
    model, P = _grpo_model()
    P_ref = np.where(P > 0, np.full(P.shape, 1.0 / P.shape[-1]), 0.0)
    lr, beta = 3.0, 0.1
    rho = model.weights("train") / model.N
    w1, w0 = Grpo(group_size=4).advantage_terms(success_probability(P, model.answers))
    pos, neg = outcome_edges(P, model, rho * w1, rho * w0)
    margin, clipped_count = clip_margin(P, pos, neg, 0.2, 3, lr, beta, P_ref,
                                        visit_edges(P, rho))
    assert margin > 0.02 and clipped_count > 0

    def squared_error(K, seed):
        rule = Grpo(group_size=4, samples_per_question=K, epochs=3, lr=lr, beta=beta)
        exact = rule.exact_step(P, model, P_ref).P
        return np.mean((sampled_surrogate_step(rule, P, model, P_ref, seed).P - exact) ** 2)

    small = np.sqrt(np.mean([squared_error(200, s) for s in range(12)]))
    large = np.sqrt(np.mean([squared_error(3200, 100 + s) for s in range(12)]))
    assert large < 0.4 * small  # 1/sqrt(16) = 0.25 expected
