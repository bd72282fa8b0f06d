"""Advantage-filtered per-step RFT (``step-rft``): keep only the steps a prover calls progress.

The lecture notes' "option 1" for spurious steps (Setlur et al., arXiv 2406.14532): sample
solutions, score every step of a *correct* one by its advantage under a prover ``mu``
(:mod:`rlstar_theory.rules.prover`; best-of-``K`` of the frozen initial policy by default),

.. math::

    A^\\mu_n(s, s'; s_0) = V^\\mu_n(s'; s_0) - V^\\mu_{n-1}(s; s_0),

keep the steps with ``A^mu >= tau`` and drop the rest, even inside correct solutions, then refit
every step's rows by maximum likelihood on the kept steps (a row with nothing kept keeps its
row). There is no deduplication.

**Exact step.** The expected kept data is the success-edge operator restricted, question by
question, to the edges the prover keeps:

.. math::

    D_n[s, s'] = \\sum_{s_0} w(s_0)\\, F_{n-1}[s_0, s]\\, P_n[s, s']\\, B_n[s', y(s_0)]\\,
                 1[A^\\mu_n(s, s'; s_0) \\ge \\tau],

with ``w = model.weights("train")``. The indicator depends on ``(s0, s, s')`` together, so it is
computed per question (``O(N Q M^2)`` element-wise work, in blocks of about 2^21 entries, the
sum over questions as batched matrix products). Rational policies stay exact (Fractions).
``tau <= -1`` keeps every step (STaR, :class:`rlstar_theory.rules.star.Star`).

**Sampled step.** ``K`` trajectories per training question; a correct one adds ``w(s0)/K`` to
each of its steps with ``A^mu >= tau`` (exact prover values), whose expectation is ``D``.

``online=True`` (default) samples from the current policy at every step, like STaR;
``online=False`` samples once from the initial policy and refits on that data (offline, like
``rft``: later steps draw nothing and change nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import backward_values
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.values import StepValues
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.rules.prover import check_prover_options, initial_prover, prover_for
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_rng, is_exact

__all__ = ["StepRft", "StepRftState", "kept_success_edges"]

#: entries of one (questions, M, M) work block of the per-question filter
CHUNK_ENTRIES = 2**21


def kept_success_edges(P: np.ndarray, w: np.ndarray, answers: np.ndarray, V_mu: np.ndarray,
                       tau: float, chunk_entries: int = CHUNK_ENTRIES) -> np.ndarray:
    """Expected success edges of the steps with prover advantage ``>= tau`` (trusted inputs).

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        The policy that samples (float64 or Fractions).
    w : ndarray, shape (M,)
        Question weights (the question distribution included).
    answers : ndarray of int, shape (M,)
        ``y(s0)``.
    V_mu : ndarray, shape (N+1, M, M)
        The prover's values ``V^mu[n, s, s0]``.
    tau : float
        Keep threshold on ``A^mu``.
    chunk_entries : int
        Entries of one ``(questions, M, M)`` work block.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``D[n-1, s, s'] = sum_{s0} w F_{n-1}[s0, s] P_n[s, s'] B_n[s', y(s0)]
        1[V^mu_n(s'; s0) - V^mu_{n-1}(s; s0) >= tau]``.
    """
    N, M = P.shape[0], P.shape[1]
    V = backward_values(P, answers)  # V[n, s', s0] = B_n[s', y(s0)]
    questions = np.flatnonzero(np.asarray(w) != 0)
    rows = np.eye(M, dtype=np.int64)[questions].astype(P.dtype) * w[questions][:, None]
    chunk = max(1, min(len(questions), chunk_entries // (M * M)))
    out = np.empty(P.shape, dtype=P.dtype)
    for n in range(1, N + 1):
        acc = np.zeros((M, M), dtype=np.int64).astype(P.dtype)
        for lo in range(0, len(questions), chunk):
            qs = questions[lo:lo + chunk]
            after = V[n][:, qs].T  # (q, s')
            adv = V_mu[n][:, qs].T[:, None, :] - V_mu[n - 1][:, qs].T[:, :, None]  # (q, s, s')
            part = after[:, None, :] * (adv >= tau)
            # acc[s, s'] += sum_q rows[q, s] part[q, s, s']: M vector-matrix products
            acc = acc + np.matmul(rows[lo:lo + chunk].T[:, None, :],
                                  part.transpose(1, 0, 2))[:, 0, :]
        out[n - 1] = acc * P[n - 1]
        rows = rows @ P[n - 1]
    return out


@dataclass(frozen=True)
class StepRftState:
    """What step-RFT carries between steps.

    Attributes
    ----------
    P_init : ndarray, shape (N, M, M)
        The initial policy (the sampler when ``online=False``).
    prover : StepValues or None
        The frozen prover's values (``prover="base"``); None for ``"self"``.
    edges : ndarray or None
        The offline data, once collected (``online=False``).
    """

    P_init: np.ndarray
    prover: StepValues | None = None
    edges: np.ndarray | None = None


@dataclass(frozen=True)
class StepRft(Rule):
    """Per-step RFT: refit on the steps of correct samples with prover advantage ``>= tau``.

    Attributes
    ----------
    samples_per_question : int
        ``K`` (sampled mode; nominal in exact mode).
    tau : float
        Keep a step when ``A^mu_n(s, s'; s0) >= tau`` (finite; ``A`` lies in ``[-1, 1]``).
    prover : {"base", "self"}
        ``mu = BoK_K(P0)`` frozen, or ``BoK_K`` of the current policy.
    prover_k : int
        ``K`` of the best-of-``K`` prover (5, as in arXiv 2406.14532).
    online : bool
        Sample from the current policy every step (True) or once from ``P0`` (False).
    """

    name = "step-rft"
    mode = "refit"
    tau: float = 0.0
    prover: str = "base"
    prover_k: int = 5
    online: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_prover_options(self.prover, self.prover_k)
        try:
            tau = float(self.tau)
        except (TypeError, ValueError):
            tau = float("nan")
        if isinstance(self.tau, bool) or not np.isfinite(tau):
            raise ValueError(f"tau must be a finite number (advantages lie in [-1, 1]), got "
                             f"{self.tau!r}")
        if not isinstance(self.online, bool):
            raise ValueError(f"online must be True or False, got {self.online!r}")

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> StepRftState:
        """``P0`` and, for ``prover="base"``, the frozen values of ``BoK_K(P0)``."""
        return StepRftState(P_init=P0.copy(),
                            prover=initial_prover(self.prover, self.prover_k, P0, model.answers))

    def _state(self, P: np.ndarray, model: ChainMDP, state: Any) -> StepRftState:
        return state if isinstance(state, StepRftState) else self.init_state(P, model)

    def _sampler(self, P: np.ndarray, data: StepRftState) -> np.ndarray:
        return P if self.online else data.P_init

    def _prover(self, sampler: np.ndarray, model: ChainMDP, data: StepRftState) -> StepValues:
        return prover_for(self.prover, self.prover_k, sampler, model.answers, data.prover)

    def _finish(self, P, edges, samples, data) -> Update:
        if not self.online:
            data = StepRftState(data.P_init, data.prover, edges)
        return Update(P=operator.refit(P, edges), samples=samples, train_edges=edges, state=data)

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """Refit on the expected kept steps ``D`` (module docstring); exact for Fractions."""
        data = self._state(P, model, state)
        if data.edges is not None:
            return self._finish(P, data.edges, 0, data)
        sampler = self._sampler(P, data)
        exact = is_exact(sampler)
        V_mu = self._prover(sampler, model, data).V
        edges = kept_success_edges(sampler, model.weights("train", exact=exact), model.answers,
                                   V_mu, self.tau)
        return self._finish(P, edges, self.nominal_samples(model), data)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """Refit on the kept steps of ``K`` sampled solutions per training question."""
        P = np.asarray(P, dtype=float)
        data = self._state(P, model, state)
        if data.edges is not None:
            return self._finish(P, data.edges, 0, data)
        sampler = np.asarray(self._sampler(P, data), dtype=float)
        V_mu = np.asarray(self._prover(sampler, model, data).V, dtype=float)
        w = model.weights("train")
        K, N = self.samples_per_question, model.N
        paths = sample_trajectories(sampler, K, check_rng(rng), w)
        s0 = paths[:, 0]
        correct = paths[:, N] == model.answers[s0]
        steps = np.arange(1, N + 1)
        adv = V_mu[steps, paths[:, 1:], s0[:, None]] - V_mu[steps - 1, paths[:, :-1], s0[:, None]]
        values = (w[s0] / K * correct)[:, None] * (adv >= self.tau)
        return self._finish(P, path_edge_sums(paths, values, model.M), len(paths), data)
