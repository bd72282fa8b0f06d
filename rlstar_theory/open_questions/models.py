"""Random non-symmetric pre-trained models with a set mean diagonal excess per step.

Every model has identity ground truth (step ``n`` is right when ``S_n = S_{n-1}``) and a
uniform question distribution. Step ``n`` of every model has the mean diagonal

.. math::

    \\frac1M \\sum_s P_n[s, s] = p(\\lambda_n) = \\frac1M + \\frac{M-1}{M}\\lambda_n

exactly (to rounding), so its *symmetric projection* ``P(lam_n) = lam_n I + (1 - lam_n)/M 11^T``
(the member of the paper's family with the same mean diagonal) has mixing weight ``lam_n``:
``delta_diag_n = (M-1) lam_n / M`` (:mod:`rlstar_theory.conventions`). The rows differ from
those of ``P(lam_n)`` by a *spread* in ``[0, 1)`` whose meaning depends on the family; spread 0
gives ``P(lam_n)`` itself in every family.

Families (each step is drawn independently):

``dirichlet``
    row ``s`` ~ ``Dirichlet(alpha P(lam)[s, :])`` with ``alpha = 1/spread^2 - 1``: the rows
    scatter around those of ``P(lam)`` with ``E ||row - P(lam)[s, :]||_2^2 =
    (1 - sum_j P(lam)[s, j]^2) spread^2`` (about ``spread^2`` for nearly uniform rows).
``planted``
    row ``s`` = ``(1 - spread) P(lam)[s, :] + spread e_{pi(s)}``, ``pi(s)`` uniform over the
    ``M`` states: every row has one "good" state that takes an extra ``spread`` of its mass
    (the correct one with probability ``1/M``).
``lowrank``
    ``P(lam) + a D`` with ``D = sum_{r < R} u_r v_r^T`` projected to zero row sums and zero
    trace (so the mean diagonal does not move), ``u_r, v_r`` standard normal, and
    ``a = spread * a_max``, ``a_max`` the largest step that keeps every entry non-negative.

After the draw, each step's mean diagonal is set to ``p(lam_n)`` exactly by one convex
combination per matrix, which keeps rows on the simplex: ``X + c (I - X)`` when the diagonal
must rise (``c = (p - d)/(1 - d)``, ``d`` the drawn mean diagonal) and ``(1 - c) X + c U`` when
it must fall (``c = (d - p)/d``, ``U`` uniform off the diagonal). For the lowrank family this
only removes rounding; for the others it shifts the rows by ``O(spread / sqrt(M))``.

The measured spread of a model is :func:`row_spread`: the mean total-variation distance of its
rows from those of its symmetric projection.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.conventions import delta_diag_to_lam, lam_to_diag_prob
from rlstar_theory.validation import check_int, check_M, check_N, check_rng, check_transition

__all__ = [
    "FAMILIES",
    "MAX_SPREAD",
    "random_models",
    "row_spread",
    "set_mean_diagonal",
    "symmetric_projection",
    "zero_step_weights",
]

#: the model families of :func:`random_models`
FAMILIES = ("dirichlet", "planted", "lowrank")
#: spreads are in ``[0, MAX_SPREAD]`` (the Dirichlet concentration ``1/spread^2 - 1`` stays > 0)
MAX_SPREAD = 0.95


def _check_spread(spread) -> float:
    ok = isinstance(spread, (int, float, np.integer, np.floating)) and not isinstance(spread, bool)
    if not ok or not np.isfinite(spread) or not 0 <= spread <= MAX_SPREAD:
        raise ValueError(f"spread must be a number in [0, {MAX_SPREAD}], got {spread!r}")
    return float(spread)


def _check_lams(lam, B: int, N: int, M: int) -> np.ndarray:
    try:
        arr = np.asarray(lam, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"lam must be numbers of shape (N,) or (B, N), got {lam!r}") from None
    if arr.shape not in ((N,), (B, N)):
        raise ValueError(f"lam must have shape (N,) = ({N},) or (B, N) = ({B}, {N}), got "
                         f"{arr.shape}")
    lo = -1.0 / (M - 1)
    if not np.all(np.isfinite(arr)) or arr.min() < lo - 1e-15 or arr.max() > 1:
        raise ValueError(f"lam must lie in [-1/(M-1), 1] = [{lo:.6g}, 1] for M={M}")
    return np.broadcast_to(arr, (B, N))


def set_mean_diagonal(X: np.ndarray, diag_prob: np.ndarray) -> np.ndarray:
    """Move row-stochastic matrices to a given mean diagonal by one convex combination each.

    Parameters
    ----------
    X : ndarray, shape (..., M, M)
        Row-stochastic matrices (trusted).
    diag_prob : ndarray, shape (...)
        Target mean diagonal ``p`` in ``[0, 1]``.

    Returns
    -------
    ndarray, shape (..., M, M)
        ``X + c (I - X)``, ``c = (p - d)/(1 - d)``, where the mean diagonal ``d`` is below
        ``p``; ``(1 - c) X + c U``, ``c = (d - p)/d``, where it is above (``U`` puts
        ``1/(M-1)`` on every off-diagonal entry). Rows stay on the simplex and the mean
        diagonal becomes ``p``.
    """
    M = X.shape[-1]
    idx = np.arange(M)
    d = X[..., idx, idx].mean(axis=-1)
    p = np.broadcast_to(np.asarray(diag_prob, dtype=float), d.shape)
    eye = np.eye(M)
    off = (1.0 - eye) / (M - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_up = np.where(d < 1.0, (p - d) / (1.0 - d), 0.0)
        c_down = np.where(d > 0.0, (d - p) / d, 0.0)
    up = (p >= d)[..., None, None]
    raised = X + c_up[..., None, None] * (eye - X)
    lowered = (1.0 - c_down)[..., None, None] * X + c_down[..., None, None] * off
    return np.maximum(np.where(up, raised, lowered), 0.0)


def _symmetric_rows(lam: np.ndarray, M: int) -> np.ndarray:
    """``P(lam)`` for an array of weights: shape ``lam.shape + (M, M)``."""
    lam = lam[..., None, None]
    return np.maximum(lam * np.eye(M) + (1.0 - lam) / M, 0.0)


def _dirichlet(base_lam: np.ndarray, M: int, spread: float, gen: np.random.Generator
               ) -> np.ndarray:
    """Rows ~ Dirichlet(alpha P(lam)[s, :]), drawn with numpy's small-alpha-safe sampler."""
    alpha = 1.0 / spread**2 - 1.0
    out = np.empty(base_lam.shape + (M, M))
    idx = np.arange(M)
    for pos in np.ndindex(base_lam.shape):
        lam = float(base_lam[pos])
        p = lam_to_diag_prob(lam, M)
        q = (1.0 - lam) / M
        conc = np.full(M, alpha * max(q, 0.0))
        conc[0] = alpha * max(p, 0.0)
        if conc.min() <= 0:  # a boundary weight: that entry is exactly 0
            live = conc > 0
            rows = np.zeros((M, M))
            rows[:, live] = gen.dirichlet(conc[live], size=M)
        else:
            rows = gen.dirichlet(conc, size=M)
        # column 0 holds the diagonal entry: swap it into column s for row s
        X = rows.copy()
        X[idx, idx] = rows[:, 0]
        X[idx, 0] = rows[idx, idx]
        X[0, 0] = rows[0, 0]
        out[pos] = X
    return out


