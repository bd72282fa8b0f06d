"""Per-step sums over sampled trajectories, by edge: the sufficient statistics of sampled rules.

A batch of trajectories (rows of :func:`rlstar_theory.sampling.sample_trajectories`: column 0
the question, column ``n`` the state ``s_n``) with a value per trajectory and step gives

.. math::

    E_n[s, s'] = \\sum_i v_{i,n}\\, 1[(s_{i,n-1}, s_{i,n}) = (s, s')],

e.g. ``v = rho(s0)/K`` for the visit counts, or ``rho(s0)/K max(A_{i,n}, 0)`` for the positive
part of per-step advantages.
"""

from __future__ import annotations

import numpy as np

__all__ = ["path_edge_sums"]


def path_edge_sums(paths: np.ndarray, values: np.ndarray, M: int) -> np.ndarray:
    """Sum a value per trajectory (and step) over the edges the trajectories take.

    Parameters
    ----------
    paths : ndarray of int, shape (T, N + 1)
        Trajectories ``(s_0, ..., s_N)``.
    values : ndarray, shape (T,) or (T, N)
        ``v_i`` (the same at every step) or ``v_{i,n}`` (column ``n-1`` for step ``n``).
    M : int
        States per step.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``E[n-1, s, s'] = sum_i v_{i,n} 1[(s_{i,n-1}, s_{i,n}) = (s, s')]``.
    """
    paths = np.asarray(paths)
    N = paths.shape[1] - 1
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = np.broadcast_to(values[:, None], (len(paths), N))
    out = np.empty((N, M, M))
    for n in range(N):
        v = values[:, n]
        nz = v != 0
        flat = paths[nz, n] * M + paths[nz, n + 1]
        out[n] = np.bincount(flat, weights=v[nz], minlength=M * M).reshape(M, M)
    return out
