"""Independent referees for the gradient-mode rules (policy gradient, GRPO, filtered SFT).

Everything here is written from the rules' *losses*, not from the library's weights:

* :func:`brute_force_edges` enumerates every path of every question and every 0/1 reward
  vector of the other ``G - 1`` samples of a group, and returns the expected
  coefficient-weighted edge counts ``E[sum_i coef_i 1[edge in tau_i]]`` (times ``rho``);
* :func:`softmax_step` is the logit step written out directly;
* :func:`finite_difference_gradient` differentiates ``J = sum w p`` numerically;
* :func:`symmetric_step` is the hand-derived scalar map of a gradient step on the symmetric
  family ``P(lam) = lam I + (1 - lam)/M 11^T``.

A group coefficient function ``coef(r) -> (G,)`` gives, for the rewards ``r`` of one group,
the derivative of that group's objective with respect to ``log pi(tau_i)``.
"""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import numpy as np

from rlstar_theory.mdp.model import ChainMDP


def random_model(seed: int, M: int = 3, N: int = 2, zeros: bool = True,
                 identity: bool = False, split: bool = False) -> tuple[np.ndarray, ChainMDP]:
    """A random policy (with some zero entries) and a model with random truth and start."""
    rng = np.random.default_rng(seed)
    P = rng.random((N, M, M)) + 0.05
    if zeros:
        mask = rng.random((N, M, M)) < 0.25
        mask[..., 0] = False  # every row keeps some mass
        P[mask] = 0.0
    P /= P.sum(axis=-1, keepdims=True)
    truth = None if identity else rng.integers(0, M, size=(N, M))
    start = rng.random(M) + 0.1
    start /= start.sum()
    train = None
    if split:
        train = np.ones(M, dtype=bool)
        train[rng.integers(M)] = False
    return P, ChainMDP.create(M, N, truth=truth, start=start, train=train)


def paths_of(P: np.ndarray, s0: int):
    """Every path ``(s0, s1, ..., sN)`` with its probability under ``P`` (floats or Fractions)."""
    N, M = P.shape[0], P.shape[1]
    for tail in itertools.product(range(M), repeat=N):
        path = (s0,) + tail
        prob = 1
        for n in range(N):
            prob = prob * P[n, path[n], path[n + 1]]
        yield path, prob


def success_probabilities(P: np.ndarray, model: ChainMDP) -> np.ndarray:
    """``p(s0)`` by enumeration."""
    return np.array([sum(prob for path, prob in paths_of(P, s0)
                         if path[-1] == model.answers[s0]) for s0 in range(model.M)])


def expected_first_coefficient(coef, G: int, r: int, p: float) -> float:
    """``E[coef((r, R_2..R_G))[0]]`` with ``R_j ~ Bernoulli(p)`` i.i.d., by enumeration."""
    total = 0.0
    for others in itertools.product((0, 1), repeat=G - 1):
        k = sum(others)
        prob = p ** k * (1 - p) ** (G - 1 - k)
        total += prob * coef(np.array((r,) + others, dtype=float))[0]
    return total


def brute_force_edges(P: np.ndarray, model: ChainMDP, G: int, coef) -> np.ndarray:
    """``sum_{s0} rho(s0) E[sum_i coef_i 1[(s_{n-1}, s_n) = (s, s') in tau_i]]`` by enumeration.

    By exchangeability the group sum is ``G`` times the first sample's term.
    """
    N, M = model.N, model.M
    rho = model.weights("train")
    p = success_probabilities(P, model)
    out = np.zeros((N, M, M))
    for s0 in range(M):
        if rho[s0] == 0:
            continue
        e = [G * expected_first_coefficient(coef, G, r, p[s0]) for r in (0, 1)]
        for path, prob in paths_of(P, s0):
            r = int(path[-1] == model.answers[s0])
            for n in range(N):
                out[n, path[n], path[n + 1]] += rho[s0] * prob * e[r]
    return out


