"""Per-step DPO from negatives (``step-dpo``; Setlur et al., arXiv 2406.14532; ALGORITHMS.md §5).

The frozen SFT policy ``P_sft`` (the run's initial policy, kept in the rule's state) is the DPO
reference, and best-of-``K`` of it is the prover (``K = prover_k``; 5 in the paper) whose exact
values score every step (:mod:`rlstar_theory.mdp.values`):

.. math::

    V^{BoK}_n(s; s_0) = 1 - (1 - \\Pr{}_{sft}(S_N = y(s_0) \\mid S_n = s))^K,\\qquad
    A^{BoK}_n(s, s'; s_0) = V^{BoK}_n(s'; s_0) - V^{BoK}_{n-1}(s; s_0).

**Exact step: the population optimum** (§5d). With the visitation weights of the SFT policy on
the training questions, ``w = model.weights("train")``,

.. math::

    \\omega_n(s_0, s) = w(s_0)\\, F^{sft}_{n-1}[s_0, s],\\qquad
    \\bar A_n(s, s') = \\frac{\\sum_{s_0} \\omega_n(s_0, s)\\, A^{BoK}_n(s, s'; s_0)}
                          {\\sum_{s_0} \\omega_n(s_0, s)}

(:func:`averaged_advantage`; ``F^sft_{n-1}[s0, s]`` is the probability that the SFT policy is in
``s`` before step ``n`` on question ``s0``), the step returns

.. math::

    P^*_n[s, s'] = \\frac{P_{sft,n}[s, s']\\, e^{\\bar A_n(s, s')/\\beta}}
                        {\\sum_b P_{sft,n}[s, b]\\, e^{\\bar A_n(s, b)/\\beta}}

(:func:`dpo_optimum`; rows the SFT policy never visits keep their ``P_sft`` row). ``P^*``
maximises, row by row, ``sum_{s0} omega (P_n[s, :] . A^BoK) - beta omega_n(s) KL(P_n[s, :] ||
P_sft,n[s, :])`` with ``omega_n(s) = sum_{s0} omega_n(s0, s)``: advantage-weighted RL with the
prover's advantages held fixed on the SFT visitation, which the paper's Theorem 6.1 [S] equates
with per-step DPO. The step does not depend on the current policy: the first step jumps to
``P^*`` and later steps stay there (like ``rft``, the data is collected once). Only
``A^BoK_n(s, s')``'s dependence on ``s'`` matters: ``V^BoK_{n-1}(s)`` is constant on a row.

**Sampled step: DPO on explicit pairs.** Pairs are built once, in the first step, from ``K``
trajectories per training question drawn from ``P_sft`` (the paper's negatives are samples of
``pi_sft``, its positives self-generated correct solutions), and every step takes ``dpo_steps``
gradient-descent steps of size ``lr`` on the softmax logits ``theta = log P`` of

.. math::

    \\mathcal L(\\theta) = \\sum_{\\text{pairs}} u\\,
        \\log\\big(1 + e^{-\\beta (h(y^+) - h(y^-))}\\big),\\qquad
    h(y) = \\sum_{\\text{steps } n \\text{ of } y}
           \\log\\frac{P_n[s_{n-1}, s_n]}{P_{sft,n}[s_{n-1}, s_n]}

(a prefix's log-probability is the sum of its steps' ``log P_n``; :func:`dpo_loss`,
:func:`dpo_gradient`, :func:`dpo_descent`). Two pairings:

* ``pairing="first-pit"`` (the paper's pipeline): each failed sample (at most ``negatives`` per
  question) is cut at its *first pit* ``c`` (:func:`first_pits`) and the prefix
  ``y^-_{1:c}`` is paired with a correct sample of the same question, drawn uniformly (with
  replacement) from that question's correct samples; each pair weighs ``u = w(s0)/negatives``.
  A question without a correct or without a failed sample gives no pair.

  - ``pit="min-value"``: ``c`` is the first step at which ``V^BoK_n(s_n)`` reaches its minimum
    over ``n = 1..N`` along the path (within ``PIT_TOLERANCE``). A failed path ends at
    ``V^BoK_N = 0``, so with exact values the pit is the first step into a state from which
    ``P_sft`` can no longer reach the answer, and the whole path when there is no such state
    (every path of a policy without zeros).
  - ``pit="first-drop"``: ``c`` is the first step with ``A^BoK_n < 0`` (below
    ``-PIT_TOLERANCE``); a path without a drop (``V^BoK_0(s0) = 0``) falls back to the
    minimum-value pit.

* ``pairing="sibling"`` (the per-step pairs of the theory): at every step ``n`` of every sample,
  the sampled next state ``a`` and an independent alternative ``b ~ P_sft,n[s, :]`` share the
  prefix; ``a`` is preferred with the Bradley-Terry probability
  ``sigmoid(A^BoK_n(s, a; s0) - A^BoK_n(s, b; s0))``; each pair weighs ``u = w(s0)/K``. Pairs
  with ``a = b`` have no gradient and are dropped. The prefix cancels from the margin, which is
  ``beta (log(P/P_sft)_n[s, a] - log(P/P_sft)_n[s, b])`` for the winner ``a``.

**How the two modes relate.** The exact step is not the expectation of the sampled one. DPO is
a logistic loss, so its population minimiser is the optimum above only when the preference data
is Bradley-Terry in a reward that the policy's log-ratio can represent. With
``pairing="sibling"`` the row's normaliser cancels from every margin and the minimiser is
``P^*`` whenever the advantage differences at every visited state do not depend on the question
(one training question, or questions whose visits do not overlap): the sampled run then
converges to the exact step as ``K`` and the number of DPO steps grow (tested). When questions
share states the minimiser matches a sigmoid of the averaged advantage to the average of the
sigmoids, which differ (in the logits, by about ``Var_{s0}(A^BoK)/beta``; at most 0.013 in
max-norm on random dense models with ``M = 3``, ``N = 2..3``). With ``pairing="first-pit"`` the
labels are deterministic and the minimiser is another policy (0.08 to 0.72 from ``P^*`` in
max-norm on the same models), or does not exist: with ``N = 1`` the loss falls without bound as
the failed answers' probabilities go to 0. The paper runs DPO for a few epochs, which is what
``dpo_steps`` models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.values import prover_values
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.critic import visit_edges
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_int, check_memory, check_rng, is_exact

__all__ = [
    "PAIRINGS",
    "PITS",
    "PIT_TOLERANCE",
    "AveragedAdvantage",
    "PreferencePairs",
    "StepDpo",
    "StepDpoState",
    "averaged_advantage",
    "dpo_descent",
    "dpo_gradient",
    "dpo_loss",
    "dpo_optimum",
    "first_pit_pairs",
    "first_pits",
    "path_values",
    "sibling_pairs",
]

#: "min-value": first step at the path's minimum prover value; "first-drop": first A^BoK < 0
PITS = ("min-value", "first-drop")
#: "first-pit": correct solution vs failed prefix (the paper); "sibling": same-prefix BT pairs
PAIRINGS = ("first-pit", "sibling")
#: values within this of the minimum count as reaching it; drops must exceed it
PIT_TOLERANCE = 1e-12


@dataclass(frozen=True)
class AveragedAdvantage:
    """The prover's advantage averaged over questions with the SFT visitation.

    Attributes
    ----------
    A_bar : ndarray, shape (N, M, M)
        ``A_bar[n-1, s, s'] = sum_{s0} omega_n(s0, s) A^BoK_n(s, s'; s0) / omega_n(s)``; 0 on
        rows with ``omega_n(s) = 0``.
    visits : ndarray, shape (N, M)
        ``omega_n(s) = sum_{s0} w(s0) F^sft_{n-1}[s0, s]``.
    """

    A_bar: np.ndarray
    visits: np.ndarray


def averaged_advantage(P_sft: np.ndarray, w: np.ndarray, V: np.ndarray) -> AveragedAdvantage:
    """Visitation-weighted average over questions of the prover's advantage (trusted inputs).

    Parameters
    ----------
    P_sft : ndarray, shape (N, M, M)
        The policy whose visits weight the questions (float64 or Fractions).
    w : ndarray, shape (M,)
        Question weights ``w(s0)`` (the question distribution included).
    V : ndarray, shape (N+1, M, M)
        Prover values ``V[n, s, s0]`` (e.g. :func:`rlstar_theory.mdp.values.prover_values`).

    Returns
    -------
    AveragedAdvantage
        ``A_bar_n(s, s') = sum_{s0} omega_n(s0, s) (V_n(s'; s0) - V_{n-1}(s; s0)) / omega_n(s)``
        with ``omega_n(s0, s) = w(s0) F^sft_{n-1}[s0, s]``: two matrix products per step
        (``O(N M^3)``); exact for Fractions.
    """
    N, M = P_sft.shape[0], P_sft.shape[1]
    rows = np.diag(np.asarray(w))  # rows[s0, s] = omega_1(s0, s) = w(s0) 1[s = s0]
    A_bar = np.empty(P_sft.shape, dtype=P_sft.dtype)
    visits = np.empty((N, M), dtype=P_sft.dtype)
    for n in range(1, N + 1):
        mass = rows.sum(axis=0)  # omega_n(s)
        after = rows.T @ V[n].T  # [s, s'] = sum_q omega(q, s) V_n(s'; q)
        before = (rows.T * V[n - 1]).sum(axis=1)  # [s] = sum_q omega(q, s) V_{n-1}(s; q)
        seen = mass != 0
        safe = np.where(seen, mass, 1)
        A_bar[n - 1] = np.where(seen[:, None], (after - before[:, None]) / safe[:, None],
                                0 * after)
        visits[n - 1] = mass
        rows = rows @ P_sft[n - 1]
    return AveragedAdvantage(A_bar=A_bar, visits=visits)


def dpo_optimum(P_sft: np.ndarray, A_bar: np.ndarray, beta: float,
                visits: np.ndarray | None = None) -> np.ndarray:
    """``P*_n[s, :] ∝ P_sft,n[s, :] exp(A_bar_n(s, :)/beta)`` (zeros of ``P_sft`` stay zero).

    Computed as ``softmax(log P_sft + A_bar/beta)`` in float64 (no overflow for small
    ``beta``); rows with ``visits = 0`` (when given, shape (N, M)) are ``P_sft``'s exactly.
    """
    P_sft = np.asarray(P_sft, dtype=float)
    P_star = operator.softmax(operator.logits(P_sft) + np.asarray(A_bar, dtype=float) / beta)
    if visits is None:
        return P_star
    return np.where(np.asarray(visits)[..., None] != 0, P_star, P_sft)


def path_values(paths: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Prover values along sampled paths: ``v[i, n] = V[n, s_{i,n}, s_{i,0}]``, shape (T, N+1)."""
    paths = np.asarray(paths)
    steps = np.arange(paths.shape[1])
    return V[steps[None, :], paths, paths[:, :1]]


