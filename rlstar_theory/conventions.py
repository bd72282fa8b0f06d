"""The two "delta" conventions of the symmetric family, and conversions between them.

The symmetric family is ``P(lam) = lam * I + (1 - lam)/M * 1 1^T``.

``lam``
    the mixing weight towards the identity, also the non-trivial eigenvalue of ``P(lam)``;
    the authors' *theory script* calls this "delta". Range ``-1/(M-1) <= lam <= 1``.
``delta_diag``
    the diagonal excess over random guessing, ``P[s, s] = 1/M + delta_diag``; the authors'
    *data generator* calls this "delta". ``delta_diag = (M - 1) * lam / M``, range
    ``-1/M <= delta_diag <= (M - 1)/M``.

For ``M = 64``, ``delta_diag = 0.2`` is ``lam = 0.2032``: the two are never interchangeable.
The functions work on floats, numpy arrays and :class:`fractions.Fraction` alike.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from rlstar_theory.validation import check_M


def lam_to_delta_diag(lam, M: int):
    """Diagonal excess from the mixing weight: ``delta_diag = (M - 1) * lam / M``."""
    M = check_M(M)
    if isinstance(lam, Fraction):
        return lam * (M - 1) / M
    return np.asarray(lam) * (M - 1) / M if isinstance(lam, np.ndarray) else lam * (M - 1) / M


def delta_diag_to_lam(delta_diag, M: int):
    """Mixing weight from the diagonal excess: ``lam = M * delta_diag / (M - 1)``."""
    M = check_M(M)
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


def delta_diag_range(M: int) -> tuple[float, float]:
    """Allowed range of the diagonal excess: ``[-1/M, (M - 1)/M]``."""
    M = check_M(M)
    return -1.0 / M, (M - 1) / M
