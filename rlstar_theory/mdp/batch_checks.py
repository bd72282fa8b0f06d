"""Input checks of the batched engines: a whole batch of models validated at once.

Each check looks at the batch with a few vectorised passes (no Python loop over the models)
and raises :class:`ValueError` naming the argument, the allowed range and, where one input is
bad, the model it belongs to. Policies stay in their own array library (numpy, or torch on any
device: :mod:`rlstar_theory.mdp.backend`); the small inputs (truth, start) are checked on the
host with numpy.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from rlstar_theory.mdp.backend import namespace, to_numpy
from rlstar_theory.validation import row_sum_tolerance, to_fraction

__all__ = ["batch_answers", "check_batch_policy", "check_batch_start", "check_batch_truth",
           "policy_row_tolerance"]


def policy_row_tolerance(M: int, eps: float) -> float:
    """Row-sum tolerance for ``M`` states in a float type of machine epsilon ``eps``:
    :func:`~rlstar_theory.validation.row_sum_tolerance` in float64, ``M eps`` when that is
    larger (float32: rows normalised in single precision are off by up to ``M eps / 2``)."""
    return max(row_sum_tolerance(M), M * eps)


def _where(index: tuple[int, ...], names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} {i}" for name, i in zip(names, index, strict=True))


def check_batch_policy(P, name: str = "P"):
    """A batch of row-stochastic policies, shape ``(B, N, M, M)``.

    numpy input becomes float64 (or stays an object array, entries converted to
    :class:`~fractions.Fraction`, rows summing to exactly 1). Arrays of another library (a torch
    tensor, ...) keep their library, device and real floating dtype. Float entries must be
    finite and ``>= 0`` and every row must sum to 1 within :func:`policy_row_tolerance`.

    Returns
    -------
    (P, xp)
        The checked array and its namespace.
    """
    xp = namespace(P)
    if xp is np:
        if isinstance(P, np.ndarray) and P.dtype == object:
            arr = np.vectorize(lambda v: to_fraction(v, name), otypes=[object])(P) if P.size \
                else P
        else:
            try:
                arr = np.asarray(P, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a numeric array of shape (B, N, M, M)") from None
    else:
        if not xp.isdtype(P.dtype, "real floating"):
            raise ValueError(f"{name} must hold real floating-point numbers (float64 or "
                             f"float32), got dtype {P.dtype}")
        arr = P
    shape = tuple(arr.shape)
    if len(shape) != 4 or shape[2] != shape[3] or min(shape[:2]) < 1 or shape[3] < 2:
        raise ValueError(f"{name} must have shape (B, N, M, M) with B >= 1 models, N >= 1 "
                         f"steps and M >= 2 states; got shape {shape}")
    M = shape[3]
    axes = ("model", "step", "row")
    if xp is np and arr.dtype == object:
        if (arr < 0).any():
            raise ValueError(f"{name} must have entries >= 0")
        sums = arr.sum(axis=-1)
        bad = np.argwhere(sums != 1)
        if len(bad):
            b, n, i = (int(v) for v in bad[0])
            raise ValueError(f"{name}: every row must sum to exactly 1 in exact arithmetic; "
                             f"{_where((b, n + 1, i), axes)} sums to {sums[b, n, i]}")
        return arr, xp
    finite = None  # checked only when something else fails (NaN fails '>= 0', inf the sums)
    if not bool(xp.min(arr) >= 0):
        finite = bool(xp.all(xp.isfinite(arr)))
        if not finite:
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        raise ValueError(f"{name} must have entries >= 0, got min {float(xp.min(arr))!r}")
    tol = policy_row_tolerance(M, float(xp.finfo(arr.dtype).eps))
    if xp is np:  # row sums as one matrix-vector product where the rows are one 2-D block
        rows = arr.reshape(-1, M) if arr.flags.c_contiguous else arr
        sums = (rows @ np.ones(M)).reshape(arr.shape[:-1])
    else:
        sums = xp.sum(arr, axis=-1)
    err = xp.abs(sums - 1.0)
    if not bool(xp.all(err <= tol)):
        if not bool(xp.all(xp.isfinite(arr))):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        err_host = to_numpy(err)
        b, n, i = np.unravel_index(int(np.argmax(err_host)), err_host.shape)
        raise ValueError(f"{name}: every row must sum to 1 (tolerance {tol:.1e} for M={M}); "
                         f"{_where((int(b), int(n) + 1, int(i)), axes)} sums to "
                         f"{float(to_numpy(sums)[b, n, i])!r}")
    return arr, xp


def check_batch_truth(truth, B: int, N: int, M: int, name: str = "truth") -> np.ndarray:
    """Ground-truth maps shared by the batch, shape ``(N, M)``, or per model, ``(B, N, M)``.

    Integer state labels in ``[0, M-1]`` (integral floats are accepted); ``None`` means the
    identity maps. Returns int64, checked on the host.
    """
    if truth is None:
        return np.broadcast_to(np.arange(M), (N, M))
    arr = to_numpy(truth)
    if arr.shape not in ((N, M), (B, N, M)):
        raise ValueError(f"{name} must have shape (N, M) = ({N}, {M}) (shared by the models) or "
                         f"(B, N, M) = ({B}, {N}, {M}) (one per model), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        if not (arr.dtype.kind == "f" and np.all(np.isfinite(arr))
                and np.all(arr == np.round(arr))):
            raise ValueError(f"{name} must hold integer state labels in [0, {M - 1}]")
    bad = (arr < 0) | (arr > M - 1)
    if bad.any():
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
        where = _where(idx[:-2], ("model",)) + ", " if arr.ndim == 3 else ""
        raise ValueError(f"{name} must hold state labels in [0, M-1] = [0, {M - 1}]; "
                         f"{where}step {idx[-2] + 1}, state {idx[-1]} maps to {arr[idx]}")
    return arr.astype(np.int64, copy=False)


def batch_answers(truth: np.ndarray) -> tuple[np.ndarray, bool]:
    """Answers ``y(s0) = g_N o ... o g_1 (s0)`` of checked maps, shape ``(M,)`` or ``(B, M)``,
    and whether every one is the identity.

    Per-model maps whose answers all agree give one shared ``(M,)`` answer vector (the
    engines' shared-answer fast paths then apply).
    """
    M = truth.shape[-1]
    G = np.broadcast_to(np.arange(M), truth.shape[:-2] + (M,))
    for n in range(truth.shape[-2]):
        G = np.take_along_axis(truth[..., n, :], G, axis=-1)
    if G.ndim == 2 and (G == G[0]).all():
        G = G[0]
    return np.ascontiguousarray(G), bool((G == np.arange(M)).all())


def check_batch_start(start, B: int, M: int, exact: bool = False,
                      name: str = "start") -> np.ndarray:
    """Question distributions shared by the batch, shape ``(M,)``, or per model, ``(B, M)``.

    Entries ``>= 0``, each distribution summing to 1 (within
    :func:`~rlstar_theory.validation.row_sum_tolerance`, or exactly for Fractions); ``None``
    means uniform. Returns float64, or Fractions when ``exact``.
    """
    if start is None:
        return np.array([Fraction(1, M)] * M, dtype=object) if exact else np.full(M, 1.0 / M)
    raw = to_numpy(start)
    if raw.shape not in ((M,), (B, M)):
        raise ValueError(f"{name} must have shape (M,) = ({M},) (shared by the models) or "
                         f"(B, M) = ({B}, {M}) (one per model), got {raw.shape}")
    if exact:
        arr = np.vectorize(lambda v: to_fraction(v, name), otypes=[object])(raw)
        if (arr < 0).any():
            raise ValueError(f"{name} must be probability vectors (entries >= 0)")
        sums = arr.sum(axis=-1)
        if np.any(sums != 1):
            where = f" (model {int(np.argwhere(np.atleast_1d(sums != 1))[0][0])})" \
                if arr.ndim == 2 else ""
            raise ValueError(f"{name} must sum to exactly 1 in exact arithmetic{where}")
        return arr
    try:
        arr = raw.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, shape (M,) or (B, M)") from None
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must have finite entries >= 0")
    tol = row_sum_tolerance(M)
    err = np.abs(np.atleast_2d(arr).sum(axis=-1) - 1.0)
    if not (err <= tol).all():
        b = int(np.argmax(err))
        where = f"model {b}'s start" if arr.ndim == 2 else name
        raise ValueError(f"{name} must sum to 1 (tolerance {tol:.1e}); {where} sums to "
                         f"{float(np.atleast_2d(arr)[b].sum())!r}")
    return arr