def first_pits(values: np.ndarray, pit: str = "min-value",
               tol: float = PIT_TOLERANCE) -> np.ndarray:
    """The first pit of each path from the prover's values along it.

    Parameters
    ----------
    values : ndarray, shape (T, N+1)
        ``v[i, n] = V^BoK_n(s_{i,n}; s_{i,0})`` for ``n = 0..N`` (:func:`path_values`).
    pit : {"min-value", "first-drop"}
        ``"min-value"``: the first ``n >= 1`` with ``v_n <= min_{m >= 1} v_m + tol``;
        ``"first-drop"``: the first ``n`` with ``v_n - v_{n-1} < -tol`` (the minimum-value pit
        where there is none).
    tol : float
        Tolerance for round-off in the values.

    Returns
    -------
    ndarray of int64, shape (T,)
        ``c`` in ``1..N``: the rejected prefix is ``(s_0, ..., s_c)``.
    """
    if pit not in PITS:
        raise ValueError(f"pit must be one of {PITS}, got {pit!r}")
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2:
        raise ValueError(f"values must have shape (T, N+1) with N >= 1, got {v.shape}")
    after = v[:, 1:]
    at_min = after <= after.min(axis=1, keepdims=True) + tol
    c = 1 + np.argmax(at_min, axis=1)
    if pit == "first-drop":
        drops = np.diff(v, axis=1) < -tol
        has = drops.any(axis=1)
        c = np.where(has, 1 + np.argmax(drops, axis=1), c)
    return c.astype(np.int64)


