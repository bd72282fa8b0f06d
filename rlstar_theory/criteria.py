"""What the theory predicts for a pre-trained model of the symmetric family.

The paper's criteria on the starting weights ``lam_{0,n}``:

``all_positive``
    every ``lam_{0,n} > 0``: every ``lam_{t,n}`` increases strictly (until it reaches 1),
    ``J(P_{t+1}) > J(P_t)`` and ``P_{t,n} -> I_M``.
``one_zero``
    exactly one step at 0, the others positive: that step moves first (to
    ``Lam_{-n} > 0``), the others wait one iteration, then all converge.
``frozen``
    two or more steps at 0: ``Lam_{-n} = 0`` for every ``n``, a fixed point; nothing ever
    changes and ``J`` stays ``1/M``.
``has_negative``
    some step negative (and fewer than two at 0): no guarantee; other steps can degrade.

The criteria are the paper's theorems for sampling at temperature 1. Tempering keeps the sign
of every ``lam`` (``p > 1/M`` iff ``p_tau > 1/M``), so the classes are the same at any
temperature, but the predictions are not all: with two zero steps the zero steps and ``J = 1/M``
stay frozen at any temperature, while the other steps are re-tempered every iteration (they
sharpen towards 1 for ``tau < 1``). For ``tau <= 1`` a positive weight is never lowered by
tempering (``lam_tau >= lam``), so the all-positive guarantees still hold; for ``tau > 1`` the
refit can fall below the untempered weight: simulate to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from rlstar_theory.symmetric import _observables
from rlstar_theory.validation import check_lam, check_M, check_temperature


class StartClass(str, Enum):
    """The paper's classes of pre-trained models."""

    ALL_POSITIVE = "all_positive"
    ONE_ZERO = "one_zero"
    FROZEN = "frozen"
    HAS_NEGATIVE = "has_negative"


_PREDICTIONS = {
    StartClass.ALL_POSITIVE: "every lam_t,n increases strictly, J increases strictly every "
    "iteration and P_t,n -> I_M (convergence to the ground truth)",
    StartClass.ONE_ZERO: "the zero step moves first; the other steps wait one iteration, then "
    "all increase and converge to I_M",
    StartClass.FROZEN: "fixed point: two or more steps at lam = 0, the zero steps never move and "
    "J stays 1/M (at temperature 1 nothing changes at all)",
    StartClass.HAS_NEGATIVE: "no guarantee: a negative step can make other steps degrade; "
    "simulate to see",
}


@dataclass(frozen=True)
class StartPrediction:
    """Classification of a starting model and the theory's prediction for it.

    Attributes
    ----------
    kind : StartClass
    prediction : str
        The prediction in words.
    converges : bool or None
        True if the theory guarantees ``P_t -> I``, False if it guarantees a fixed point with
        ``J = 1/M``, None if it says nothing.
    zero_steps : tuple of int
        1-based indices of the steps with ``lam = 0``.
    negative_steps : tuple of int
        1-based indices of the steps with ``lam < 0``.
    """

    kind: StartClass
    prediction: str
    converges: bool | None
    zero_steps: tuple[int, ...]
    negative_steps: tuple[int, ...]


def classify_start(lam0, M: int) -> StartPrediction:
    """Classify starting mixing weights by the paper's criteria.

    Parameters
    ----------
    lam0 : array_like, shape (N,)
        ``lam_{0,n}`` in ``[-1/(M-1), 1]``.
    M : int

    Returns
    -------
    StartPrediction
    """
    lam = check_lam(lam0, check_M(M), name="lam0")
    if lam.ndim != 1:
        raise ValueError(f"lam0 must have shape (N,), got {np.shape(lam0)}")
    zeros = tuple(int(i) + 1 for i in np.flatnonzero(lam == 0))
    negatives = tuple(int(i) + 1 for i in np.flatnonzero(lam < 0))
    if len(zeros) >= 2:
        kind, converges = StartClass.FROZEN, False
    elif negatives:
        kind, converges = StartClass.HAS_NEGATIVE, None
    elif len(zeros) == 1:
        kind, converges = StartClass.ONE_ZERO, True
    else:
        kind, converges = StartClass.ALL_POSITIVE, True
    return StartPrediction(kind, _PREDICTIONS[kind], converges, zeros, negatives)


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
        ``max_iterations`` (e.g. the frozen fixed point).
    """
    M = check_M(M)
    if not (np.isfinite(epsilon) and 0 < epsilon < 1 - 1 / M):
        raise ValueError(f"epsilon must lie in (0, 1 - 1/M) = (0, {1 - 1 / M:.6g}), "
                         f"got {epsilon!r}")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, (int, np.integer)) \
            or max_iterations < 0:
        raise ValueError(f"max_iterations must be an integer >= 0, got {max_iterations!r}")
    check_temperature(temperature)
    err = 1.0 - check_lam(lam0, M, name="lam0")
    result = np.full(err.shape[:-1], -1, dtype=np.int64)
    # two or more zero steps: J = 1/M forever, at any temperature
    active = (err == 1.0).sum(axis=-1) < 2
    for t in range(max_iterations + 1):
        _, one_minus_J, _, _, _, new_err = _observables(err, M, temperature)
        reached = active & (one_minus_J <= epsilon)
        result[reached] = t
        active &= ~reached
        stuck = np.all(new_err == err, axis=-1)
        active &= ~stuck
        if not active.any():
            break
        err = new_err
    return result
