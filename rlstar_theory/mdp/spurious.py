"""Spurious steps: off the gold map, yet the answer is still reachable (ALGORITHMS.md §5d).

The step-``n`` transition ``s -> s'`` on question ``s0`` is **spurious** when

* it is off the gold map, ``s' != g_n(s)`` (:meth:`ChainMDP.gold_edges`), and
* the answer is still reachable after it: ``V_n(s'; s0) > threshold`` (``threshold = 0``:
  reachable at all).

``V`` are the values of the *reach* policy (:mod:`rlstar_theory.mdp.values`). By default it is
the policy that is measured: the one whose trajectories are counted, or the one that produced
the training data. Pass any :class:`~rlstar_theory.mdp.values.StepValues` (a prover's, a frozen
base policy's) to judge reachability by another policy instead. The indicator factors as
``off_n[s, s'] R_n[s', s0]`` with ``R_n[s', s0] = 1[V_n(s'; s0) > threshold]``: the first factor
does not depend on the question and the second not on ``s``. So every sum below over questions
is a matrix product (``O(N M^3)``), with ``Fw_{n-1} = diag(w) F_{n-1}``.

**Along the policy's own trajectories** (:func:`spurious_steps`), on the questions of one split
with weights ``w = model.weights(split)``:

.. math::

    \\pi_n = \\sum_{s_0} w(s_0) \\sum_{s, s'} F_{n-1}[s_0, s] P_n[s, s']\\,
             \\mathrm{off}_n[s, s'] R_n[s', s_0]
           = \\sum \\mathrm{off}_n \\odot P_n \\odot (Fw_{n-1}^\\top R_n^\\top),

the probability that step ``n`` is spurious. :attr:`SpuriousSteps.probability` is its mean over
the ``N`` steps (``N`` times it is the expected number of spurious steps in a solution).

**In training data** (:func:`spurious_data_rate`). A rule's data ``T_n[s, s']``
(``Update.train_edges``) is summed over questions, but whether an edge is spurious depends on
the question. Each edge's weight is therefore shared among the questions in proportion to the
success mass that the data policy ``P`` (the policy before the step) puts on it,
``w(s0) E+_n(s0; s, s')`` (§0.2), which is exact for every rule whose data are ``P``'s
successful solutions:

.. math::

    h_n[s, s'] = \\frac{\\sum_{s_0} w E^+_n(s_0; s, s')\\, \\mathrm{off}_n R_n[s', s_0]}
                      {\\sum_{s_0} w E^+_n(s_0; s, s')}
               = \\mathrm{off}_n \\odot
                 \\frac{Fw_{n-1}^\\top (V^P_n \\odot R_n)^\\top}{Fw_{n-1}^\\top V^{P\\top}_n},
    \\qquad
    \\text{rate} = \\frac{\\sum \\max(T, 0)\\, h}{\\sum \\max(T, 0)},

with ``w`` the training weights (:func:`spurious_edge_share`). An edge on which ``P`` puts no
success mass (reference data, say) counts as spurious when it is off-gold and the answer is
reachable after it for some training question. With the default reach (``P``'s own values) and
``threshold = 0``, ``V ⊙ R = V``, so ``h = off`` on every edge with success mass: every off-gold
step of a successful solution was recovered from, and the rate equals the wrong-step rate of
success data. It differs for a reach policy other than ``P``, a positive threshold, or data
that are not ``P``'s successes.

**Sampled mode.** Sampled edge weights have lost their questions; the same exact share ``h``
of the sampling policy is applied to them (numerator and denominator are then unbiased for the
exact ones).

Fractions are converted to float64: these are metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.mdp.exact import backward_values
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.values import StepValues

__all__ = ["SpuriousProfile", "SpuriousSteps", "spurious_data_rate", "spurious_edge_share",
           "spurious_profile", "spurious_steps"]


@dataclass(frozen=True)
class SpuriousSteps:
    """Per-step probabilities along a policy's own trajectories on one split.

    Attributes
    ----------
    spurious : ndarray, shape (N,)
        ``Pr(step n is spurious)``.
    off_gold : ndarray, shape (N,)
        ``Pr(step n is off the gold map)`` (spurious or not).
    recovered : ndarray, shape (N,)
        ``Pr(step n is off the gold map and the solution still ends at the answer)``.
    """

    spurious: np.ndarray
    off_gold: np.ndarray
    recovered: np.ndarray

    @property
    def probability(self) -> float:
        """Mean over steps of ``Pr(step n is spurious)``: the chance that a step is spurious."""
        return float(self.spurious.mean())

    @property
    def expected_count(self) -> float:
        """Expected number of spurious steps in one solution (``sum_n Pr(step n spurious)``)."""
        return float(self.spurious.sum())


def _check_threshold(threshold) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = float("nan")
    if isinstance(threshold, bool) or not 0.0 <= t < 1.0:
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
    return t


def _reach_values(reach, model: ChainMDP) -> np.ndarray | None:
    """``V[n, s', s0]`` of the reach policy as float64, or None for the policy's own values."""
    if reach is None:
        return None
    V = reach.V if isinstance(reach, StepValues) else reach
    V = np.asarray(V, dtype=float)
    shape = (model.N + 1, model.M, model.M)
    if V.shape != shape:
        raise ValueError(f"reach must be StepValues or values V[n, s, s0] of shape {shape}, "
                         f"got shape {V.shape}")
    return V


def _policy(P, model: ChainMDP) -> np.ndarray:
    return np.asarray(model.check_policy(P), dtype=float)


@dataclass(frozen=True)
class SpuriousProfile:
    """Spurious-step quantities of one policy, for any question weights and any data.

    Attributes
    ----------
    per_question : ndarray, shape (3, N, M)
        ``[spurious, off_gold, recovered][n-1, s0]``: the probabilities of :class:`SpuriousSteps`
        for question ``s0`` alone.
    edge_share : ndarray, shape (N, M, M)
        ``h_n[s, s']``, the spurious share of each edge's training weight (module docstring),
        shared out by the training questions.
    """

    per_question: np.ndarray
    edge_share: np.ndarray

    def steps(self, w: np.ndarray) -> SpuriousSteps:
        """:class:`SpuriousSteps` for question weights ``w`` (shape ``(M,)``)."""
        spurious, off_gold, recovered = self.per_question @ np.asarray(w, dtype=float)
        return SpuriousSteps(spurious=spurious, off_gold=off_gold, recovered=recovered)

    def data_rate(self, edges) -> float:
        """``sum max(T, 0) h / sum max(T, 0)`` for data ``T`` (NaN without positive weight)."""
        T = np.clip(np.asarray(edges, dtype=float), 0.0, None)
        if T.shape != self.edge_share.shape:
            raise ValueError(f"edges must have shape (N, M, M) = {self.edge_share.shape}, got "
                             f"{T.shape}")
        total = T.sum()
        if total == 0:
            return float("nan")
        return float(np.sum(T * self.edge_share) / total)


def _profile(P: np.ndarray, model: ChainMDP, reach, threshold: float,
             questions: bool = True, share: bool = True) -> SpuriousProfile:
    """Both parts of the profile, or one (the other left empty), from trusted float input.

    Per step ``n``: ``G = (off ⊙ P_n) R_n`` and ``H = (off ⊙ P_n) V_n`` give the per-question
    probabilities ``sum_s F_{n-1}[s0, s] G[s, s0]``; ``F_{n-1}^T diag(w) V_n^T`` (and the same
    with ``V ⊙ R``, unless that is ``V``) give the edge share. About ``5N`` ``(M, M)`` products.
    """
    N, M = model.N, model.M
    V = backward_values(P, model.answers)
    reach_V = _reach_values(reach, model)
    R = ((V if reach_V is None else reach_V) > threshold).astype(float)  # BLAS products
    same = reach_V is None and threshold == 0.0  # then V ⊙ R = V exactly
    w = np.asarray(model.weights("train"), dtype=float)
    any_train = R[:, :, w > 0].max(axis=-1, initial=0.0)  # reachable for some train question
    off = ~model.gold_edges()
    per_question = np.zeros((3, N, M) if questions else (3, 0, M))
    h = np.zeros(P.shape if share else (0, M, M))
    F = np.eye(M)
    for n in range(1, N + 1):
        Poff = P[n - 1] * off[n - 1]
        if questions:
            per_question[0, n - 1] = np.einsum("qs,sq->q", F, Poff @ R[n])
            per_question[1, n - 1] = F @ Poff.sum(axis=1)
            per_question[2, n - 1] = np.einsum("qs,sq->q", F, Poff @ V[n])
        if share:
            FwT = F.T * w  # Fw_{n-1}^T[s, s0] = F_{n-1}[s0, s] w(s0)
            mass = FwT @ V[n].T  # success mass of (s, s') over P_n[s, s']
            spur = mass if same else FwT @ (V[n] * R[n]).T
            has = (mass * P[n - 1]) > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                h[n - 1] = np.where(has, spur / np.where(has, mass, 1.0), any_train[n][None, :])
            h[n - 1] *= off[n - 1]
        F = F @ P[n - 1]
    return SpuriousProfile(per_question=per_question, edge_share=np.clip(h, 0.0, 1.0))


def spurious_profile(P, model: ChainMDP, reach=None, threshold: float = 0.0) -> SpuriousProfile:
    """Per-question spurious-step probabilities and the per-edge spurious share of ``P``.

    One pass for every split and every data set of the same policy (what
    :func:`rlstar_theory.rules.iterate` uses). Parameters as in :func:`spurious_steps`.
    """
    return _profile(_policy(P, model), model, reach, _check_threshold(threshold))


def spurious_steps(P, model: ChainMDP, split: str = "train", reach=None,
                   threshold: float = 0.0) -> SpuriousSteps:
    """Probability of a spurious step along the policy's own trajectories, step by step.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        The policy whose trajectories are counted.
    model : ChainMDP
    split : {"train", "test", "all"}
        Questions, weighted by ``model.weights(split)`` (all zeros for an empty split).
    reach : StepValues or ndarray (N+1, M, M), optional
        Values that decide reachability; ``P``'s own values when omitted.
    threshold : float
        Reachable means ``V > threshold``, in ``[0, 1)``.

    Returns
    -------
    SpuriousSteps
        ``spurious[n-1] = sum off_n ⊙ P_n ⊙ (Fw_{n-1}^T R_n^T)`` (module docstring), the
        off-gold probability ``sum off_n ⊙ P_n ⊙ (Fw_{n-1}^T 1)`` and the off-gold-but-recovered
        probability ``sum off_n ⊙ P_n ⊙ (Fw_{n-1}^T V_n^T)``.
    """
    w = model.weights(split)
    profile = _profile(_policy(P, model), model, reach, _check_threshold(threshold),
                       share=False)
    return profile.steps(w)


def spurious_edge_share(P, model: ChainMDP, reach=None, threshold: float = 0.0) -> np.ndarray:
    """The spurious share ``h_n[s, s']`` of every edge's training weight (module docstring).

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        The policy that produced the data.
    model : ChainMDP
        Its training questions (``model.weights("train")``) share out the edges.
    reach : StepValues or ndarray (N+1, M, M), optional
        Values that decide reachability; ``P``'s own values when omitted.
    threshold : float
        Reachable means ``V > threshold``, in ``[0, 1)``.

    Returns
    -------
    ndarray, shape (N, M, M)
        In ``[0, 1]``; 0 on gold edges.
    """
    return _profile(_policy(P, model), model, reach, _check_threshold(threshold),
                    questions=False).edge_share


def spurious_data_rate(edges, P, model: ChainMDP, reach=None, threshold: float = 0.0) -> float:
    """Share of the positive training edge weight that is spurious.

    Parameters
    ----------
    edges : array_like, shape (N, M, M)
        The training data ``T`` (``Update.train_edges``, exact or sampled); negative weights
        (pushed-down samples) are ignored.
    P : array_like, shape (N, M, M)
        The policy that produced the data (the policy before the step).
    model, reach, threshold
        As in :func:`spurious_edge_share`.

    Returns
    -------
    float
        ``sum max(T, 0) h / sum max(T, 0)``; NaN when there is no positive weight.
    """
    profile = _profile(_policy(P, model), model, reach, _check_threshold(threshold),
                       questions=False)
    return profile.data_rate(edges)