@dataclass(frozen=True)
class PreferencePairs:
    """DPO pairs on the chain, identical pairs merged.

    Each side is a path with the steps that belong to it: a side's ``h`` sums
    ``log(P_n / P_sft,n)`` over its marked steps only (entries of unmarked steps are 0).

    Attributes
    ----------
    chosen, rejected : ndarray of int64, shape (R, N+1)
        Preferred and rejected state sequences ``(s_0, ..., s_N)``.
    chosen_steps, rejected_steps : ndarray of bool, shape (R, N)
        Column ``n-1`` marks step ``n`` as part of the side.
    weight : ndarray, shape (R,)
        ``u``: the summed weights of the merged pairs.
    drawn : int
        Trajectories drawn from ``P_sft`` to build them.
    """

    chosen: np.ndarray
    rejected: np.ndarray
    chosen_steps: np.ndarray
    rejected_steps: np.ndarray
    weight: np.ndarray
    drawn: int

    def __len__(self) -> int:
        return len(self.weight)

    def chosen_edges(self, M: int) -> np.ndarray:
        """``sum_pairs u 1[edge on the chosen side]``, shape (N, M, M) (the data pushed up)."""
        return path_edge_sums(self.chosen, self.weight[:, None] * self.chosen_steps, M)


def _empty_pairs(N: int, drawn: int) -> PreferencePairs:
    empty = np.zeros((0, N + 1), dtype=np.int64)
    no_steps = np.zeros((0, N), dtype=bool)
    return PreferencePairs(empty, empty.copy(), no_steps, no_steps.copy(), np.zeros(0), drawn)