def softmax_step(P: np.ndarray, edges: np.ndarray, lr: float) -> np.ndarray:
    """``softmax(log P + lr (E - P rowsum(E)))`` row by row, zeros kept."""
    out = np.zeros_like(P)
    for n in range(P.shape[0]):
        for s in range(P.shape[1]):
            support = P[n, s] > 0
            grad = edges[n, s] - P[n, s] * edges[n, s].sum()
            theta = np.log(P[n, s, support]) + lr * grad[support]
            e = np.exp(theta - theta.max())
            out[n, s, support] = e / e.sum()
    return out


def recovered_gradient(P: np.ndarray, P_new: np.ndarray, lr: float) -> np.ndarray:
    """The logit gradient of a softmax step, from ``log P' - log P`` centred on the support.

    A softmax-gradient row sums to 0 over its support, so centring removes the row's
    log-normaliser exactly. Entries off the support are 0.
    """
    out = np.zeros_like(P)
    support = P > 0
    diff = np.where(support, np.log(np.where(support, P_new, 1.0))
                    - np.log(np.where(support, P, 1.0)), 0.0)
    count = support.sum(axis=-1, keepdims=True)
    out = np.where(support, diff - diff.sum(axis=-1, keepdims=True) / count, 0.0)
    return out / lr


def finite_difference_gradient(P: np.ndarray, model: ChainMDP, w: np.ndarray,
                               h: float = 1e-6) -> np.ndarray:
    """Central differences of ``J(theta) = sum_{s0} w(s0) p_theta(s0)`` w.r.t. the logits."""
    theta = np.where(P > 0, np.log(np.where(P > 0, P, 1.0)), -np.inf)

    def J(th: np.ndarray) -> float:
        e = np.exp(th - th.max(axis=-1, keepdims=True))
        Q = e / e.sum(axis=-1, keepdims=True)
        return float(w @ success_probabilities(Q, model))

    grad = np.zeros_like(P)
    for idx in zip(*np.nonzero(P > 0), strict=True):
        up, down = theta.copy(), theta.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (J(up) - J(down)) / (2 * h)
    return grad


def symmetric_step(lams: np.ndarray, M: int, weight, lr: float) -> np.ndarray:
    """One softmax gradient step on ``P(lam)`` (identity truth, uniform questions), in closed form.

    Derivation: with ``F_{n-1} = P(a)``, ``B_n = P(b)``, ``c = a b = prod_{m != n} lam_m`` and
    ``Lam = prod lam``, every question has ``p = Lam + (1 - Lam)/M`` and weight
    ``u = weight(p)/M``. ``C_n[s, s'] = u P(lam_n)[s, s'] P(c)[s', s]``, whose row sum is
    ``u p``. So the gradient is ``u D_l (D_c - p)`` on the diagonal and ``u O_l (O_c - p)`` off
    it (``D_x = x + (1-x)/M``, ``O_x = (1-x)/M``), the new logits are ``log D_l + lr g_diag``
    and ``log O_l + lr g_off``, and ``lam' = (M d' - 1)/(M - 1)`` with
    ``d' = 1/(1 + (M-1) exp(theta_off - theta_diag))``.
    """
    lams = np.asarray(lams, dtype=float)
    big = np.prod(lams)
    p = big + (1 - big) / M
    u = weight(p) / M
    out = np.empty_like(lams)
    for n, lam in enumerate(lams):
        c = np.prod(np.delete(lams, n))
        d_l, o_l = lam + (1 - lam) / M, (1 - lam) / M
        d_c, o_c = c + (1 - c) / M, (1 - c) / M
        theta_d = np.log(d_l) + lr * u * d_l * (d_c - p)
        theta_o = np.log(o_l) + lr * u * o_l * (o_c - p)
        d_new = 1.0 / (1.0 + (M - 1) * np.exp(theta_o - theta_d))
        out[n] = (M * d_new - 1) / (M - 1)
    return out