def _planted(base_lam: np.ndarray, M: int, spread: float, gen: np.random.Generator
             ) -> np.ndarray:
    good = gen.integers(0, M, size=base_lam.shape + (M,))
    return (1.0 - spread) * _symmetric_rows(base_lam, M) + spread * np.eye(M)[good]


def _lowrank(base_lam: np.ndarray, M: int, spread: float, gen: np.random.Generator,
             rank: int) -> np.ndarray:
    base = _symmetric_rows(base_lam, M)
    u = gen.standard_normal(base_lam.shape + (M, rank))
    v = gen.standard_normal(base_lam.shape + (M, rank))
    v -= v.mean(axis=-2, keepdims=True)  # zero row sums of u v^T
    D = u @ np.swapaxes(v, -1, -2)
    centre = np.eye(M) - 1.0 / M  # zero row sums, trace M - 1
    trace = np.trace(D, axis1=-2, axis2=-1)
    D = D - (trace / (M - 1))[..., None, None] * centre
    with np.errstate(divide="ignore", invalid="ignore"):
        limits = np.where(D < 0, base / -D, np.inf)
    a_max = limits.min(axis=(-2, -1))
    a_max = np.where(np.isfinite(a_max), a_max, 0.0)
    return np.maximum(base + (spread * a_max)[..., None, None] * D, 0.0)


