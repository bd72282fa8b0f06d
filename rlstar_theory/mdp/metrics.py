"""Exact evaluation metrics of a policy on a chain model (ALGORITHMS.md §0.6).

All metrics average over the questions of one split with the weights
``ChainMDP.weights(split)`` (``rho`` restricted to the split and renormalised):

* ``J = sum rho p(s0)`` with ``p(s0) = F_N[s0, y(s0)]`` (maj@1 equals J);
* ``pass@k = sum rho (1 - (1 - p)^k)``: at least one of ``k`` i.i.d. answers is right;
* ``maj@k``: the right answer wins the plurality of ``k`` i.i.d. answers drawn from
  ``q(s0, .) = F_N[s0, .]``, ties broken uniformly at random (:mod:`.majority`);
* greedy maj@1: the path that takes ``argmax_{s'} P_n[s, s']`` at every step (lowest index on
  ties) ends at ``y(s0)``;
* support size: number of edges with ``P_n[s, s'] > 0``;
* policy entropy: mean over steps and states of the row entropy ``-sum P log P`` (nats);
* answer entropy: ``sum rho H(q(s0, .))``.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.mdp.exact import forward_products
from rlstar_theory.mdp.model import ChainMDP

__all__ = [
    "answer_distribution",
    "answer_entropy",
    "greedy_correct",
    "pass_at_k",
    "per_question_success",
    "policy_entropy",
    "support_size",
    "wrong_step_rate",
]


def answer_distribution(P: np.ndarray) -> np.ndarray:
    """``q[s0, y] = Pr(S_N = y | s0) = (P_1 ... P_N)[s0, y]``, shape ``(M, M)``."""
    return forward_products(P)[-1]


def per_question_success(q: np.ndarray, model: ChainMDP) -> np.ndarray:
    """``p(s0) = q[s0, y(s0)]`` from the answer distribution."""
    return q[np.arange(model.M), model.answers]


def pass_at_k(p: np.ndarray, weights: np.ndarray, ks) -> np.ndarray:
    """``pass@k = sum_{s0} w(s0) (1 - (1 - p(s0))^k)`` for each ``k`` in ``ks``.

    Computed as ``1 - (1-p)^k = -expm1(k log1p(-p))`` so small ``p`` keeps its precision.
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    ks = np.asarray(ks, dtype=float)[:, None]
    with np.errstate(divide="ignore"):
        fail = np.where(p < 1.0, ks * np.log1p(-p), -np.inf)
    return -np.expm1(fail) @ np.asarray(weights, dtype=float)


def greedy_correct(P: np.ndarray, model: ChainMDP) -> np.ndarray:
    """Whether the greedy path of each question ends at its answer; bool ``(M,)``.

    The greedy path takes ``argmax_{s'} P_n[s, s']`` at every step, the lowest index on ties.
    """
    state = np.arange(model.M)
    choice = np.argmax(np.asarray(P, dtype=float), axis=-1)  # first maximum: lowest index
    for n in range(model.N):
        state = choice[n, state]
    return state == model.answers


def support_size(P: np.ndarray) -> int:
    """Number of edges ``(n, s, s')`` with ``P_n[s, s'] > 0``."""
    return int(np.count_nonzero(np.asarray(P, dtype=float) > 0))


def _entropy_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(rows > 0, rows * np.log(np.where(rows > 0, rows, 1.0)), 0.0)
    return -terms.sum(axis=-1)


def policy_entropy(P: np.ndarray) -> float:
    """Mean row entropy ``-sum_{s'} P_n[s, s'] log P_n[s, s']`` over steps and states (nats)."""
    return float(_entropy_rows(P).mean())


def answer_entropy(q: np.ndarray, weights: np.ndarray) -> float:
    """``sum_{s0} w(s0) H(q(s0, .))``: entropy of the final answer (nats)."""
    return float(_entropy_rows(q) @ np.asarray(weights, dtype=float))


def wrong_step_rate(edges: np.ndarray, model: ChainMDP) -> float:
    """Share of the (positively weighted) training transitions that are off the gold map.

    Parameters
    ----------
    edges : ndarray, shape (N, M, M)
        Weights of the transitions a rule trained on (e.g. ``C+[w]`` or kept counts); negative
        weights (pushed-down samples) are ignored.

    Returns
    -------
    float
        ``sum_{s' != g_n(s)} max(C, 0) / sum max(C, 0)`` over all steps; NaN when empty.
    """
    pos = np.clip(np.asarray(edges, dtype=float), 0.0, None)
    total = pos.sum()
    if total == 0:
        return float("nan")
    return float(pos[~model.gold_edges()].sum() / total)
