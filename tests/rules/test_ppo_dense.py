"""PPO with a dense gold-state reward: reduction to PPO, enumeration, gradient, sampling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.critic import critic_edges, critic_mean_edges, visit_edges
from rlstar_theory.rules.ppo import Ppo
from rlstar_theory.rules.ppo_dense import PpoDense, dense_values, gold_step_rewards
from rlstar_theory.rules.surrogate import surrogate_gradient
from tests.rules._paths import (
    clip_margin,
    finite_difference,
    log_ratio,
    paths_from,
    random_policy,
)


def _model(rng, M: int, N: int, split: bool = False) -> ChainMDP:
    truth = rng.integers(0, M, size=(N, M))
    start = rng.integers(1, 4, size=M).astype(float)
    train = None
    if split:
        train = np.ones(M, dtype=bool)
        train[rng.integers(M)] = False
    return ChainMDP.create(M, N, truth=truth, start=start / start.sum(), train=train)


def _reference(rng, P: np.ndarray) -> np.ndarray:
    P_ref = np.where(P > 0, random_policy(rng, P.shape[1], P.shape[0], zeros=False), 0.0)
    return P_ref / P_ref.sum(axis=-1, keepdims=True)


def _dense_return(paths: np.ndarray, model: ChainMDP, s0: int, n: int, lambda_d: float,
                  P=None, P_ref=None, beta: float = 0.0) -> np.ndarray:
    """``1[S_N = y] + lambda_d sum_{m > n} 1[S_m = s*_m] - beta sum log(P/P_ref)`` of each
    continuation (columns ``n..N``), written from the definition."""
    ret = (paths[:, -1] == model.answers[s0]).astype(float)
    for k in range(1, paths.shape[1]):
        ret += lambda_d * (paths[:, k] == model.gold[s0, n + k])
        if beta > 0:
            ret -= beta * log_ratio(P, P_ref, n + k - 1, paths[:, k - 1], paths[:, k])
    return ret


@pytest.mark.parametrize("seed", range(3))
def test_lambda_zero_is_ppo(seed):
    """``lambda_d = 0``: the same exact and sampled steps as ``ppo`` (clip, epochs, KL)."""
    rng = np.random.default_rng(seed)
    model = _model(rng, 3, 3, split=seed == 2)
    P = random_policy(rng, 3, 3)
    P_ref = _reference(rng, P)
    for options in ({}, {"epochs": 3, "lr": 4.0, "beta": 0.3},
                    {"epochs": 2, "beta": 0.5, "kl": "loss", "eps_clip": np.inf}):
        ppo = Ppo(samples_per_question=20, **options)
        dense = PpoDense(samples_per_question=20, lambda_d=0.0, **options)
        np.testing.assert_array_equal(dense.exact_step(P, model, P_ref).P,
                                      ppo.exact_step(P, model, P_ref).P)
        np.testing.assert_array_equal(dense.sampled_step(P, model, P_ref, seed).P,
                                      ppo.sampled_step(P, model, P_ref, seed).P)


@pytest.mark.parametrize("seed", range(3))
def test_dense_values_match_path_enumeration(seed):
    """``V^d_n(s; s0)`` of the §1d recursion against the mean dense return of every
    continuation from ``(n, s)``."""
    rng = np.random.default_rng(20 + seed)
    M, N, lambda_d = 3, 1 + seed, 0.7
    model = _model(rng, M, N)
    P = random_policy(rng, M, N)
    V = dense_values(P, model, lambda_d)
    for s0 in range(M):
        for n in range(N + 1):
            for s in range(M):
                paths, prob = paths_from(P, n, s)
                expected = prob @ _dense_return(paths, model, s0, n, lambda_d)
                assert V[n, s, s0] == pytest.approx(expected, abs=1e-13)


def _brute_edges(P, P_ref, model, beta, lambda_d):
    """pos/neg of the exact-critic advantages by enumerating every (question, path), values
    themselves from enumerated continuations."""
    N, M = model.N, model.M
    w = model.weights("train")

    def value(n, s, s0):
        paths, prob = paths_from(P, n, s)
        return float(prob @ _dense_return(paths, model, s0, n, lambda_d, P, P_ref, beta))

    values = {(n, s, s0): value(n, s, s0) for s0 in np.flatnonzero(w)
              for n in range(N + 1) for s in range(M)}
    pos, neg = np.zeros(P.shape), np.zeros(P.shape)
    for s0 in np.flatnonzero(w):
        paths, prob = paths_from(P, 0, s0)
        for i in np.flatnonzero(prob):
            for n in range(1, N + 1):
                a, b = paths[i, n - 1], paths[i, n]
                reward = lambda_d * (b == model.gold[s0, n]) \
                    - beta * float(log_ratio(P, P_ref, n - 1, a, b))
                adv = reward + values[n, b, s0] - values[n - 1, a, s0]
                pos[n - 1, a, b] += w[s0] * prob[i] * max(adv, 0.0)
                neg[n - 1, a, b] += w[s0] * prob[i] * min(adv, 0.0)
    return pos, neg


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("beta", [0.0, 0.4])
def test_critic_edges_match_path_enumeration(seed, beta):
    """Sign-split advantage-weighted visits with the dense reward (and a KL penalty in the
    reward) against enumeration; ``pos + neg`` against the matrix-product mean."""
    rng = np.random.default_rng(40 + seed)
    M, N, lambda_d = 3, 1 + seed, 0.6
    model = _model(rng, M, N, split=seed == 1)
    P = random_policy(rng, M, N)
    P_ref = _reference(rng, P)
    w = model.weights("train")
    r = gold_step_rewards(model, lambda_d)
    pos, neg = critic_edges(P, model, w, beta, P_ref, step_rewards=r)
    bpos, bneg = _brute_edges(P, P_ref, model, beta, lambda_d)
    np.testing.assert_allclose(pos, bpos, rtol=0, atol=1e-12)
    np.testing.assert_allclose(neg, bneg, rtol=0, atol=1e-12)
    mean = critic_mean_edges(P, model, w, beta, P_ref, step_rewards=r)
    np.testing.assert_allclose(pos + neg, mean, rtol=0, atol=1e-13)
    rule = PpoDense(epochs=2, beta=beta, lambda_d=lambda_d)
    np.testing.assert_array_equal(rule.exact_edges(P, model, P_ref)[0], pos)


@pytest.mark.parametrize("seed", range(3))
def test_one_epoch_is_the_gradient_of_the_dense_return(seed):
    """One epoch without KL (``r = 1``: no clip in effect) ascends
    ``sum_{s0} w (p(s0) + lambda_d E[#gold states hit])``: central differences in the logits
    of that objective, written by enumeration, against the surrogate's gradient and the step."""
    rng = np.random.default_rng(60 + seed)
    M, N, lambda_d, lr = 3, 2 + seed % 2, 0.8, 0.7
    model = _model(rng, M, N, split=seed == 2)
    P = random_policy(rng, M, N)
    w = model.weights("train")

    def objective(theta):
        Pt = operator.softmax(theta)
        total = 0.0
        for s0 in np.flatnonzero(w):
            paths, prob = paths_from(Pt, 0, s0)
            total += w[s0] * float(prob @ _dense_return(paths, model, s0, 0, lambda_d))
        return total

    rule = PpoDense(lr=lr, lambda_d=lambda_d)
    pos, neg = rule.exact_edges(P, model, P)
    grad = surrogate_gradient(P, P, pos, neg, rule.eps_clip)
    np.testing.assert_allclose(grad, finite_difference(objective, operator.logits(P)),
                               atol=1e-8)
    np.testing.assert_allclose(rule.exact_step(P, model, P).P,
                               operator.softmax(operator.logits(P) + lr * grad),
                               rtol=0, atol=1e-13)


def _sampled_model(seed: int = 8, N: int = 3):
    rng = np.random.default_rng(seed)
    model = _model(rng, 3, N)
    P = random_policy(rng, 3, N, zeros=False)
    return model, P, _reference(rng, P)


def test_sampled_edges_are_unbiased():
    """Mean of R independent sampled (pos, neg, visits) against the exact ones: z < 5 on
    every edge the samples reach (the standard error from the R replicates)."""
    model, P, P_ref = _sampled_model()
    rule = PpoDense(beta=0.3, lambda_d=0.5, samples_per_question=300)
    reps = [rule.sampled_edges(P, model, P_ref, np.random.default_rng(s)) for s in range(40)]
    w = model.weights("train")
    exact = (*critic_edges(P, model, w, 0.3, P_ref, step_rewards=rule.step_rewards(model)),
             visit_edges(P, w))
    for k, target in enumerate(exact):
        sample = np.stack([rep[k] for rep in reps])
        se = sample.std(axis=0, ddof=1) / np.sqrt(len(reps))
        seen = se > 0
        assert seen.sum() >= 0.8 * np.count_nonzero(np.abs(target) > 1e-12)
        z = np.abs(sample.mean(axis=0) - target)[seen] / se[seen]
        assert z.max() < 5.0


def test_sampled_step_converges_to_the_exact_step():
    """Clipped, 3 epochs, dense reward and a KL in the reward: the RMS error of the sampled
    step falls like ``1/sqrt(K)`` (expected ratio 0.25 from K = 200 to 3200). The exact run
    clips some edges and keeps every ratio 0.02 away from the kinks ``1 +- eps``."""
    model, P, P_ref = _sampled_model(10, 2)
    rule = PpoDense(epochs=3, lr=4.0, beta=0.2, lambda_d=0.5)
    margin, clipped_count = clip_margin(P, *rule.exact_edges(P, model, P_ref), 0.2, 3, 4.0)
    assert margin > 0.02 and clipped_count > 0
    exact = rule.exact_step(P, model, P_ref).P

    def squared_error(K, seed):
        sampled = replace(rule, samples_per_question=K).sampled_step(P, model, P_ref, seed)
        return np.mean((sampled.P - exact) ** 2)

    small = np.sqrt(np.mean([squared_error(200, s) for s in range(12)]))
    large = np.sqrt(np.mean([squared_error(3200, 100 + s) for s in range(12)]))
    assert large < 0.4 * small


def test_runs_through_the_registry_and_iterate():
    """``make_rule("ppo-dense")`` runs exactly and sampled; a large ``lambda_d`` puts more
    mass on the gold edges than ``ppo`` after the same exact steps."""
    rng = np.random.default_rng(3)
    model = _model(rng, 3, 3)
    P0 = random_policy(rng, 3, 3, zeros=False)
    rule = make_rule("ppo-dense", strict=True, lambda_d=2.0, samples_per_question=8, lr=2.0)
    assert isinstance(rule, PpoDense) and rule.settings()["lambda_d"] == 2.0
    dense = iterate(rule, P0, model, iterations=3, maj_ks=())
    plain = iterate(make_rule("ppo", lr=2.0), P0, model, iterations=3, maj_ks=())
    gold = model.gold_edges()
    assert dense.P[-1][gold].sum() > plain.P[-1][gold].sum()
    sampled = iterate(rule, P0, model, iterations=2, mode="sampled", rng=1, maj_ks=())
    assert sampled.samples[-1] == 2 * 8 * 3


@pytest.mark.parametrize("bad", [-0.1, np.nan, np.inf, True, "1"])
def test_bad_lambda_d_is_rejected(bad):
    with pytest.raises(ValueError, match="lambda_d"):
        PpoDense(lambda_d=bad)


def test_dense_reward_needs_the_verifier():
    with pytest.raises(ValueError, match="reward"):
        PpoDense(reward="bernoulli")
    model = ChainMDP.create(3, 2)
    P = random_policy(np.random.default_rng(0), 3, 2)
    with pytest.raises(ValueError, match="step_rewards"):
        critic_edges(P, model, model.weights("train"), reward="bernoulli",
                     step_rewards=gold_step_rewards(model, 1.0))