def random_models(family: str, n_models: int, M: int, N: int, lam, spread: float,
                  rng=None, rank: int = 2) -> np.ndarray:
    """Random pre-trained models whose step ``n`` has mean diagonal ``p(lam_n)`` exactly.

    Parameters
    ----------
    family : {"dirichlet", "planted", "lowrank"}
        How the rows scatter around those of ``P(lam_n)`` (see the module notes).
    n_models : int
        ``B >= 1`` models.
    M, N : int
        States per step (``M >= 2``) and steps (``N >= 1``).
    lam : array_like, shape (N,) or (B, N)
        Mixing weight of each step's symmetric projection, in ``[-1/(M-1), 1]``
        (``delta_diag = (M-1) lam / M``).
    spread : float
        Row spread knob in ``[0, 0.95]``; 0 gives ``P(lam_n)`` exactly.
    rng : None, int or numpy.random.Generator
    rank : int
        ``R >= 1`` of the lowrank family.

    Returns
    -------
    ndarray, shape (B, N, M, M)
        Row-stochastic matrices with ``mean_s P[b, n, s, s] = 1/M + (M-1) lam[b, n]/M``.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    B = check_int(n_models, "n_models", 1)
    M, N = check_M(M), check_N(N)
    rank = check_int(rank, "rank", 1)
    spread = _check_spread(spread)
    lams = _check_lams(lam, B, N, M)
    gen = check_rng(rng)
    if spread == 0.0:
        return _symmetric_rows(np.array(lams, dtype=float), M)
    if family == "dirichlet":
        X = _dirichlet(lams, M, spread, gen)
    elif family == "planted":
        X = _planted(lams, M, spread, gen)
    else:
        X = _lowrank(lams, M, spread, gen, rank)
    X = X / X.sum(axis=-1, keepdims=True)
    return set_mean_diagonal(X, lam_to_diag_prob(lams, M))


def zero_step_weights(n_models: int, N: int, n_zero: int, lam_zero: float, lam_pos: float,
                      rng=None) -> np.ndarray:
    """Per-model step weights: ``n_zero`` steps (random positions) at ``lam_zero``, the rest
    at ``lam_pos``; shape ``(B, N)``."""
    B = check_int(n_models, "n_models", 1)
    N = check_N(N)
    n_zero = check_int(n_zero, "n_zero", 0, N, "steps at the zero-skill weight")
    gen = check_rng(rng)
    lam = np.full((B, N), float(lam_pos))
    for b in range(B):
        lam[b, gen.permutation(N)[:n_zero]] = float(lam_zero)
    return lam


def symmetric_projection(P) -> np.ndarray:
    """Mixing weight of each step's symmetric projection, ``lam_n = M delta_diag_n / (M-1)``.

    ``delta_diag_n = mean_s P_n[s, s] - 1/M`` (identity truth). ``P`` has shape
    ``(..., N, M, M)``; the result has shape ``(..., N)``.
    """
    P = np.asarray(P, dtype=float)
    M = P.shape[-1]
    idx = np.arange(M)
    delta_diag = P[..., idx, idx].mean(axis=-1) - 1.0 / M
    return delta_diag_to_lam(delta_diag, M, check_range=False)


def row_spread(P) -> np.ndarray:
    """Mean total-variation distance of the rows from the symmetric projection's rows.

    ``mean_{n, s} (1/2) sum_j |P_n[s, j] - P(lam_n)[s, j]|`` with ``lam_n`` from
    :func:`symmetric_projection`; ``P`` of shape ``(..., N, M, M)``, result of shape ``(...)``.
    """
    P = check_transition(P) if np.ndim(P) == 3 else np.asarray(P, dtype=float)
    proj = _symmetric_rows(symmetric_projection(P), P.shape[-1])
    return 0.5 * np.abs(P - proj).sum(axis=-1).mean(axis=(-2, -1))