def _merge(chosen, rejected, chosen_steps, rejected_steps, weight, drawn) -> PreferencePairs:
    """Zero the unmarked states and merge identical pairs (summing their weights)."""
    N = chosen_steps.shape[1]
    if len(weight) == 0:
        return _empty_pairs(N, drawn)

    def used(steps):  # state n is used when step n or step n + 1 is
        out = np.zeros((len(steps), N + 1), dtype=bool)
        out[:, :-1] |= steps
        out[:, 1:] |= steps
        return out

    chosen = np.where(used(chosen_steps), chosen, 0)
    rejected = np.where(used(rejected_steps), rejected, 0)
    key = np.concatenate([chosen, rejected, chosen_steps, rejected_steps], axis=1)
    radix = np.array([max(2, int(key[:, :2 * (N + 1)].max()) + 1)] * (2 * (N + 1)) + [2] * (2 * N))
    if np.sum(np.log2(radix)) < 62:  # one integer per row: much faster than unique rows
        codes = np.zeros(len(key), dtype=np.int64)
        for column, base in zip(key.T, radix, strict=True):
            codes = codes * int(base) + column
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        unique = key[first]
    else:
        unique, inverse = np.unique(key, axis=0, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=weight, minlength=len(unique))
    n1 = N + 1
    return PreferencePairs(
        chosen=unique[:, :n1].copy(), rejected=unique[:, n1:2 * n1].copy(),
        chosen_steps=unique[:, 2 * n1:2 * n1 + N].astype(bool),
        rejected_steps=unique[:, 2 * n1 + N:].astype(bool), weight=total, drawn=drawn)


