"""Statistics over independent seeds, and the verdict of a claim measured on a grid.

Sampled-mode claims run each setting from several fixed seeds; the runs are independent, so
the error of a mean over ``S`` seeds is the standard error ``sd / sqrt(S)`` with the sample
standard deviation (``ddof = 1``), and a difference is "significant" when its z-score
``mean / se`` exceeds a stated threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS

__all__ = ["grid_verdict", "seed_mean_se", "z_score"]


def seed_mean_se(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds (axis 0).

    Parameters
    ----------
    values : array_like, shape (S, ...)
        One row per seed, ``S >= 2``.

    Returns
    -------
    mean, se : ndarray, shape (...)
        ``mean = sum_i x_i / S`` and ``se = sqrt(sum_i (x_i - mean)^2 / (S - 1)) / sqrt(S)``.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 0 or x.shape[0] < 2:
        raise ValueError(f"values must have at least 2 seeds along axis 0, got shape {x.shape}")
    return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])


def z_score(values) -> float:
    """``mean / se`` of per-seed values (:func:`seed_mean_se`).

    A zero standard error gives ``0`` when the mean is 0 and ``+-inf`` otherwise (every seed
    agrees exactly).
    """
    mean, se = seed_mean_se(np.ravel(np.asarray(values, dtype=float))[:, None])
    mean, se = float(mean[0]), float(se[0])
    if se > 0:
        return mean / se
    return 0.0 if mean == 0 else float(np.copysign(np.inf, mean))


def grid_verdict(holds: Sequence[bool]) -> str:
    """The verdict of a claim checked on every cell of a grid of settings.

    ``HOLDS`` if it holds on every cell, ``CONDITIONAL`` (holds only under conditions) if on
    some, ``FAILS`` if on none.
    """
    holds = [bool(h) for h in holds]
    if not holds:
        raise ValueError("holds must contain at least one grid cell")
    if all(holds):
        return HOLDS
    return CONDITIONAL if any(holds) else FAILS
