"""The standard pre-trained models that the claims share (issue 10 §5).

Every claim runs on a small chain (``M = 6`` states, ``N = 3`` steps, identity truth, uniform
questions, all of them training questions) from one of three pre-trained policies:

* :func:`symmetric_p0`: ``P_n = lam I + (1 - lam)/M 11^T`` at every step (the paper's family);
  every question has the same success probability ``p = lam^N + (1 - lam^N)/M``.
* :func:`dirichlet_p0`: each row drawn from ``Dirichlet(concentration * P_sym[n, s])`` around
  the symmetric row (mean ``P_sym[n, s]``), from a fixed seed, so questions differ in ``p``
  and rows in their mode.
* :func:`sparse_p0`: the Dirichlet policy with a fixed share of the transitions set to exactly
  0 (then rows renormalised), so that some transitions, gold ones included, lie outside the
  support; only rules that inject reference data can add them back (ALGORITHMS.md §0.5 F7).

All are deterministic (fixed seeds), so claims that share a model share the same numbers.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.symmetric import symmetric_matrix
from rlstar_theory.validation import check_int, check_rng

__all__ = ["STANDARD_LAM", "STANDARD_M", "STANDARD_N", "dirichlet_p0", "sparse_p0",
           "standard_model", "symmetric_p0"]

#: states per step of the standard model
STANDARD_M = 6
#: reasoning steps of the standard model
STANDARD_N = 3
#: mixing weight of the standard symmetric pre-trained policy (p = 0.19 at M = 6, N = 3)
STANDARD_LAM = 0.3


def standard_model(M: int = STANDARD_M, N: int = STANDARD_N) -> ChainMDP:
    """The chain the claims use: identity truth, uniform questions, all of them for training."""
    return ChainMDP.create(M, N)


def symmetric_p0(M: int = STANDARD_M, N: int = STANDARD_N,
                 lam: float = STANDARD_LAM) -> np.ndarray:
    """``P_n = lam I + (1 - lam)/M 11^T`` for ``n = 1..N``, shape ``(N, M, M)``."""
    N = check_int(N, "N", 1)
    return symmetric_matrix(np.full(N, float(lam)), M)


def dirichlet_p0(M: int = STANDARD_M, N: int = STANDARD_N, lam: float = STANDARD_LAM,
                 concentration: float = 10.0, seed=0) -> np.ndarray:
    """Rows ``P_n[s] ~ Dirichlet(concentration * P_sym[n, s])`` around the symmetric policy.

    Parameters
    ----------
    M, N : int
        States and steps.
    lam : float
        Mixing weight of the symmetric centre ``P_sym`` (must keep every entry > 0).
    concentration : float
        Sum of the Dirichlet parameters, ``> 0``; large values stay close to ``P_sym``.
    seed : None, int or numpy.random.Generator
        The draw (fixed by default).

    Returns
    -------
    ndarray, shape (N, M, M)
        A policy with ``E[P_n[s, s']] = P_sym[n, s, s']``.
    """
    if not (np.isfinite(concentration) and concentration > 0):
        raise ValueError(f"concentration must be a finite number > 0, got {concentration!r}")
    centre = symmetric_p0(M, N, lam)
    if not (centre > 0).all():
        raise ValueError(f"lam must keep every entry of the symmetric policy > 0 "
                         f"(lam < 1), got {lam!r}")
    rng = check_rng(seed)
    P = rng.gamma(concentration * centre)
    # a row whose gamma draws all underflow (tiny parameters) falls back to the centre row
    total = P.sum(axis=-1, keepdims=True)
    P = np.where(total > 0, P / np.where(total > 0, total, 1.0), centre)
    return P


def sparse_p0(M: int = STANDARD_M, N: int = STANDARD_N, lam: float = STANDARD_LAM,
              concentration: float = 10.0, zero_share: float = 0.25, seed=0) -> np.ndarray:
    """:func:`dirichlet_p0` with about ``zero_share`` of the transitions set to exactly 0.

    Each entry is zeroed independently with probability ``zero_share``, except one entry per
    row chosen uniformly at random (so no row is empty); rows are then renormalised. Gold
    transitions are zeroed like any other, so some questions can start outside the support.

    Returns
    -------
    ndarray, shape (N, M, M)
        A policy whose support misses some transitions (gold ones among them, at a given seed).
    """
    if not (0.0 <= zero_share < 1.0):
        raise ValueError(f"zero_share must be a number in [0, 1), got {zero_share!r}")
    rng = check_rng(seed)
    P = dirichlet_p0(M, N, lam, concentration, rng)
    drop = rng.random(P.shape) < zero_share
    keep = np.zeros(P.shape, dtype=bool)
    np.put_along_axis(keep, rng.integers(0, P.shape[-1], P.shape[:-1])[..., None], True,
                      axis=-1)
    P = np.where(drop & ~keep, 0.0, P)
    return P / P.sum(axis=-1, keepdims=True)
