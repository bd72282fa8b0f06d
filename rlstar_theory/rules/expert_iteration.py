"""Expert iteration with deduplication (Havrilla et al., arXiv 2403.04642; ALGORITHMS.md §1d).

Each round draws ``K`` trajectories per training question, keeps the correct ones, and keeps
each distinct state path ``tau = (s0, s_1, ..., s_N)`` **once**, however often it was drawn.
A correct path of question ``s0`` is in the deduplicated set with probability
``1 - (1 - pi(tau | s0))^K``, so the expected data and the refit are

.. math::

    D_n[s, s'] = \\sum_{s_0} \\rho(s_0) \\sum_{\\tau:\\ s_N = y(s_0),\\ (s_{n-1}, s_n) = (s, s')}
                 \\big[1 - (1 - \\pi(\\tau \\mid s_0))^K\\big],
    \\qquad P'_n = \\mathrm{rownorm}(D_n)

(rows without data keep their row, :func:`rlstar_theory.mdp.operator.refit`). ``K = 1`` is
STaR's update (``E[1[tau drawn]] = pi``); ``K pi << 1`` is close to it; ``K -> infinity`` counts
every correct path with ``pi > 0`` once ("uniform over solutions").

**Cumulative data** (``cumulative=True``): round ``i`` refits on the union of the distinct
correct paths of rounds ``1..i``, deduplicated across rounds, so a path counts once with
probability ``1 - prod_j (1 - pi_{j-1}(tau))^K`` (``pi_{j-1}``: the policy that drew round
``j``). The rule's state (:class:`DedupMemory`) carries the never-drawn probabilities (exact
mode) or the distinct paths drawn so far (sampled mode).

The expression does not factor over steps, so **exact mode enumerates** the ``M^(N-1)`` correct
paths of each training question: at most ``M^N <= 10^6`` (question, path) pairs
(:data:`MAX_EXACT_PATHS`), one numpy tensor, no Python loop over paths. Beyond that use sampled
mode. ``1 - (1 - pi)^K`` is computed as ``-expm1(K log1p(-pi))`` in float64 (tiny ``pi`` keeps
its precision) and exactly for Fraction policies (``K`` is an integer, so it stays rational).

Sampled mode draws ``K`` trajectories per question (:func:`rlstar_theory.sampling.
sample_trajectories`), keeps the correct ones, ``np.unique`` s them (the question is part of
the path) and counts each distinct path with weight ``rho(s0)``: its expectation is ``D_n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_rng, is_exact

__all__ = ["MAX_EXACT_PATHS", "DedupMemory", "ExpertIterationDedup", "correct_path_probabilities",
           "dedup_counts", "path_weight_edges", "sampled_dedup_counts"]

#: exact mode enumerates M**N (question, correct path) pairs at most
MAX_EXACT_PATHS = 10**6


@dataclass(frozen=True)
class DedupMemory:
    """What deduplication remembers between rounds (cumulative data).

    Attributes
    ----------
    log_unseen : ndarray, shape (Q, M, ..., M), or None
        Exact mode, float64: ``sum_j K log(1 - pi_{j-1}(tau))``, the log-probability that the
        correct path ``tau`` (axes as in :func:`correct_path_probabilities`) was never drawn.
    unseen : ndarray of Fraction, same shape, or None
        Exact mode, Fractions: ``prod_j (1 - pi_{j-1}(tau))^K``.
    paths : ndarray of int64, shape (R, N + 1), or None
        Sampled mode: the distinct correct paths drawn so far (column 0 the question).
    """

    log_unseen: np.ndarray | None = None
    unseen: np.ndarray | None = None
    paths: np.ndarray | None = None


def _train_questions(model: ChainMDP) -> np.ndarray:
    return np.flatnonzero(model.weights("train") > 0)


def correct_path_probabilities(P: np.ndarray, model: ChainMDP) -> np.ndarray:
    """Probability of every correct path of every training question, as one tensor.

    .. math::

        \\pi[q, s_1, \\ldots, s_{N-1}] = P_1[s_0, s_1] P_2[s_1, s_2] \\cdots
                                          P_N[s_{N-1}, y(s_0)],\\qquad s_0 = Q_q,

    where ``Q`` are the training questions with mass, in increasing order.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        Validated policy (float64 or Fractions).
    model : ChainMDP

    Returns
    -------
    ndarray, shape (Q,) + (M,) * (N - 1)
        Axis 0 is the question, axis ``k`` the state ``s_k``.

    Raises
    ------
    ValueError
        When ``M**N > MAX_EXACT_PATHS`` (checked before anything is allocated).
    """
    N, M = model.N, model.M
    if M**N > MAX_EXACT_PATHS:
        raise ValueError(f"exact deduplication enumerates the correct paths of every question: "
                         f"M**N = {M}**{N} = {M**N:,} (question, path) pairs, more than the "
                         f"{MAX_EXACT_PATHS:,} allowed; use sampled mode (mode='sampled', or "
                         "--samples-per-question on the command line)")
    questions = _train_questions(model)
    answers = model.answers[questions]
    Q = len(questions)
    if N == 1:
        return P[0][questions, answers]
    tensor = P[0][questions].reshape((Q, M) + (1,) * (N - 2))
    for n in range(1, N - 1):  # P_{n+1} on the axes of (s_n, s_{n+1})
        shape = [1] * N
        shape[n] = shape[n + 1] = M
        tensor = tensor * P[n].reshape(shape)
    shape = [1] * N
    shape[0], shape[N - 1] = Q, M
    return tensor * P[N - 1][:, answers].T.reshape(shape)  # P_N[s_{N-1}, y(s0)]


def path_weight_edges(values: np.ndarray, model: ChainMDP) -> np.ndarray:
    """Sum a value per correct path over the edges the path takes.

    Parameters
    ----------
    values : ndarray, shape (Q,) + (M,) * (N - 1)
        ``v[q, s_1, ..., s_{N-1}]`` on the correct paths of :func:`correct_path_probabilities`
        (float64 or Fractions).
    model : ChainMDP

    Returns
    -------
    ndarray, shape (N, M, M)
        ``E_n[s, s'] = sum_{q, tau} v[q, tau] 1[(s_{n-1}, s_n) = (s, s')]`` with ``s_0 = Q_q``
        and ``s_N = y(Q_q)``: tensor sums over the other axes, one per step.
    """
    N, M = model.N, model.M
    questions = _train_questions(model)
    answers = model.answers[questions]
    out = np.zeros((N, M, M), dtype=values.dtype)
    if N == 1:
        out[0, questions, answers] = values
        return out
    out[0, questions] = values.sum(axis=tuple(range(2, N)))  # distinct questions: (s0, s1)
    for n in range(2, N):  # step n: the axes of (s_{n-1}, s_n)
        out[n - 1] = values.sum(axis=tuple(a for a in range(N) if a not in (n - 1, n)))
    last = values.sum(axis=tuple(range(1, N - 1)))  # (Q, M): weight by s_{N-1}
    Y = (answers[:, None] == np.arange(M)).astype(np.int64).astype(values.dtype)
    out[N - 1] = last.T @ Y  # step N: s_{N-1} -> y(s0)
    return out


def dedup_counts(P: np.ndarray, model: ChainMDP, K: int,
                 memory: DedupMemory | None = None) -> tuple[np.ndarray, DedupMemory]:
    """Expected deduplicated data of one round of ``K`` samples per training question.

    .. math::

        D_n[s, s'] = \\sum_{s_0} \\rho(s_0) \\sum_{\\tau \\text{ correct through } (s, s')}
                     \\Big[1 - u(\\tau) (1 - \\pi(\\tau \\mid s_0))^K\\Big],

    where ``u(tau)`` is the probability that earlier rounds never drew ``tau`` (from
    ``memory``; 1 without it). Float64 uses ``-expm1(log u + K log1p(-pi))``; Fraction
    policies give exact Fractions.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        Validated policy that draws this round.
    model : ChainMDP
    K : int
        Samples per question.
    memory : DedupMemory, optional
        The never-drawn probabilities of the earlier rounds (cumulative data).

    Returns
    -------
    edges : ndarray, shape (N, M, M)
        ``D_n``.
    memory : DedupMemory
        The never-drawn probabilities including this round.

    Raises
    ------
    ValueError
        When ``M**N > MAX_EXACT_PATHS``.
    """
    pi = correct_path_probabilities(P, model)
    if is_exact(P):
        rho = model.weights("train", exact=True)[_train_questions(model)]
        unseen = (1 - pi) ** K
        if memory is not None and memory.unseen is not None:
            unseen = unseen * memory.unseen
        seen = 1 - unseen
        new_memory = DedupMemory(unseen=unseen)
    else:
        rho = model.weights("train")[_train_questions(model)]
        with np.errstate(divide="ignore"):  # pi = 1: log1p(-1) = -inf, never unseen
            log_unseen = K * np.log1p(-pi)
        if memory is not None and memory.log_unseen is not None:
            log_unseen = log_unseen + memory.log_unseen
        seen = -np.expm1(log_unseen)
        new_memory = DedupMemory(log_unseen=log_unseen)
    seen = seen * rho.reshape((-1,) + (1,) * (seen.ndim - 1))
    return path_weight_edges(seen, model), new_memory


def sampled_dedup_counts(P: np.ndarray, model: ChainMDP, K: int, rng: np.random.Generator,
                         memory: DedupMemory | None = None
                         ) -> tuple[np.ndarray, DedupMemory, int]:
    """Deduplicated data of ``K`` sampled trajectories per training question.

    ``D^_n[s, s'] = sum_{tau distinct, correct} rho(s0) 1[(s_{n-1}, s_n) = (s, s') in tau]``
    over the distinct correct paths of this round, joined with ``memory.paths`` (cumulative
    data). Its expectation is :func:`dedup_counts`.

    Returns
    -------
    edges : ndarray, shape (N, M, M)
    memory : DedupMemory
        The distinct correct paths so far.
    drawn : int
        Trajectories drawn.
    """
    N, M = model.N, model.M
    rho = model.weights("train")
    paths = sample_trajectories(P, K, rng, rho)
    correct = paths[paths[:, N] == model.answers[paths[:, 0]]]
    if memory is not None and memory.paths is not None:
        correct = np.concatenate([memory.paths, correct])
    distinct = np.unique(correct, axis=0)
    edges = path_edge_sums(distinct, rho[distinct[:, 0]], M)
    return edges, DedupMemory(paths=distinct), len(paths)


@dataclass(frozen=True)
class ExpertIterationDedup(Rule):
    """Expert iteration keeping each distinct correct state path once (module docstring).

    Attributes
    ----------
    samples_per_question : int
        ``K``: samples per training question per round (it enters the exact update).
    cumulative : bool
        Refit on the union of all rounds' distinct correct paths (deduplicated across
        rounds) instead of this round's only.
    """

    name = "ei-dedup"
    mode = "refit"
    cumulative: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.cumulative, (bool, np.bool_)):
            raise ValueError(f"cumulative must be True or False, got {self.cumulative!r}")

    def _memory(self, state: Any) -> DedupMemory | None:
        return state if self.cumulative and isinstance(state, DedupMemory) else None

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """Refit on the expected deduplicated data (path enumeration, ``M**N <= 10**6``)."""
        edges, memory = dedup_counts(P, model, self.samples_per_question, self._memory(state))
        return Update(P=operator.refit(P, edges), samples=self.nominal_samples(model),
                      train_edges=edges, state=memory if self.cumulative else None)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """Refit on the distinct correct paths of ``K`` samples per question."""
        P = np.asarray(P, dtype=float)
        edges, memory, drawn = sampled_dedup_counts(P, model, self.samples_per_question,
                                                    check_rng(rng), self._memory(state))
        return Update(P=operator.refit(P, edges), samples=drawn, train_edges=edges,
                      state=memory if self.cumulative else None)