def exact_fraction_policy(seed: int, M: int = 3, N: int = 2) -> np.ndarray:
    """A random policy with small rational entries (some zero)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=(N, M, M))
    counts[..., 0] += 1
    out = np.empty((N, M, M), dtype=object)
    for idx in np.ndindex(N, M, M):
        out[idx] = Fraction(int(counts[idx]), int(counts[idx[:2]].sum()))
    return out


# --- shared checks, parametrised by each test module over its rules ---------------------------

def check_exact_vs_brute_force(rule, coef_for_N, seed: int, identity: bool = False,
                               split: bool = False, M: int = 3, N: int = 2) -> None:
    """The rule's exact step equals the softmax step on the enumerated expected edges."""
    P, model = random_model(seed, M, N, identity=identity, split=split)
    expected = softmax_step(P, brute_force_edges(P, model, rule.group_size, coef_for_N(N)),
                            rule.lr)
    got = rule.exact_step(P, model).P
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def check_finite_differences(rule, seed: int, M: int = 3, N: int = 3) -> None:
    """The exact step's logit gradient is the gradient of ``J = sum w p`` at fixed ``w``."""
    P, model = random_model(seed, M, N)
    w = rule.weights(P, model)
    got = recovered_gradient(P, rule.exact_step(P, model).P, rule.lr)
    np.testing.assert_allclose(got, finite_difference_gradient(P, model, w), rtol=0,
                               atol=1e-8)


def check_sampled_converges(rule, coef_for_N, seed: int, replicates: int = 400,
                            z: float = 5.0) -> None:
    """The mean sampled logit gradient matches the enumerated one within ``z`` standard errors.

    The recovered gradient is linear in the sampled edge weights, so each replicate is an
    unbiased estimate; its standard error is the empirical std over ``replicates``
    independent steps divided by ``sqrt(replicates)``.
    """
    P, model = random_model(seed, 3, 2)
    exact = recovered_gradient(P, softmax_step(
        P, brute_force_edges(P, model, rule.group_size, coef_for_N(model.N)), rule.lr), rule.lr)
    gen = np.random.default_rng(seed)
    draws = np.array([recovered_gradient(P, rule.sampled_step(P, model, None, gen).P, rule.lr)
                      for _ in range(replicates)])
    mean = draws.mean(axis=0)
    spread = draws.std(axis=0, ddof=1)
    se = spread / np.sqrt(replicates)
    assert np.all(np.abs(mean - exact) <= z * se + 1e-12), np.max(np.abs(mean - exact) / (se
                                                                                   + 1e-300))
    # one step with `more` times the samples: the groups are independent, so its std is the
    # small-K spread over sqrt(more) (and a margin of 1.2 for the estimate of that spread)
    more = 256
    big = dataclasses.replace(rule, samples_per_question=more * rule.samples_per_question)
    one = recovered_gradient(P, big.sampled_step(P, model, None, gen).P, rule.lr)
    assert np.all(np.abs(one - exact) <= 1.2 * z * spread / np.sqrt(more) + 1e-12)


def check_symmetric_recursion(rule, weight, M: int = 4, lams=(0.3, 0.55, 0.1),
                              steps: int = 4) -> None:
    """Dense steps on ``P(lam)`` stay symmetric and follow :func:`symmetric_step`."""
    from rlstar_theory import symmetric_matrix

    lams = np.array(lams, dtype=float)
    model = ChainMDP.create(M, len(lams))
    P = symmetric_matrix(lams, M)
    for _ in range(steps):
        P = rule.exact_step(P, model).P
        lams = symmetric_step(lams, M, weight, rule.lr)
        np.testing.assert_allclose(P, symmetric_matrix(lams, M), rtol=0, atol=1e-12)


def check_support_kept(rule, seed: int) -> None:
    """Zero transitions stay exactly zero and positive ones stay positive (both modes)."""
    P, model = random_model(seed, 4, 3)
    for P_new in (rule.exact_step(P, model).P,
                  rule.sampled_step(P, model, None, np.random.default_rng(seed)).P):
        np.testing.assert_array_equal(P_new == 0, P == 0)
        np.testing.assert_allclose(P_new.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
