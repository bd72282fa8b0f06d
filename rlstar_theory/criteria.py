"""What the theory predicts for a pre-trained model of the symmetric family, at each temperature.

The paper's criteria on the starting weights ``lam_{0,n}`` (its theorems sample at ``tau = 1``):

``all_positive``
    every ``lam_{0,n} > 0``: every ``lam_{t,n}`` increases strictly (until it reaches 1),
    ``J(P_{t+1}) > J(P_t)`` and ``P_{t,n} -> I_M``.
``one_zero``
    exactly one step at 0, the others positive: that step moves first (to
    ``Lam_{-n} > 0``), the others wait one iteration, then all converge.
``frozen``
    two or more steps at 0: ``Lam_{-n} = 0`` for every ``n``, so the zero steps never move and
    ``J`` stays ``1/M``.
``has_negative``
    some step negative (and fewer than two at 0): no guarantee; other steps can degrade.

What holds at which sampling temperature ``tau``:

``tau <= 1``
    all of the above. Tempering keeps every sign and never lowers a positive weight
    (``lam_tau >= lam`` for ``lam >= 0``), and the STaR map ``f`` is increasing in every weight
    on ``[0, 1]^N`` with ``f(x) >= x``; so ``lam_{t+1} = f(temper(lam_t)) >= lam_t`` (strictly
    below 1) and ``lam_t`` stays above the ``tau = 1`` iterates, which converge. With one zero
    step the other steps do not wait at ``tau < 1``: in the first iteration they are
    re-tempered (sharpened). With two zeros ``J = 1/M`` forever while the other steps are
    re-tempered every iteration.
``tau > 1``
    only the ``frozen`` prediction survives (zeros stay zero, ``J = 1/M``). Tempering flattens
    every positive weight (``lam_tau < lam``) and can outweigh the STaR improvement: at
    ``tau = 1.5``, ``M = 64``, equal starts ``lam_0 = 0.8`` converge for ``N = 3`` but fall to
    ``J -> 1/M`` for ``N = 4``; at ``tau = 2`` no equal start below 1 converges (``N = 3``). Near
    ``lam = 1`` one tempered step maps ``err = 1 - lam`` to about
    ``(N - 1) M^(1 - 2/tau) err^(2/tau)`` (for ``N >= 2``): for ``1 < tau < 2`` starts close
    enough to the optimum still converge, for ``tau > 2`` (and ``tau = 2``, ``N >= 3``) every
    start short of it moves away. (With ``N = 1``, ``Lam_{-n} = 1`` and any start with
    ``J > 0`` reaches ``I_M`` in one iteration, at any temperature.) Where the critical
    temperature lies for a given start is measured, not predicted: simulate.

:func:`classify_start` returns the prediction for the given temperature;
:func:`iterations_to_reach` measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

import numpy as np

from rlstar_theory.symmetric import _equal_steps, _initial_weights, _observe, _sd
from rlstar_theory.validation import check_lam, check_lam_exact, check_M, check_temperature

__all__ = ["StartClass", "StartPrediction", "classify_start", "iterations_to_reach"]


class StartClass(str, Enum):
    """The paper's classes of pre-trained models."""

    ALL_POSITIVE = "all_positive"
    ONE_ZERO = "one_zero"
    FROZEN = "frozen"
    HAS_NEGATIVE = "has_negative"


_HOT_NOTE = ("no guarantee at temperature > 1: tempering flattens every positive weight and can "
             "outweigh the STaR improvement, so J can fall back to 1/M (at tau = 1.5 and "
             "M = 64, lam0 = 0.8 converges for N = 3 but falls to 1/M for N = 4); simulate "
             "to see")

#: (class, regime) -> prediction; regime "cold" (tau < 1), "one" (tau = 1), "hot" (tau > 1)
_PREDICTIONS = {
    (StartClass.ALL_POSITIVE, "one"): "every lam_t,n increases strictly, J increases strictly "
    "every iteration and P_t,n -> I_M (convergence to the ground truth)",
    (StartClass.ALL_POSITIVE, "cold"): "every lam_t,n increases strictly, J increases strictly "
    "every iteration and P_t,n -> I_M, no slower than at temperature 1 (tempering at tau < 1 "
    "only sharpens positive weights)",
    (StartClass.ALL_POSITIVE, "hot"): _HOT_NOTE,
    (StartClass.ONE_ZERO, "one"): "the zero step moves first; the other steps wait one "
    "iteration, then all increase and converge to I_M",
    (StartClass.ONE_ZERO, "cold"): "the zero step moves first while the other steps are only "
    "sharpened by tempering; from then on all increase strictly and converge to I_M, and J "
    "increases strictly every iteration",
    (StartClass.ONE_ZERO, "hot"): "the zero step moves first; beyond that " + _HOT_NOTE,
    (StartClass.FROZEN, "one"): "fixed point: two or more steps at lam = 0, nothing ever "
    "changes and J stays 1/M",
    (StartClass.FROZEN, "cold"): "two or more steps at lam = 0: the zero steps never move and J "
    "stays 1/M; the other steps are re-tempered every iteration (they move away from 0)",
    (StartClass.FROZEN, "hot"): "two or more steps at lam = 0: the zero steps never move and J "
    "stays 1/M; the other steps are re-tempered every iteration (they move towards 0)",
}
_NEGATIVE = ("no guarantee: a negative step can make other steps degrade; simulate to see")


