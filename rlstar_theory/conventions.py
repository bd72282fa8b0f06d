"""The two "delta" conventions of the symmetric family, and conversions between them.

This module is the one owner of the conversions: every other module converts through it.

The symmetric family is ``P(lam) = lam * I + (1 - lam)/M * 1 1^T``.

``lam``
    the mixing weight towards the identity, also the non-trivial eigenvalue of ``P(lam)``;
    the authors' *theory script* calls this "delta". Range ``-1/(M-1) <= lam <= 1``.
``delta_diag``
    the diagonal excess over random guessing, ``P[s, s] = 1/M + delta_diag``; the authors'
    *data generator* calls this "delta". ``delta_diag = (M - 1) * lam / M``, range
    ``-1/M <= delta_diag <= (M - 1)/M``.
``p`` (``diag_prob``)
    the probability of the correct move, ``p = 1/M + delta_diag = 1/M + (M - 1) lam / M``;
    each wrong move has probability ``(1 - lam)/M``.

For ``M = 64``, ``delta_diag = 0.2`` is ``lam = 0.2032``: the two are never interchangeable.
The functions work on floats, numpy arrays and :class:`fractions.Fraction` alike (Fractions
give Fractions). ``lam_to_delta_diag`` and ``delta_diag_to_lam`` check the range unless
``check_range=False`` (for plot-axis transforms, which probe values outside it).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from rlstar_theory.validation import check_M

__all__ = [
    "DELTA_NOTE",
    "delta_diag_range",
    "delta_diag_to_diag_prob",
    "delta_diag_to_lam",
    "diag_prob_to_delta_diag",
    "diag_prob_to_lam",
    "lam_range",
    "lam_to_delta_diag",
    "lam_to_diag_prob",
    "off_diag_prob",
]

#: one line naming both conventions, for command-line output and reports
DELTA_NOTE = ("delta_diag = diagonal excess (data generator's delta): P[s,s] = 1/M + delta_diag; "
              "lambda = mixing weight (theory script's delta): P = lambda I + (1-lambda)/M 11^T; "
              "delta_diag = (M-1) lambda / M")


def _check_range(value, lo: Fraction, hi: Fraction, name: str, M: int) -> None:
    """``value`` (number, Fraction or array) finite and in ``[lo, hi]`` (floats: 1e-15 slack)."""
    if isinstance(value, Fraction):
        if not lo <= value <= hi:
            raise ValueError(f"{name} must lie in [{lo}, {hi}] for M={M}, got {value}")
        return
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {value!r}")
    if np.any(arr < float(lo) - 1e-15) or np.any(arr > float(hi) + 1e-15):
        raise ValueError(f"{name} must lie in [{float(lo):.6g}, {float(hi):.6g}] for M={M}, "
                         f"got {value!r}")


def lam_range(M: int) -> tuple[float, float]:
    """Allowed range of the mixing weight: ``[-1/(M - 1), 1]``."""
    M = check_M(M)
    return -1.0 / (M - 1), 1.0


def delta_diag_range(M: int) -> tuple[float, float]:
    """Allowed range of the diagonal excess: ``[-1/M, (M - 1)/M]``."""
    M = check_M(M)
    return -1.0 / M, (M - 1) / M


def lam_to_delta_diag(lam, M: int, *, check_range: bool = True):
    """Diagonal excess from the mixing weight: ``delta_diag = (M - 1) * lam / M``."""
    M = check_M(M)
    if check_range:
        _check_range(lam, Fraction(-1, M - 1), Fraction(1), "lam", M)
    if isinstance(lam, Fraction):
        return lam * (M - 1) / M
    return np.asarray(lam) * (M - 1) / M if isinstance(lam, np.ndarray) else lam * (M - 1) / M


def delta_diag_to_lam(delta_diag, M: int, *, check_range: bool = True):
    """Mixing weight from the diagonal excess: ``lam = M * delta_diag / (M - 1)``."""
    M = check_M(M)
    if check_range:
        _check_range(delta_diag, Fraction(-1, M), Fraction(M - 1, M), "delta_diag", M)
    return delta_diag * M / (M - 1)


def lam_to_diag_prob(lam, M: int):
    """Probability of the correct move: ``p = 1/M + (M - 1) * lam / M``."""
    M = check_M(M)
    if isinstance(lam, Fraction):
        return Fraction(1, M) + lam * (M - 1) / M
    return 1.0 / M + lam * (M - 1) / M


def diag_prob_to_lam(p, M: int):
    """Mixing weight from the diagonal probability: ``lam = (M p - 1) / (M - 1)``."""
    M = check_M(M)
    return (M * p - 1) / (M - 1)


def off_diag_prob(lam, M: int):
    """Probability of each wrong move: ``(1 - lam) / M``."""
    M = check_M(M)
    return (1 - lam) / M


def diag_prob_to_delta_diag(p, M: int):
    """Diagonal excess from the diagonal probability: ``delta_diag = p - 1/M``."""
    M = check_M(M)
    return p - (Fraction(1, M) if isinstance(p, Fraction) else 1.0 / M)


def delta_diag_to_diag_prob(delta_diag, M: int):
    """Diagonal probability from the diagonal excess: ``p = 1/M + delta_diag``."""
    M = check_M(M)
    return (Fraction(1, M) if isinstance(delta_diag, Fraction) else 1.0 / M) + delta_diag
