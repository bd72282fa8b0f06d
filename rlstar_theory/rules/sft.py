"""Rules that train on reference data: continued SFT, and offline RFT (ALGORITHMS.md §4.1d).

The reference data is the gold chain ``s*_0 = s0, s*_n = g_n(s*_{n-1})`` of every training
question, weighted by the question distribution:

.. math::

    R_n[s, s'] = \\sum_{s_0 \\in \\text{train}} \\rho(s_0)\\,
                 1[(s, s') = (s^*_{n-1}(s_0), s^*_n(s_0))]

(:func:`reference_edges`). These are the only rules here that can **add support**: every other
rule trains on the policy's own samples, and a transition with ``P_n[s, s'] = 0`` is never
sampled (§0.5 F7).

* ``sft`` (:class:`Sft`): continued supervised fine-tuning on the reference data. Its maximum
  likelihood ``rownorm(R_n)`` is one-hot on the gold transition of every row a gold chain
  visits, reached in one step. Fine-tuning for a finite number of steps moves only part of the
  way, so the rule is the ``eta``-limited step

  .. math::

      P'_n[s] = (1 - \\eta) P_n[s] + \\eta\\,\\mathrm{rownorm}(R_n)[s]

  on the rows with reference data; the other rows keep their row. ``eta = 1`` is the MLE.
  It draws no trajectories from the policy (``samples = 0``) and its sampled step is its
  exact step.
* ``rft`` (:class:`Rft`): rejection-sampling fine-tuning (Yuan et al., arXiv 2308.01825), one
  round of deduplicated expert iteration *offline* from the frozen initial policy ``P_SFT`` plus
  the reference trace with weight ``lambda_ref``:

  .. math::

      P' = \\mathrm{rownorm}\\big(D[P_{SFT}] + \\lambda_{ref} R\\big),

  with ``D`` the deduplicated counts of ``K`` samples per question
  (:func:`rlstar_theory.rules.expert_iteration.dedup_counts`; sampled:
  :func:`~rlstar_theory.rules.expert_iteration.sampled_dedup_counts`). ``P_SFT`` is the
  policy the run starts from (the state of :meth:`Rft.init_state`). The data is collected
  once, in the first step (``K`` samples per question; 0 after), so iterating changes nothing
  more. A sampled copy of the gold path is not merged with the reference trace (the two terms
  add, as in §4.1d).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.expert_iteration import dedup_counts, sampled_dedup_counts
from rlstar_theory.validation import check_rng, is_exact, to_fraction

__all__ = ["Rft", "RftData", "Sft", "reference_edges"]


def reference_edges(model: ChainMDP, exact: bool = False) -> np.ndarray:
    """The gold transitions of the training questions, weighted by ``rho``.

    Parameters
    ----------
    model : ChainMDP
    exact : bool
        Fractions (needs an exactly known start) instead of float64.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``R_n[s, s'] = sum_{s0 in train} rho(s0) 1[(s, s') = (s*_{n-1}(s0), s*_n(s0))]``.
    """
    rho = model.weights("train", exact=exact)
    out = np.zeros((model.N, model.M, model.M), dtype=rho.dtype)
    used = np.flatnonzero(model.weights("train") > 0)
    for n in range(model.N):  # N steps; np.add.at sums questions that share a gold edge
        np.add.at(out[n], (model.gold[used, n], model.gold[used, n + 1]), rho[used])
    return out


def _check_number(value, name: str, low: float, high: float | None, low_open: bool) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    above = v > low if low_open else v >= low
    if isinstance(value, bool) or not (np.isfinite(v) and above and (high is None or v <= high)):
        allowed = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}"
        allowed += "]" if high is not None else ")"
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}")


@dataclass(frozen=True)
class Sft(Rule):
    """Continued SFT on the gold chains of the training questions, an ``eta``-limited step.

    ``P'_n[s] = (1 - eta) P_n[s] + eta rownorm(R_n)[s]`` on rows with reference data
    (:func:`reference_edges`); other rows are kept (module docstring).

    Attributes
    ----------
    eta : float
        Step towards the reference MLE, in ``(0, 1]`` (1: the pure refit, one-hot rows).
    """

    name = "sft"
    mode = "refit"
    eta: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number(self.eta, "eta", 0.0, 1.0, low_open=True)

    def nominal_samples(self, model: ChainMDP) -> int:
        """0: SFT trains on reference data and draws nothing from the policy."""
        return 0

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """The ``eta``-limited step towards ``rownorm(R)`` (exact for Fraction policies)."""
        exact = is_exact(P)
        R = reference_edges(model, exact)
        eta = to_fraction(self.eta, "eta") if exact else float(self.eta)
        visited = R.sum(axis=-1, keepdims=True) > 0
        mixed = (1 - eta) * P + eta * operator.refit(P, R)
        return Update(P=np.where(visited, mixed, P), samples=0, train_edges=R, state=state)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """The exact step (the reference data is not sampled); ``rng`` is unused."""
        return self.exact_step(np.asarray(P, dtype=float), model, state)


@dataclass(frozen=True)
class RftData:
    """The state of offline RFT.

    Attributes
    ----------
    P_sft : ndarray, shape (N, M, M)
        The frozen policy that draws the samples (the run's initial policy).
    edges : ndarray, shape (N, M, M), or None
        ``D[P_SFT] + lambda_ref R`` once collected (first step).
    """

    P_sft: np.ndarray
    edges: np.ndarray | None = None


@dataclass(frozen=True)
class Rft(Rule):
    """Offline rejection-sampling fine-tuning: ``rownorm(D[P_SFT] + lambda_ref R)``.

    Attributes
    ----------
    samples_per_question : int
        ``K`` samples per question drawn once from ``P_SFT`` (it enters the exact update).
    lambda_ref : float
        Weight ``>= 0`` of the reference trace (0: the distinct correct samples only).
    """

    name = "rft"
    mode = "refit"
    lambda_ref: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number(self.lambda_ref, "lambda_ref", 0.0, None, low_open=False)

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> RftData:
        """``P_SFT = P0``; no data yet."""
        return RftData(P_sft=P0.copy())

    def _data(self, P: np.ndarray, state: Any) -> RftData:
        return state if isinstance(state, RftData) else RftData(P_sft=P.copy())

    def _reference(self, model: ChainMDP, exact: bool) -> np.ndarray:
        lam = to_fraction(self.lambda_ref, "lambda_ref") if exact else float(self.lambda_ref)
        return lam * reference_edges(model, exact)

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """Refit on the expected data, computed in the first step by path enumeration.

        Without a state (no :meth:`init_state`), ``P`` itself is ``P_SFT``. Exact mode needs
        ``M**N <= 10**6`` (:func:`~rlstar_theory.rules.expert_iteration.dedup_counts`).
        """
        data = self._data(P, state)
        samples = 0
        if data.edges is None:
            exact = is_exact(data.P_sft)
            D = dedup_counts(data.P_sft, model, self.samples_per_question)[0]
            data = RftData(data.P_sft, D + self._reference(model, exact))
            samples = self.nominal_samples(model)
        return Update(P=operator.refit(P, data.edges), samples=samples, train_edges=data.edges,
                      state=data)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """Refit on the distinct correct samples of ``P_SFT`` (drawn in the first step) plus
        the reference."""
        P = np.asarray(P, dtype=float)
        data = self._data(P, state)
        samples = 0
        if data.edges is None:
            P_sft = np.asarray(data.P_sft, dtype=float)
            D, _, samples = sampled_dedup_counts(P_sft, model, self.samples_per_question,
                                                 check_rng(rng))
            data = RftData(data.P_sft, D + self._reference(model, False))
        return Update(P=operator.refit(P, data.edges), samples=samples, train_edges=data.edges,
                      state=data)
