"""PPO with an exact critic: reductions, enumeration, KL forms, sampling, spurious reward."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.critic import critic_edges, critic_mean_edges, visit_edges
from rlstar_theory.rules.ppo import Ppo
from rlstar_theory.rules.surrogate import surrogate_gradient, surrogate_objective
from tests.rules._paths import (
    clip_margin,
    clipped,
    finite_difference,
    k3,
    kl_value,
    log_ratio,
    paths_from,
    perturbed_logits,
    random_policy,
)


def _model(rng, M: int, N: int, split: bool = False) -> ChainMDP:
    truth = rng.integers(0, M, size=(N, M))
    start = rng.integers(0, 4, size=M).astype(float)
    start[rng.integers(M)] += 1
    train = None
    if split:
        train = np.ones(M, dtype=bool)
        train[rng.integers(M)] = False
        start[train] += 1
    return ChainMDP.create(M, N, truth=truth, start=start / start.sum(), train=train)


def _reference(rng, P: np.ndarray) -> np.ndarray:
    """A reference with the support of ``P`` (the KL penalty is finite)."""
    M, N = P.shape[1], P.shape[0]
    P_ref = np.where(P > 0, random_policy(rng, M, N, zeros=False), 0.0)
    return P_ref / P_ref.sum(axis=-1, keepdims=True)


def _brute_edges(P, P_ref, model, beta):
    """pos/neg of the exact-critic advantages by enumerating every (question, path)."""
    N, M = model.N, model.M
    w = model.weights("train")
    value = {(n, s, s0): kl_value(P, P_ref, model, beta, n, s, s0)
             for s0 in range(M) if w[s0] > 0 for n in range(N + 1) for s in range(M)}
    pos = np.zeros(P.shape)
    neg = np.zeros(P.shape)
    for s0 in np.flatnonzero(w):
        paths, prob = paths_from(P, 0, s0)
        for i in np.flatnonzero(prob):
            for n in range(1, N + 1):
                a, b = paths[i, n - 1], paths[i, n]
                adv = (-beta * float(log_ratio(P, P_ref, n - 1, a, b))
                       + value[n, b, s0] - value[n - 1, a, s0])
                pos[n - 1, a, b] += w[s0] * prob[i] * max(adv, 0.0)
                neg[n - 1, a, b] += w[s0] * prob[i] * min(adv, 0.0)
    return pos, neg


@pytest.mark.parametrize("seed", range(6))
def test_one_epoch_without_kl_is_reinforce(seed):
    """ALGORITHMS.md §0.5 F1: per-step exact-critic advantages and uniform credit ``w = rho``
    give the same expected gradient, so one epoch equals ``gradient_step(P, C+[rho], lr)``."""
    rng = np.random.default_rng(seed)
    M, N = 2 + seed % 3, 1 + seed % 4
    model = _model(rng, M, N, split=seed % 2 == 1)
    P = random_policy(rng, M, N)
    lr = 0.3 + seed
    got = Ppo(lr=lr).exact_step(P, model, _reference(rng, P)).P
    C = success_edges(P, model.weights("train"), model.answers, model.identity)
    np.testing.assert_allclose(got, operator.gradient_step(P, C, lr), rtol=0, atol=1e-13)
    reinforce = make_rule("reinforce", lr=lr).exact_step(P, model, None).P
    np.testing.assert_allclose(got, reinforce, rtol=0, atol=1e-13)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_exact_edges_match_path_enumeration(seed, beta):
    """pos/neg of the exact critic (KL penalty in the reward) against enumeration of every
    path, with values ``V^KL`` themselves from enumerated continuations."""
    rng = np.random.default_rng(10 + seed)
    M, N = 3, 1 + seed % 3
    model = _model(rng, M, N, split=seed == 3)
    P = random_policy(rng, M, N)
    P_ref = _reference(rng, P)
    pos, neg = critic_edges(P, model, model.weights("train"), beta, P_ref)
    bpos, bneg = _brute_edges(P, P_ref, model, beta)
    np.testing.assert_allclose(pos, bpos, rtol=0, atol=1e-12)
    np.testing.assert_allclose(neg, bneg, rtol=0, atol=1e-12)
    mean = critic_mean_edges(P, model, model.weights("train"), beta, P_ref)
    np.testing.assert_allclose(pos + neg, mean, rtol=0, atol=1e-13)


@pytest.mark.parametrize("kl", ["reward", "loss"])
def test_surrogate_matches_path_enumeration(kl):
    """``L(theta)`` of PPO (clip, several epochs' worth of drift, either KL form) as a sum over
    every path of ``min(r A, clip(r) A)`` minus ``beta k3``, and its gradient by differences."""
    rng = np.random.default_rng(3)
    M, N, eps, beta = 3, 3, 0.2, 0.4
    model = _model(rng, M, N)
    P_old = random_policy(rng, M, N)
    P_ref = _reference(rng, P_old)
    rule = Ppo(epochs=3, beta=beta, kl=kl, eps_clip=eps)
    pos, neg = rule.exact_edges(P_old, model, P_ref)
    visits = visit_edges(P_old, model.weights("train"))
    w = model.weights("train")
    reward_beta = beta if kl == "reward" else 0.0
    value = {(n, s, s0): kl_value(P_old, P_ref, model, reward_beta, n, s, s0)
             for s0 in range(M) for n in range(N + 1) for s in range(M)}

    def brute(theta):
        P = operator.softmax(theta)
        total = 0.0
        for s0 in range(M):
            paths, prob = paths_from(P_old, 0, s0)
            for i in np.flatnonzero(prob):
                for n in range(1, N + 1):
                    a, b = paths[i, n - 1], paths[i, n]
                    adv = (-reward_beta * float(log_ratio(P_old, P_ref, n - 1, a, b))
                           + value[n, b, s0] - value[n - 1, a, s0])
                    term = clipped(P[n - 1, a, b] / P_old[n - 1, a, b], adv, eps)
                    if kl == "loss":
                        term -= beta * k3(P[n - 1, a, b], P_ref[n - 1, a, b])
                    total += w[s0] * prob[i] * term
        return total

    theta = perturbed_logits(rng, P_old, eps)
    P = operator.softmax(theta)
    loss_beta = beta if kl == "loss" else 0.0
    exact = surrogate_objective(P, P_old, pos, neg, eps, loss_beta, P_ref, visits)
    assert exact == pytest.approx(brute(theta), abs=1e-12)
    grad = surrogate_gradient(P, P_old, pos, neg, eps, loss_beta, P_ref, visits)
    np.testing.assert_allclose(grad, finite_difference(brute, theta), atol=1e-7)


def test_kl_in_the_reward_ascends_the_regularised_return():
    """With ``kl="reward"`` the first epoch's gradient is that of
    ``J - beta sum rho E[sum_n log(P_n/P_ref,n)]``, both computed by path enumeration and
    central differences in the logits."""
    rng = np.random.default_rng(5)
    M, N, beta = 3, 3, 0.7
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    P_ref = _reference(rng, P)
    w = model.weights("train")

    def regularised(theta):
        Pt = operator.softmax(theta)
        total = 0.0
        for s0 in range(M):
            paths, prob = paths_from(Pt, 0, s0)
            ret = (paths[:, -1] == model.answers[s0]).astype(float)
            for n in range(N):
                ret -= beta * log_ratio(Pt, P_ref, n, paths[:, n], paths[:, n + 1])
            total += w[s0] * float(prob @ ret)
        return total

    pos, neg = Ppo(beta=beta, kl="reward").exact_edges(P, model, P_ref)
    grad = surrogate_gradient(P, P, pos, neg, 0.2)
    np.testing.assert_allclose(grad, finite_difference(regularised, operator.logits(P)),
                               atol=1e-7)


def test_kl_in_the_loss_pulls_visited_rows_to_the_reference():
    """``kl="loss"``, one epoch: REINFORCE plus ``-beta d_{n-1}(s) (P - P_ref)[s, :]``."""
    rng = np.random.default_rng(6)
    M, N, beta, lr = 3, 3, 0.8, 1.3
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    P_ref = _reference(rng, P)
    got = Ppo(lr=lr, beta=beta, kl="loss").exact_step(P, model, P_ref).P
    w = model.weights("train")
    d = np.empty((N, M))
    d[0] = w
    for n in range(1, N):
        d[n] = d[n - 1] @ P[n - 1]
    C = success_edges(P, w, model.answers, model.identity)
    step = operator.gradient(P, C) - beta * d[:, :, None] * (P - P_ref)
    np.testing.assert_allclose(got, operator.softmax(operator.logits(P) + lr * step),
                               rtol=0, atol=1e-13)


def _sampled_model():
    rng = np.random.default_rng(8)
    model = _model(rng, 3, 2)
    P = random_policy(rng, 3, 2, zeros=False)
    return model, P, _reference(rng, P)


@pytest.mark.parametrize("reward", ["outcome", "bernoulli"])
def test_sampled_edges_are_unbiased(reward):
    """Mean of R independent sampled (pos, neg, visits) against the exact ones: z < 5."""
    model, P, P_ref = _sampled_model()
    rule = Ppo(beta=0.3, samples_per_question=300, reward=reward)
    reps = [rule.sampled_edges(P, model, P_ref, np.random.default_rng(s)) for s in range(40)]
    w = model.weights("train")
    exact = (*critic_edges(P, model, w, 0.3, P_ref, reward), visit_edges(P, w))
    for k, target in enumerate(exact):
        sample = np.stack([rep[k] for rep in reps])
        se = sample.std(axis=0, ddof=1) / np.sqrt(len(reps))
        seen = se > 0
        assert seen.sum() >= 0.8 * np.count_nonzero(target)
        z = np.abs(sample.mean(axis=0) - target)[seen] / se[seen]
        assert z.max() < 5.0
    assert reps[0][3] == rule.samples_per_question * model.M


def test_sampled_step_converges_to_the_exact_step():
    """Clipped, 3 epochs, KL in the reward: the RMS error falls like 1/sqrt(K). The exact run
    clips some edges and keeps every ratio 0.02 away from the kinks ``1 +- eps``."""
    model, P, P_ref = _sampled_model()
    rule = Ppo(epochs=3, lr=6.0, beta=0.2, kl="reward")
    margin, clipped_count = clip_margin(P, *rule.exact_edges(P, model, P_ref), 0.2, 3, 6.0)
    assert margin > 0.02 and clipped_count > 0
    exact = rule.exact_step(P, model, P_ref).P

    def squared_error(K, seed):
        sampled = replace(rule, samples_per_question=K).sampled_step(P, model, P_ref, seed)
        return np.mean((sampled.P - exact) ** 2)

    small = np.sqrt(np.mean([squared_error(200, s) for s in range(12)]))
    large = np.sqrt(np.mean([squared_error(3200, 100 + s) for s in range(12)]))
    assert large < 0.4 * small  # 1/sqrt(16) = 0.25 expected


@pytest.mark.parametrize("eps_clip", [0.2, np.inf])
@pytest.mark.parametrize("epochs", [1, 5])
def test_spurious_reward_exact_step_is_the_identity(eps_clip, epochs):
    """Bernoulli(1/2) reward independent of the path: its exact advantages are ``+-1/4`` of the
    last step's visits (pos = -neg), so the expected gradient is 0 and P does not move."""
    rng = np.random.default_rng(9)
    model = _model(rng, 3, 3)
    P = random_policy(rng, 3, 3)
    rule = Ppo(lr=50.0, epochs=epochs, eps_clip=eps_clip, reward="bernoulli")
    pos, neg = critic_edges(P, model, model.weights("train"), reward="bernoulli")
    np.testing.assert_array_equal(pos, -neg)
    np.testing.assert_array_equal(pos[:-1], 0.0)
    np.testing.assert_allclose(pos[-1], 0.25 * visit_edges(P, model.weights("train"))[-1],
                               rtol=1e-15, atol=0)
    np.testing.assert_allclose(rule.exact_step(P, model, P).P, P, rtol=0, atol=1e-14)


def test_spurious_reward_sampled_gradient_has_mean_zero():
    """The first epoch's sampled gradient (unclipped at ``r = 1``) is 0 before the last step
    and averages to 0 on it: z < 5."""
    model, P, _ = _sampled_model()
    rule = Ppo(samples_per_question=200, reward="bernoulli")
    grads = []
    for seed in range(60):
        pos, neg, _, _ = rule.sampled_edges(P, model, P, np.random.default_rng(seed))
        grads.append(surrogate_gradient(P, P, pos, neg, np.inf))
    grads = np.stack(grads)
    np.testing.assert_array_equal(grads[:, :-1], 0.0)  # U_n = 1/2 before the last step
    last = grads[:, -1]
    se = last.std(axis=0, ddof=1) / np.sqrt(len(last))
    live = P[-1] > 0
    assert np.all(se[live] > 0)
    assert (np.abs(last.mean(axis=0))[live] / se[live]).max() < 5.0


def test_iterate_runs_both_modes():
    rng = np.random.default_rng(12)
    model = _model(rng, 3, 2)
    P0 = random_policy(rng, 3, 2, zeros=False)
    rule = make_rule("ppo", lr=0.5, epochs=2, beta=0.1, samples_per_question=8)
    exact = iterate(rule, P0, model, iterations=4, maj_ks=(1,))
    assert np.all(np.diff(exact.train.J) > 0)  # small steps ascend J (and the KL is small)
    sampled = iterate(rule, P0, model, iterations=3, mode="sampled", rng=1, maj_ks=(1,))
    questions = np.count_nonzero(model.weights("train"))  # questions with mass
    np.testing.assert_array_equal(sampled.samples, 8 * questions * np.arange(4))
    np.testing.assert_array_equal(exact.samples, 8 * questions * np.arange(5))


def test_bad_options_name_the_argument():
    for kwargs, name in [({"kl": "forward"}, "kl"), ({"reward": "noise"}, "reward"),
                         ({"eps_clip": 0.0}, "eps_clip"), ({"epochs": 0}, "epochs"),
                         ({"beta": -1.0}, "beta"), ({"lr": 0.0}, "lr")]:
        with pytest.raises(ValueError, match=name):
            Ppo(**kwargs)


def _symmetric_ppo_step(lams, M: int, lr: float, eps: float, epochs: int):
    """PPO (exact critic, no KL) on ``P(lam) = lam I + (1 - lam)/M 11^T``, identity truth and
    uniform questions, derived by hand; also returns the closest ratio to a clip kink.

    With ``D_x = x + (1-x)/M``, ``O_x = (1-x)/M``, ``a = prod_{m<n} lam_m`` (visits) and
    ``b = prod_{m>n} lam_m`` (values ``V_n(s; s0) = D_b`` if ``s = s0`` else ``O_b``;
    ``V_{n-1}`` uses ``lam_n b``), question ``s0`` on the edge ``s -> s'`` has the advantage

    * diagonal ``s' = s``: ``D_b - D_{lam b}`` (> 0) if ``s0 = s``, else ``O_b - O_{lam b}`` (< 0);
    * off-diagonal: ``D_b - O_{lam b}`` (> 0) if ``s0 = s'``, ``O_b - D_{lam b}`` (< 0) if
      ``s0 = s``, and ``O_b - O_{lam b}`` (< 0) for the other ``M - 2`` questions.

    Weighting by ``1/M``, the visits ``D_a`` (``s0 = s``) or ``O_a`` and ``P_n[s, s']`` gives
    ``pos``/``neg`` of a diagonal and of an off-diagonal edge; every row then follows the
    two-logit clipped ascent.
    """
    lams = np.asarray(lams, dtype=float)
    out = np.empty_like(lams)
    margin = np.inf

    def diag(x):
        return x + (1 - x) / M

    def off(x):
        return (1 - x) / M

    for n, lam in enumerate(lams):
        a, b = np.prod(lams[:n]), np.prod(lams[n + 1:])
        d_l, o_l = diag(lam), off(lam)
        pos_d = diag(a) * d_l * (diag(b) - diag(lam * b)) / M
        neg_d = (M - 1) * off(a) * d_l * (off(b) - off(lam * b)) / M
        pos_o = off(a) * o_l * (diag(b) - off(lam * b)) / M
        neg_o = (diag(a) * o_l * (off(b) - diag(lam * b))
                 + (M - 2) * off(a) * o_l * (off(b) - off(lam * b))) / M
        th_d, th_o = np.log(d_l), np.log(o_l)
        p_d, p_o = d_l, o_l
        for _ in range(epochs):
            r_d, r_o = p_d / d_l, p_o / o_l
            margin = min(margin, *(abs(r - 1 - s * eps) for r in (r_d, r_o) for s in (1, -1)))
            g_d = r_d * (pos_d * (r_d <= 1 + eps) + neg_d * (r_d >= 1 - eps))
            g_o = r_o * (pos_o * (r_o <= 1 + eps) + neg_o * (r_o >= 1 - eps))
            total = g_d + (M - 1) * g_o
            th_d, th_o = th_d + lr * (g_d - p_d * total), th_o + lr * (g_o - p_o * total)
            p_d = 1.0 / (1.0 + (M - 1) * np.exp(th_o - th_d))
            p_o = (1.0 - p_d) / (M - 1)
        out[n] = (M * p_d - 1) / (M - 1)
    return out, margin


@pytest.mark.parametrize("epochs", [1, 6])
def test_symmetric_family_follows_the_scalar_recursion(epochs):
    from rlstar_theory import symmetric_matrix

    M, lams, lr, eps = 4, np.array([0.3, 0.55, 0.1]), 60.0, 0.2
    model = ChainMDP.create(M, len(lams))
    rule = Ppo(lr=lr, epochs=epochs, eps_clip=eps)
    P = symmetric_matrix(lams, M)
    clipped_somewhere = False
    for _ in range(3):
        P = rule.exact_step(P, model, None).P
        new, margin = _symmetric_ppo_step(lams, M, lr, eps, epochs)
        assert margin > 1e-6  # no clip decision hangs on round-off
        clipped_somewhere |= epochs > 1 and not np.allclose(
            new, _symmetric_ppo_step(lams, M, lr, np.inf, epochs)[0])
        lams = new
        np.testing.assert_allclose(P, symmetric_matrix(lams, M), rtol=0, atol=1e-12)
    assert clipped_somewhere or epochs == 1
