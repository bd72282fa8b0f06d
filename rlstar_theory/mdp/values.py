"""Exact step values, Q-values and advantages of any policy and any prover (ALGORITHMS.md §0.2).

For a policy ``mu`` (the policy being trained, a frozen base policy, or any given policy) and a
question ``s0`` with answer ``y(s0)``, the value of being in state ``s`` after step ``n`` is the
backward product (:func:`rlstar_theory.mdp.exact.backward_values`)

.. math::

    V_n(s; s_0) = \\Pr{}_\\mu(S_N = y(s_0) \\mid S_n = s) = B_n[s, y(s_0)],\\qquad n = 0..N,

with ``V_N(s; s0) = 1[s = y(s0)]``. The dynamics are deterministic given the chosen next state,
so choosing ``s'`` *is* moving to it and

.. math::

    Q_n(s, s'; s_0) = V_n(s'; s_0),\\qquad
    A_n(s, s'; s_0) = V_n(s'; s_0) - V_{n-1}(s; s_0)

for the step ``n`` transition ``s -> s'``. The prover of Setlur et al. (arXiv 2406.14532,
2410.08146) is often best-of-``K`` of a policy: run ``K`` independent continuations from the
state and succeed if one does, so (§5d)

.. math::

    V^{BoK}_n(s; s_0) = 1 - (1 - V_n(s; s_0))^K,

computed as ``-expm1(K log1p(-V))`` in float64 (exactly for Fractions). Its Q-value and
advantage follow from the same two formulas (committing to ``s'``, then best-of-``K`` from
there). ``K = 1`` is the policy itself.

Layout: every array keeps the question axis last, as the backward products do: ``V[n, s, s0]``,
``Q[n-1, s, s', s0]``, ``A[n-1, s, s', s0]``. The full ``Q`` and ``A`` hold ``N M^2 Q`` numbers,
so :meth:`StepValues.advantage` gives one step at a time and :func:`advantages` checks memory
first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.mdp.exact import backward_values
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.validation import check_int, check_memory, is_exact

__all__ = ["StepValues", "advantages", "best_of_k", "policy_values", "prover_values",
           "q_values", "step_advantage"]


def best_of_k(V: np.ndarray, K: int) -> np.ndarray:
    """Success probability of the best of ``K`` independent tries: ``1 - (1 - V)^K``.

    Parameters
    ----------
    V : ndarray
        Success probabilities of one try, in ``[0, 1]`` (float64 or Fractions).
    K : int
        ``K >= 1`` tries.

    Returns
    -------
    ndarray
        ``1 - (1 - V)^K``; float64 as ``-expm1(K log1p(-V))`` (accurate for small ``V``; ``V = 1``
        gives exactly 1), Fractions exactly.
    """
    K = check_int(K, "K", 1)
    if is_exact(V):
        return 1 - (1 - V) ** K
    V = np.asarray(V, dtype=float)
    if K == 1:
        return V.copy()
    with np.errstate(divide="ignore"):
        fail = np.where(V < 1.0, K * np.log1p(-np.minimum(V, 1.0)), -np.inf)
    return -np.expm1(fail)


def q_values(V: np.ndarray, n: int) -> np.ndarray:
    """``Q_n(s, s'; s0) = V_n(s'; s0)`` for one step ``n`` in ``1..N``.

    Parameters
    ----------
    V : ndarray, shape (N+1, M, Q)
        Values ``V[n, s, s0]``.
    n : int
        The step.

    Returns
    -------
    ndarray, shape (M, M, Q)
        ``Q[s, s', s0]``: a read-only broadcast view (the same for every ``s``).
    """
    V = np.asarray(V)
    n = check_int(n, "n", 1, V.shape[0] - 1)
    return np.broadcast_to(V[n][None, :, :], (V.shape[1],) + V[n].shape)


def step_advantage(V: np.ndarray, n: int) -> np.ndarray:
    """``A_n(s, s'; s0) = V_n(s'; s0) - V_{n-1}(s; s0)`` for one step ``n`` in ``1..N``.

    Returns
    -------
    ndarray, shape (M, M, Q)
        ``A[s, s', s0]``.
    """
    V = np.asarray(V)
    n = check_int(n, "n", 1, V.shape[0] - 1)
    return V[n][None, :, :] - V[n - 1][:, None, :]


def advantages(V: np.ndarray) -> np.ndarray:
    """Advantages of every step: ``A[n-1, s, s', s0] = V_n(s'; s0) - V_{n-1}(s; s0)``.

    Parameters
    ----------
    V : ndarray, shape (N+1, M, Q)

    Returns
    -------
    ndarray, shape (N, M, M, Q)
        Checked against the memory budget before it is allocated (``8 N M^2 Q`` bytes).
    """
    V = np.asarray(V)
    N1, M, Q = V.shape
    check_memory(8.0 * (N1 - 1) * M * M * Q, "advantages: A[n, s, s', s0] of every step",
                 "M or the number of questions (or use StepValues.advantage one step at a time)")
    return V[1:, None, :, :] - V[:-1, :, None, :]


@dataclass(frozen=True)
class StepValues:
    """The exact values of a prover on every question.

    Attributes
    ----------
    V : ndarray, shape (N+1, M, M)
        ``V[n, s, s0]``: success probability of the prover from state ``s`` after step ``n`` on
        question ``s0`` (best-of-``K`` when ``K > 1``).
    K : int
        Tries of the best-of-``K`` prover (1: the policy itself).
    """

    V: np.ndarray
    K: int = 1

    @property
    def N(self) -> int:
        return self.V.shape[0] - 1

    @property
    def M(self) -> int:
        return self.V.shape[1]

    def q(self, n: int) -> np.ndarray:
        """``Q_n[s, s', s0] = V_n(s'; s0)`` (:func:`q_values`)."""
        return q_values(self.V, n)

    def advantage(self, n: int) -> np.ndarray:
        """``A_n[s, s', s0] = V_n(s'; s0) - V_{n-1}(s; s0)`` (:func:`step_advantage`)."""
        return step_advantage(self.V, n)

    def advantages(self) -> np.ndarray:
        """``A[n-1, s, s', s0]`` for every step (:func:`advantages`)."""
        return advantages(self.V)


def prover_values(P: np.ndarray, answers: np.ndarray, K: int = 1) -> StepValues:
    """:func:`policy_values` on a trusted policy and the answers (no validation)."""
    return StepValues(V=best_of_k(backward_values(P, np.asarray(answers)), K), K=int(K))


def policy_values(P, model: ChainMDP, K: int = 1) -> StepValues:
    """Exact values of the policy ``P`` or of best-of-``K`` of it, on every question of ``model``.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Any policy: the one being trained, a frozen base, or any other (float64 or Fractions).
    model : ChainMDP
        The answers ``y(s0)``.
    K : int
        ``K >= 1``; ``K = 1`` is ``P`` itself.

    Returns
    -------
    StepValues
        ``V[n, s, s0] = 1 - (1 - Pr_P(S_N = y(s0) | S_n = s))^K``, from the backward products
        ``B_n = P_{n+1} ... P_N`` (``N`` matrix products).
    """
    if not isinstance(model, ChainMDP):
        raise ValueError(f"model must be a ChainMDP, got {type(model).__name__}")
    P = model.check_policy(P)
    return prover_values(P, model.answers, check_int(K, "K", 1))