def first_pit_pairs(P_sft: np.ndarray, model: ChainMDP, V: np.ndarray, K: int, negatives: int,
                    pit: str, rng: np.random.Generator) -> PreferencePairs:
    """The paper's pairs: a correct sample against the first-pit prefix of a failed one.

    Parameters
    ----------
    P_sft : ndarray, shape (N, M, M)
        The (float64) policy that samples.
    model : ChainMDP
        Answers and the training questions ``w = model.weights("train")``.
    V : ndarray, shape (N+1, M, M)
        Prover values ``V[n, s, s0]``.
    K : int
        Trajectories per training question.
    negatives : int
        At most this many failed samples per question (the first ones drawn).
    pit : {"min-value", "first-drop"}
        :func:`first_pits`.
    rng : numpy.random.Generator

    Returns
    -------
    PreferencePairs
        Chosen: the whole correct path (every step); rejected: ``(s_0..s_c)`` (steps ``1..c``);
        weight ``w(s0)/negatives`` per pair.
    """
    N = model.N
    w = model.weights("train")
    paths = sample_trajectories(P_sft, K, rng, w)
    correct = paths[:, N] == model.answers[paths[:, 0]]
    chosen, rejected, weight = [], [], []
    for block in range(len(paths) // K):
        idx = np.arange(block * K, (block + 1) * K)
        good, bad = idx[correct[idx]], idx[~correct[idx]][:negatives]
        if len(good) == 0 or len(bad) == 0:
            continue
        chosen.append(paths[rng.choice(good, size=len(bad))])
        rejected.append(paths[bad])
        weight.append(np.full(len(bad), w[paths[idx[0], 0]] / negatives))
    if not weight:
        return _empty_pairs(N, len(paths))
    chosen, rejected = np.concatenate(chosen), np.concatenate(rejected)
    c = first_pits(path_values(rejected, V), pit)
    rejected_steps = np.arange(1, N + 1)[None, :] <= c[:, None]
    return _merge(chosen, rejected, np.ones(chosen.shape[:1] + (N,), dtype=bool),
                  rejected_steps, np.concatenate(weight), len(paths))


def _draw_next(cum: np.ndarray, s: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws ``b ~ P[s_i, :]`` from the row-wise cumulative sums ``cum``."""
    out = np.empty(len(s), dtype=np.int64)
    for state in np.unique(s):
        idx = np.flatnonzero(s == state)
        out[idx] = np.searchsorted(cum[state], u[idx], side="right")
    return np.minimum(out, cum.shape[1] - 1)


def sibling_pairs(P_sft: np.ndarray, model: ChainMDP, V: np.ndarray, K: int,
                  rng: np.random.Generator) -> PreferencePairs:
    """Same-prefix pairs with Bradley-Terry labels in the prover's advantage.

    At every step ``n`` of each of ``K`` trajectories per training question (from ``P_sft``),
    the sampled ``a = s_n`` and an independent ``b ~ P_sft,n[s_{n-1}, :]`` form a pair; ``a``
    wins with probability ``sigmoid(V_n(a; s0) - V_n(b; s0))`` (the advantage difference; the
    shared ``V_{n-1}`` cancels). Each pair marks step ``n`` only and weighs ``w(s0)/K``; pairs
    with ``a = b`` are dropped (no gradient).
    """
    N = model.N
    w = model.weights("train")
    T = K * int(np.count_nonzero(w))
    check_memory(8.0 * T * N * (6 * N + 4) * 2, f"sibling pairs of {T:,} trajectories with "
                 f"N = {N} steps", "samples_per_question")
    paths = sample_trajectories(P_sft, K, rng, w)
    s0 = paths[:, 0]
    cum = np.cumsum(P_sft, axis=2)
    cum[..., -1] = 1.0
    chosen, rejected, steps, weight = [], [], [], []
    for n in range(1, N + 1):
        s, a = paths[:, n - 1], paths[:, n]
        b = _draw_next(cum[n - 1], s, rng.random(T))
        wins = rng.random(T) < 1.0 / (1.0 + np.exp(V[n][b, s0] - V[n][a, s0]))
        keep = a != b
        win, lose = np.where(wins, a, b)[keep], np.where(wins, b, a)[keep]
        side = np.zeros((int(keep.sum()), N + 1), dtype=np.int64)
        side[:, n - 1] = s[keep]
        up, down = side.copy(), side.copy()
        up[:, n], down[:, n] = win, lose
        mark = np.zeros((len(side), N), dtype=bool)
        mark[:, n - 1] = True
        chosen.append(up)
        rejected.append(down)
        steps.append(mark)
        weight.append(w[s0[keep]] / K)
    steps = np.concatenate(steps)
    return _merge(np.concatenate(chosen), np.concatenate(rejected), steps, steps.copy(),
                  np.concatenate(weight), T)


def _side_log_ratio(L: np.ndarray, paths: np.ndarray, steps: np.ndarray) -> np.ndarray:
    N = steps.shape[1]
    gathered = L[np.arange(N)[None, :], paths[:, :-1], paths[:, 1:]]
    return np.where(steps, gathered, 0.0).sum(axis=1)


def _margins(P: np.ndarray, P_sft: np.ndarray, pairs: PreferencePairs,
             beta: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        L = np.log(P) - np.log(P_sft)
    return beta * (_side_log_ratio(L, pairs.chosen, pairs.chosen_steps)
                   - _side_log_ratio(L, pairs.rejected, pairs.rejected_steps))


def dpo_loss(P: np.ndarray, P_sft: np.ndarray, pairs: PreferencePairs, beta: float) -> float:
    """``L = sum_pairs u log(1 + exp(-m))`` with the margin ``m = beta (h(y+) - h(y-))``.

    ``h`` sums ``log(P_n / P_sft,n)`` over a side's marked steps (module docstring).
    """
    return float(pairs.weight @ np.logaddexp(0.0, -_margins(P, P_sft, pairs, beta)))


def dpo_gradient(P: np.ndarray, P_sft: np.ndarray, pairs: PreferencePairs,
                 beta: float) -> np.ndarray:
    """Gradient of :func:`dpo_loss` with respect to the softmax logits ``theta = log P``.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``-(E - P rowsum(E))`` with ``E = beta sum_pairs u sigmoid(-m) (1[edge on y+] -
        1[edge on y-])`` over each side's marked steps
        (``d h / d theta_n[s, b] = sum_{steps n of y at s} (1[s_n = b] - P_n[s, b])``).
    """
    M = P.shape[1]
    sigmoid_minus = 0.5 * (1.0 - np.tanh(0.5 * _margins(P, P_sft, pairs, beta)))  # no overflow
    coef = beta * pairs.weight * sigmoid_minus
    E = (path_edge_sums(pairs.chosen, coef[:, None] * pairs.chosen_steps, M)
         - path_edge_sums(pairs.rejected, coef[:, None] * pairs.rejected_steps, M))
    return -operator.gradient(P, E)


def dpo_descent(P: np.ndarray, P_sft: np.ndarray, pairs: PreferencePairs, beta: float,
                lr: float, steps: int) -> np.ndarray:
    """``steps`` gradient-descent steps ``theta <- theta - lr grad L`` from ``theta = log P``.

    Zero entries of ``P`` stay zero (their logits are ``-inf``). Plain gradient descent is
    stable for ``lr beta^2 n_max <~ 1``, ``n_max`` the longest side in steps.
    """
    theta = operator.logits(P)
    current = np.asarray(P, dtype=float)
    for _ in range(steps):
        theta -= lr * dpo_gradient(current, P_sft, pairs, beta)
        current = operator.softmax(theta)
    return current


@dataclass(frozen=True)
class StepDpoState:
    """What step-DPO carries between steps.

    Attributes
    ----------
    P_sft : ndarray, shape (N, M, M)
        The frozen SFT policy: the DPO reference, the sampler and the prover's base.
    optimum : ndarray or None
        ``P*`` once computed (exact mode).
    pairs : PreferencePairs or None
        The pairs once built (sampled mode).
    """

    P_sft: np.ndarray
    optimum: np.ndarray | None = None
    pairs: PreferencePairs | None = None


def _check_positive(value, name: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else np.nan
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number in (0, inf), got {value!r}")
    return v


@dataclass(frozen=True)
class StepDpo(Rule):
    """Per-step DPO from negatives with the SFT policy as reference (module docstring).

    Attributes
    ----------
    samples_per_question : int
        ``K``: trajectories per training question drawn once from ``P_sft`` (nominal in exact
        mode).
    beta : float
        DPO coefficient ``beta > 0`` (0.1); also the temperature of the exact optimum.
    lr : float
        Step size of each DPO gradient step on the logits (sampled mode).
    dpo_steps : int
        DPO gradient steps per rule step (sampled mode; a run of ``T`` steps takes
        ``T dpo_steps``).
    prover_k : int
        ``K`` of the best-of-``K`` prover of ``P_sft`` (5, as in the paper).
    negatives : int
        Failed samples used per question (8, as in the paper; ``pairing="first-pit"``).
    pit : {"min-value", "first-drop"}
        The first pit (:func:`first_pits`).
    pairing : {"first-pit", "sibling"}
        The paper's pairs, or same-prefix Bradley-Terry pairs (:func:`sibling_pairs`).
    """

    name = "step-dpo"
    mode = "dpo"
    beta: float = 0.1
    lr: float = 1.0
    dpo_steps: int = 100
    prover_k: int = 5
    negatives: int = 8
    pit: str = "min-value"
    pairing: str = "first-pit"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self.beta, "beta")
        _check_positive(self.lr, "lr")
        check_int(self.dpo_steps, "dpo_steps", 1)
        check_int(self.prover_k, "prover_k", 1)
        check_int(self.negatives, "negatives", 1)
        if self.pit not in PITS:
            raise ValueError(f"pit must be one of {PITS}, got {self.pit!r}")
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {self.pairing!r}")

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> StepDpoState:
        """``P_sft = P0`` (float64); nothing computed yet."""
        return StepDpoState(P_sft=np.array(P0, dtype=float))

    def _state(self, P: np.ndarray, state: Any) -> StepDpoState:
        if isinstance(state, StepDpoState):
            return state
        return StepDpoState(P_sft=np.array(P, dtype=float))

    def prover(self, P_sft: np.ndarray, model: ChainMDP) -> np.ndarray:
        """``V^BoK[n, s, s0]`` of best-of-``prover_k`` of ``P_sft`` (exact for Fractions)."""
        return prover_values(P_sft, model.answers, self.prover_k).V

    def averaged_advantage(self, P_sft: np.ndarray, model: ChainMDP) -> AveragedAdvantage:
        """:func:`averaged_advantage` of the BoK prover on the training questions."""
        exact = is_exact(P_sft)
        return averaged_advantage(P_sft, model.weights("train", exact=exact),
                                  self.prover(P_sft, model))

    def optimum(self, P_sft: np.ndarray, model: ChainMDP) -> np.ndarray:
        """``P* = rownorm(P_sft exp(A_bar / beta))`` (float64)."""
        averaged = self.averaged_advantage(P_sft, model)
        return dpo_optimum(P_sft, averaged.A_bar, self.beta, averaged.visits)

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """The population optimum ``P*`` (the same at every step; samples counted once).

        ``train_edges`` are the SFT visits with the optimum's next steps,
        ``omega_n(s) P*_n[s, s']``.
        """
        data = self._state(P, state)
        samples = 0
        if data.optimum is None:
            data = StepDpoState(data.P_sft, self.optimum(data.P_sft, model), data.pairs)
            samples = self.nominal_samples(model)
        visits = visit_edges(data.P_sft, model.weights("train"))
        edges = visits.sum(axis=-1, keepdims=True) * data.optimum
        return Update(P=data.optimum, samples=samples, train_edges=edges, state=data)

    def build_pairs(self, P_sft: np.ndarray, model: ChainMDP,
                    rng: np.random.Generator) -> PreferencePairs:
        """The pairs of ``pairing`` from ``K`` samples per training question of ``P_sft``."""
        V = self.prover(P_sft, model)
        K = self.samples_per_question
        if self.pairing == "sibling":
            return sibling_pairs(P_sft, model, V, K, rng)
        return first_pit_pairs(P_sft, model, V, K, self.negatives, self.pit, rng)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """``dpo_steps`` DPO steps on the pairs (built in the first step from ``P_sft``).

        ``train_edges`` are the chosen sides' edges.
        """
        P = np.asarray(P, dtype=float)
        data = self._state(P, state)
        samples = 0
        if data.pairs is None:
            pairs = self.build_pairs(data.P_sft, model, check_rng(rng))
            data = StepDpoState(data.P_sft, data.optimum, pairs)
            samples = pairs.drawn
        new = dpo_descent(P, data.P_sft, data.pairs, self.beta, self.lr, self.dpo_steps)
        return Update(P=new, samples=samples, train_edges=data.pairs.chosen_edges(model.M),
                      state=data)

