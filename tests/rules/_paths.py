"""Path enumeration for the surrogate, PPO and RCRL tests (tiny models only: M**N paths)."""

from __future__ import annotations

import itertools

import numpy as np

from rlstar_theory.mdp import operator


def paths_from(P: np.ndarray, n: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """All continuations ``(s_n = s, ..., s_N)`` (columns ``n..N``) and their probabilities."""
    N, M = P.shape[0], P.shape[1]
    tails = list(itertools.product(range(M), repeat=N - n))
    tails = np.array(tails, dtype=np.int64).reshape(len(tails), N - n)
    full = np.concatenate([np.full((len(tails), 1), s), tails], axis=1)
    prob = np.ones(len(full))
    for k in range(N - n):
        prob = prob * P[n + k][full[:, k], full[:, k + 1]]
    return full, prob


def log_ratio(P: np.ndarray, P_ref: np.ndarray, n: int, a, b) -> np.ndarray:
    """``log(P_n / P_ref,n)`` on the edges ``a -> b`` of step ``n + 1`` (0 where ``P = 0``)."""
    p, q = P[n][a, b], P_ref[n][a, b]
    return np.where(p > 0, np.log(np.where(p > 0, p, 1.0) / np.where(p > 0, q, 1.0)), 0.0)


def kl_value(P, P_ref, model, beta, n: int, s: int, s0: int) -> float:
    """``E[1[S_N = y(s0)] - beta sum_{m > n} log(P_m/P_ref,m) | S_n = s]`` by enumeration."""
    N = model.N
    paths, prob = paths_from(P, n, s)
    ret = (paths[:, -1] == model.answers[s0]).astype(float)
    for k in range(N - n):
        ret = ret - beta * log_ratio(P, P_ref, n + k, paths[:, k], paths[:, k + 1])
    return float(prob @ ret)


def clipped(r: np.ndarray, adv: np.ndarray, eps: float) -> np.ndarray:
    """``min(r A, clip(r, 1-eps, 1+eps) A)``, the textbook form."""
    return np.minimum(r * adv, np.clip(r, 1.0 - eps, 1.0 + eps) * adv)


def k3(P_theta: np.ndarray, P_ref: np.ndarray) -> np.ndarray:
    x = P_ref / P_theta
    return x - np.log(x) - 1.0


def finite_difference(f, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``f(theta)`` on the finite entries of ``theta``."""
    grad = np.zeros(theta.shape)
    for idx in zip(*np.nonzero(np.isfinite(theta)), strict=True):
        up, down = theta.copy(), theta.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (f(up) - f(down)) / (2 * h)
    return grad


def random_policy(rng: np.random.Generator, M: int, N: int, zeros: bool = True) -> np.ndarray:
    """A random ``(N, M, M)`` policy, some entries exactly 0 when ``zeros``."""
    P = rng.dirichlet(np.ones(M), size=(N, M))
    if zeros:  # drop about 20% of the entries, never a row's largest
        keep = rng.random(P.shape) >= 0.2
        np.put_along_axis(keep, P.argmax(axis=-1)[..., None], True, axis=-1)
        P = np.where(keep, P, 0.0)
        P = P / P.sum(axis=-1, keepdims=True)
    return P


def perturbed_logits(rng, P_old: np.ndarray, eps: float, scale: float = 0.4,
                     margin: float = 1e-3) -> np.ndarray:
    """Logits near ``log P_old`` whose ratios stay ``margin`` away from the clip kinks."""
    base = operator.logits(P_old)
    for _ in range(1000):
        theta = base + scale * rng.standard_normal(base.shape)
        r = np.divide(operator.softmax(theta), P_old, out=np.ones(P_old.shape),
                      where=P_old > 0)
        if np.all(np.abs(r - (1 + eps)) > margin) and np.all(np.abs(r - (1 - eps)) > margin):
            return theta
    raise AssertionError("no logits away from the kinks")  # pragma: no cover


def clip_margin(P_old, pos, neg, eps, epochs, lr, beta=0.0, P_ref=None, visits=None):
    """Replay the exact ascent: the closest approach of a ratio to ``1 +- eps`` before the last
    epoch, and how many (edge, epoch) ratios were outside ``[1-eps, 1+eps]``.

    A sampled run is a smooth function of its data only away from these kinks, so its error
    falls like ``1/sqrt(K)`` only once the noise is below the margin.
    """
    from rlstar_theory.rules.surrogate import surrogate_gradient

    theta, P = operator.logits(P_old), P_old
    margin, clipped_count = np.inf, 0
    for _ in range(epochs - 1):
        theta = theta + lr * surrogate_gradient(P, P_old, pos, neg, eps, beta, P_ref, visits)
        P = operator.softmax(theta)
        r = P[P_old > 0] / P_old[P_old > 0]
        margin = min(margin, np.abs(r - 1 - eps).min(), np.abs(r - 1 + eps).min())
        clipped_count += int(((r > 1 + eps) | (r < 1 - eps)).sum())
    return margin, clipped_count