@dataclass(frozen=True)
class StartPrediction:
    """Classification of a starting model and the theory's prediction for it.

    Attributes
    ----------
    kind : StartClass
    prediction : str
        The prediction in words, for the given temperature.
    converges : bool or None
        True if the theory guarantees ``P_t -> I`` (all-positive and one-zero starts at
        ``tau <= 1``), False if it guarantees ``J = 1/M`` forever (frozen starts, any ``tau``),
        None if it says nothing.
    zero_steps : tuple of int
        1-based indices of the steps with ``lam = 0``.
    negative_steps : tuple of int
        1-based indices of the steps with ``lam < 0``.
    temperature : float
        The sampling temperature the prediction is for.
    """

    kind: StartClass
    prediction: str
    converges: bool | None
    zero_steps: tuple[int, ...]
    negative_steps: tuple[int, ...]
    temperature: float = 1.0


def _regime(tau: float) -> str:
    return "one" if tau == 1.0 else ("cold" if tau < 1.0 else "hot")


def classify_start(lam0, M: int, temperature: float = 1.0) -> StartPrediction:
    """Classify starting mixing weights by the paper's criteria, for a sampling temperature.

    Parameters
    ----------
    lam0 : array_like, shape (N,)
        ``lam_{0,n}`` in ``[-1/(M-1), 1]``. Fractions (or strings such as ``"1/3"``) are
        classified exactly (a weight of ``1e-400`` is positive, not zero).
    M : int
    temperature : float
        Sampling temperature ``tau > 0`` (default 1); see the module notes for what holds at
        which temperature.

    Returns
    -------
    StartPrediction
    """
    M = check_M(M)
    tau = check_temperature(temperature)
    if np.ndim(lam0) > 1:
        raise ValueError(f"lam0 must have shape (N,), got {np.shape(lam0)}")
    values = list(lam0) if np.ndim(lam0) else [lam0]
    if values and all(isinstance(v, (Fraction, str)) for v in values):
        exact = check_lam_exact(values, M, name="lam0")
        signs = np.array([(v > 0) - (v < 0) for v in exact])
    else:
        signs = np.sign(check_lam(lam0, M, name="lam0"))
        if signs.ndim != 1:
            raise ValueError(f"lam0 must have shape (N,), got {np.shape(lam0)}")
    zeros = tuple(int(i) + 1 for i in np.flatnonzero(signs == 0))
    negatives = tuple(int(i) + 1 for i in np.flatnonzero(signs < 0))
    regime = _regime(tau)
    if len(zeros) >= 2:
        kind, converges = StartClass.FROZEN, False
    elif negatives:
        kind, converges = StartClass.HAS_NEGATIVE, None
    elif len(zeros) == 1:
        kind, converges = StartClass.ONE_ZERO, True if regime != "hot" else None
    else:
        kind, converges = StartClass.ALL_POSITIVE, True if regime != "hot" else None
    prediction = _NEGATIVE if kind is StartClass.HAS_NEGATIVE else _PREDICTIONS[kind, regime]
    return StartPrediction(kind, prediction, converges, zeros, negatives, tau)


def iterations_to_reach(lam0, M: int, epsilon: float = 0.01, max_iterations: int = 1000,
                        temperature: float = 1.0) -> np.ndarray:
    """Iterations ``t`` until ``J(P_t) >= 1 - epsilon``, vectorised over starting points.

    Parameters
    ----------
    lam0 : array_like, shape (..., N)
        Starting mixing weights; leading axes broadcast (a grid is one call).
    M : int
    epsilon : float
        Target shortfall, ``0 < epsilon < 1 - 1/M`` (so the target is above random guessing).
    max_iterations : int
        Give up after this many iterations (``>= 0``).
    temperature : float
        Sampling temperature of the training data.

    Returns
    -------
    ndarray of int, shape (...)
        The first ``t`` with ``1 - J_t <= epsilon``; ``-1`` where it is not reached within
        ``max_iterations`` or where the iteration has stopped at a fixed point short of it
        (e.g. the frozen start). The same numbers as :func:`iterate_symmetric`, without its
        history.
    """
    M = check_M(M)
    if not (np.isfinite(epsilon) and 0 < epsilon < 1 - 1 / M):
        raise ValueError(f"epsilon must lie in (0, 1 - 1/M) = (0, {1 - 1 / M:.6g}), "
                         f"got {epsilon!r}")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, (int, np.integer)) \
            or max_iterations < 0:
        raise ValueError(f"max_iterations must be an integer >= 0, got {max_iterations!r}")
    tau = check_temperature(temperature)
    w = _initial_weights(np.moveaxis(check_lam(lam0, M, name="lam0"), -1, 0), M)
    rep = _equal_steps(w.lam)
    result = np.full(w.lam.shape[1:], -1, dtype=np.int64)
    # two or more zero steps: J = 1/M forever, at any temperature
    active = (w.lam == 0).sum(axis=0) < 2
    for t in range(max_iterations + 1):
        obs = _observe(w, M, tau, rep)
        reached = active & (obs.one_minus_J <= epsilon)
        result[reached] = t
        active &= ~reached
        # a fixed point: the same weights forever
        same = [np.all(a == b, axis=0) for a, b in zip(
            (obs.next.lam, obs.next.err, _sd(obs.next, M)), (w.lam, w.err, _sd(w, M)),
            strict=True)]
        active &= ~(same[0] & same[1] & same[2])
        if not active.any():
            break
        w = obs.next
    return result
