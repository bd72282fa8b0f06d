"""Input checks shared by every engine.

Each check either returns a clean array/value or raises :class:`ValueError` whose message names
the argument and the allowed range. Nothing is silently clipped or renormalised.
"""

from __future__ import annotations

import os
from fractions import Fraction
from numbers import Integral, Rational

import numpy as np

#: absolute tolerance per row entry for "rows sum to one"; the total grows with M
ROW_SUM_TOL_PER_STATE = 1e-12


def row_sum_tolerance(M: int) -> float:
    """Tolerance on ``|sum_j P[i, j] - 1|`` for an ``M``-state row: ``max(1e-9, M * 1e-12)``."""
    return max(1e-9, M * ROW_SUM_TOL_PER_STATE)


def is_exact(x) -> bool:
    """True for Python/sympy rationals or integers and numpy object arrays of them."""
    if isinstance(x, np.ndarray):
        return x.dtype == object
    return isinstance(x, (Rational, Integral)) and not isinstance(x, bool)


def check_int(value, name: str, minimum: int, maximum: int | None = None,
              what: str | None = None) -> int:
    """An integer ``minimum <= value <= maximum`` (``maximum=None``: no upper bound).

    Python and numpy integers are accepted; ``bool``, floats (even ``2.0``) and strings are not.

    Parameters
    ----------
    value
        The value to check.
    name : str
        The argument's name, used in the message.
    minimum, maximum : int
        Allowed range (``maximum`` inclusive, or ``None``).
    what : str, optional
        What the number counts, added to the message (e.g. ``"number of states"``).

    Returns
    -------
    int
        ``int(value)``.
    """
    allowed = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
    about = f" ({what})" if what else ""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise ValueError(f"{name} must be an integer {allowed}{about}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {allowed}{about}, got {value}")
    return int(value)


def check_M(M) -> int:
    """``M`` must be an integer >= 2 (the number of states per step)."""
    return check_int(M, "M", 2, what="number of states")


def check_N(N) -> int:
    """``N`` must be an integer >= 1 (the number of reasoning steps)."""
    return check_int(N, "N", 1, what="number of steps")


def check_iterations(iterations) -> int:
    """``iterations`` must be an integer >= 0."""
    return check_int(iterations, "iterations", 0)


def check_rng(rng) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``rng`` (Scientific Python SPEC 7).

    ``None`` gives a freshly seeded generator, a non-negative integer seeds one
    (``np.random.default_rng(rng)``), and a ``Generator`` is returned as it is (so one generator
    can drive several calls). Anything else raises ValueError naming ``rng``.
    """
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (Integral, np.integer)) or rng < 0:
        raise ValueError("rng must be None, a non-negative integer seed or a "
                         f"numpy.random.Generator, got {rng!r}")
    return np.random.default_rng(int(rng))


#: fraction of the available memory one allocation may take by default
MEMORY_FRACTION = 0.5
#: allocations up to this size pass :func:`check_memory` without asking the system (hot loops)
ALWAYS_ALLOWED_BYTES = 64 * 2**20


def available_memory() -> int | None:
    """Bytes of memory available now, or None where the system does not say.

    Linux: ``MemAvailable`` of ``/proc/meminfo``, lowered to the cgroup (v2) limit minus its
    usage when the process runs in a container with a memory limit. Elsewhere:
    ``os.sysconf("SC_AVPHYS_PAGES")`` (free pages), or the physical memory
    (``SC_PHYS_PAGES``), times the page size.
    """
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
            try:
                avail = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
                break
            except (AttributeError, ValueError, OSError):
                continue
    try:  # a container's memory limit (cgroup v2)
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as fh:
                room = int(limit) - int(fh.read().strip())
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return None if avail is None or avail <= 0 else int(avail)


def memory_budget() -> float:
    """Default limit of :func:`check_memory`: ``MEMORY_FRACTION`` (half) of
    :func:`available_memory`, or infinity where the available memory is unknown."""
    avail = available_memory()
    return float("inf") if avail is None else MEMORY_FRACTION * avail


def check_memory(nbytes: float, what: str, reduce: str, limit: float | None = None) -> None:
    """Refuse, before allocating, work whose arrays would not fit in memory.

    Parameters
    ----------
    nbytes : float
        Estimated bytes the work allocates.
    what : str
        What needs them (e.g. ``"iterate_dense: the policies P_0..P_T"``).
    reduce : str
        The argument(s) a user should lower (e.g. ``"iterations"``).
    limit : float, optional
        Budget in bytes; default :func:`memory_budget` (half the available memory), where
        anything up to ``ALWAYS_ALLOWED_BYTES`` (64 MiB) passes without asking the system.

    Raises
    ------
    ValueError
        When ``nbytes > limit``; the message gives both in GiB and names ``reduce``.
    """
    if limit is None and nbytes <= ALWAYS_ALLOWED_BYTES:
        return
    budget = memory_budget() if limit is None else float(limit)
    if nbytes > budget:
        source = (f"{MEMORY_FRACTION:.0%} of the memory available now" if limit is None
                  else "the given limit")
        raise ValueError(f"{what} would need {nbytes / 2**30:,.1f} GiB, more than the "
                         f"memory budget of {budget / 2**30:,.1f} GiB ({source}); "
                         f"reduce {reduce}")


def lam_range(M: int) -> tuple[float, float]:
    """Allowed range of the mixing weight: ``-1/(M-1) <= lam <= 1``."""
    return -1.0 / (M - 1), 1.0


def check_lam(lam, M: int, name: str = "lam") -> np.ndarray:
    """Float array of mixing weights, each in ``[-1/(M-1), 1]``, finite; shape ``(..., N)``.

    A scalar is promoted to shape ``(1,)`` (one step).
    """
    M = check_M(M)
    try:
        arr = np.asarray(lam, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers in [-1/(M-1), 1] = [{-1 / (M - 1):.6g}, 1] "
                         f"for M={M}, got {lam!r}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.size == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} must hold at least one step (shape (..., N) with N >= 1)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf); allowed range is "
                         f"[-1/(M-1), 1] = [{-1 / (M - 1):.6g}, 1] for M={M}")
    lo = -1.0 / (M - 1)
    # a tiny slack so that -1/(M-1) written in floats is accepted
    if np.any(arr < lo - 1e-15) or np.any(arr > 1.0):
        bad = arr[(arr < lo - 1e-15) | (arr > 1.0)].ravel()[0]
        raise ValueError(f"{name} must lie in [-1/(M-1), 1] = [{lo:.6g}, 1] for M={M}, "
                         f"got {float(bad)!r}")
    return np.clip(arr, lo, 1.0)


def check_lam_exact(lam, M: int, name: str = "lam") -> list[Fraction]:
    """List of :class:`~fractions.Fraction` mixing weights, each in ``[-1/(M-1), 1]``."""
    M = check_M(M)
    values = [lam] if not isinstance(lam, (list, tuple, np.ndarray)) else list(lam)
    if not values:
        raise ValueError(f"{name} must hold at least one step (N >= 1)")
    out = []
    lo = Fraction(-1, M - 1)
    for v in values:
        f = to_fraction(v, name)
        if not lo <= f <= 1:
            raise ValueError(f"{name} must lie in [-1/(M-1), 1] = [{lo}, 1] for M={M}, got {f}")
        out.append(f)
    return out


def to_fraction(value, name: str = "value") -> Fraction:
    """Exact :class:`Fraction` from an int, Fraction, sympy Rational, a finite float or a string
    such as ``"1/3"`` or ``"0.2"`` (decimal strings are read exactly: ``"0.2"`` is 1/5)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, (Integral, np.integer)):
        return Fraction(int(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{name} must be a number such as 0.2 or 1/3, got {value!r}") from None
    if hasattr(value, "p") and hasattr(value, "q"):  # sympy Rational
        return Fraction(int(value.p), int(value.q))
    try:
        fvalue = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(fvalue):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {value!r}")
    return Fraction(fvalue)


def check_temperature(temperature) -> float:
    """Sampling temperature ``tau``: a finite number > 0 (1 = sample from P as it is)."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    return t


def exact_temperature_power(temperature) -> int:
    """For exact arithmetic the tempered row ``P**(1/tau)`` must stay rational: ``1/tau`` must
    be a positive integer (tau = 1, 1/2, 1/3, ...). Returns ``1/tau``."""
    f = to_fraction(temperature, "temperature")
    if f <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    inv = 1 / f
    if inv.denominator != 1:
        raise ValueError("with exact arithmetic, temperature must be 1/k for an integer k >= 1 "
                         f"(1, 1/2, 1/3, ...) so that P**(1/temperature) stays rational; "
                         f"got {temperature!r}")
    return int(inv)


def as_numeric_array(x, name: str, shape_text: str) -> np.ndarray:
    """``x`` as float64, or, for a numpy object array, as an object array of Fractions (exact).

    Raises ValueError naming ``name`` and the expected shape ``shape_text`` when ``x`` is not
    numeric. Shape and value checks are the caller's.
    """
    if isinstance(x, np.ndarray) and x.dtype == object:
        return np.vectorize(lambda v: to_fraction(v, name), otypes=[object])(x)
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {shape_text}") from None


def check_transition(P, name: str = "P") -> np.ndarray:
    """Row-stochastic array of shape ``(N, M, M)``.

    Float input: finite, entries >= 0, each row sums to 1 within :func:`row_sum_tolerance`.
    Object (exact) input: entries are converted to :class:`Fraction`; rows must sum to exactly 1.
    A single ``(M, M)`` matrix is promoted to ``(1, M, M)``.
    """
    exact = isinstance(P, np.ndarray) and P.dtype == object
    arr = as_numeric_array(P, name, "(N, M, M)")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2] or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, M, M) with N >= 1, M >= 2; got shape "
                         f"{np.shape(P)}")
    M = arr.shape[1]
    if M < 2:
        raise ValueError(f"{name} must have M >= 2 states, got shape {arr.shape}")
    if exact:
        if any(v < 0 for v in arr.ravel()):
            raise ValueError(f"{name} must have entries >= 0")
        sums = arr.sum(axis=2)
        if any(s != 1 for s in sums.ravel()):
            raise ValueError(f"{name}: every row must sum to exactly 1 in exact arithmetic")
        return arr
    # two passes in the common case: the minimum (NaN fails ">= 0") and the row sums (inf for
    # inf), the sums as a matrix-vector product (2-3x faster than .sum(axis=2) for short rows)
    if not arr.min() >= 0:
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        raise ValueError(f"{name} must have entries >= 0, got min {float(arr.min())!r}")
    tol = row_sum_tolerance(M)
    sums = arr @ np.ones(M)
    if not (np.abs(sums - 1.0) <= tol).all():
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        err = np.abs(sums - 1.0)
        n, i = np.unravel_index(np.argmax(err), err.shape)
        raise ValueError(f"{name}: every row must sum to 1 (tolerance {tol:.1e} for M={M}); "
                         f"row {i} of step {n + 1} sums to {float(sums[n, i])!r}")
    return arr


def check_truth(truth, N: int, M: int, name: str = "truth") -> np.ndarray:
    """Ground-truth maps as an integer array of shape ``(N, M)`` with values in ``[0, M-1]``.

    Row ``n-1`` is ``g_n``: ``s*_n = truth[n-1, s*_{n-1}]``. ``None`` means identity maps.
    """
    if truth is None:
        return np.tile(np.arange(M), (N, 1))
    arr = np.asarray(truth)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.shape != (N, M):
        raise ValueError(f"{name} must have shape (N, M) = ({N}, {M}), got {np.shape(truth)}")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer state labels in [0, {M - 1}]")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= M:
        raise ValueError(f"{name} must hold state labels in [0, M-1] = [0, {M - 1}], got "
                         f"values in [{lo}, {hi}]")
    return arr.astype(np.int64, copy=False)


def check_start(start, M: int, exact: bool = False, name: str = "start") -> np.ndarray:
    """Start distribution: length ``M``, entries >= 0 summing to 1. ``None`` means uniform."""
    if start is None:
        if exact:
            return np.array([Fraction(1, M)] * M, dtype=object)
        return np.full(M, 1.0 / M)
    if exact:
        arr = np.array([to_fraction(v, name) for v in np.ravel(start)], dtype=object)
        if arr.shape != (M,):
            raise ValueError(f"{name} must have length M = {M}, got shape {np.shape(start)}")
        if any(v < 0 for v in arr) or sum(arr) != 1:
            raise ValueError(f"{name} must be a probability vector (entries >= 0, sum exactly 1)")
        return arr
    try:
        arr = np.asarray(start, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric vector of length M = {M}") from None
    if arr.shape != (M,):
        raise ValueError(f"{name} must have length M = {M}, got shape {np.shape(start)}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must have finite entries >= 0")
    if abs(arr.sum() - 1.0) > row_sum_tolerance(M):
        raise ValueError(f"{name} must sum to 1 (tolerance {row_sum_tolerance(M):.1e}), "
                         f"got {arr.sum()!r}")
    return arr
