"""Closed-form RL-STaR for the paper's symmetric family ``P(lam) = lam I + (1 - lam)/M 11^T``.

With ``Lam = prod_k lam_k``, ``Lam_{-n} = prod_{k != n} lam_k`` and identity ground truth with a
uniform start, one exact STaR step maps each step's mixing weight to

.. math::

    \\lambda'_n = \\frac{\\lambda_n + \\Lambda_{-n} + (M-2)\\Lambda}{1 + (M-1)\\Lambda},
    \\qquad
    1 - \\lambda'_n = \\frac{(1-\\lambda_n)(1-\\Lambda_{-n})}{1 + (M-1)\\Lambda},

and ``J = (1 + (M-1) Lam) / M``. The engine carries the *error* ``err = 1 - lam`` rather than
``lam``: the second form of the update multiplies errors, so the quadratic phase near ``lam = 1``
keeps full relative precision, and products over long chains are summed in log space
(``log1p``/``expm1``) so they never produce NaN.

Temperature ``tau``: trajectories are sampled from the tempered matrices, which stay in the
family (:func:`rlstar_theory.tempering.temper_err`); the update is applied to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from rlstar_theory.tempering import temper_err, temper_lam
from rlstar_theory.validation import (
    check_iterations,
    check_lam,
    check_lam_exact,
    check_M,
    check_temperature,
    exact_temperature_power,
)

__all__ = [
    "SymmetricRun",
    "SymmetricSweep",
    "sweep_symmetric",
    "symmetric_matrix",
    "symmetric_star_step",
    "iterate_symmetric",
    "iterate_symmetric_exact",
]


@dataclass(frozen=True)
class SymmetricRun:
    """Trajectory of the symmetric family under exact RL-STaR.

    Arrays have a leading iteration axis ``t = 0..T``; ``...`` is the broadcast shape of the
    starting points and ``N`` the number of steps. Exact runs hold object arrays of Fractions.

    Attributes
    ----------
    M : int
        States per step.
    temperature : float
        Sampling temperature of the training trajectories.
    lam : ndarray, shape (T+1, ..., N)
        Mixing weight ``lam_{t,n}`` (eigenvalue of ``P_{t,n}``).
    err : ndarray, shape (T+1, ..., N)
        ``1 - lam_{t,n}``, carried without cancellation.
    J : ndarray, shape (T+1, ...)
        Expected return of ``P_t`` itself, ``(1 + (M-1) Lam_t)/M``.
    one_minus_J : ndarray, shape (T+1, ...)
        ``1 - J``, accurate near convergence: ``(M-1)(1 - Lam_t)/M``.
    J_sampling : ndarray, shape (T+1, ...)
        Success rate of the tempered sampling policy (equals ``J`` at ``tau = 1``).
    p_all_correct_given_success : ndarray, shape (T+1, ...)
        ``Pr(all steps correct | success) = prod_n p_n / J`` under the sampling policy.
    p_step_wrong_given_success : ndarray, shape (T+1, ..., N)
        ``Pr(step n wrong | success) = 1 - p'_n`` with ``p'`` the refitted diagonal.
    """

    M: int
    temperature: float
    lam: np.ndarray
    err: np.ndarray
    J: np.ndarray
    one_minus_J: np.ndarray
    J_sampling: np.ndarray
    p_all_correct_given_success: np.ndarray
    p_step_wrong_given_success: np.ndarray

    @property
    def delta_diag(self) -> np.ndarray:
        """Diagonal excess ``delta_diag = (M-1) lam / M`` (the data generator's "delta")."""
        return self.lam * (self.M - 1) / self.M

    @property
    def diag_prob(self) -> np.ndarray:
        """Probability of the correct move ``p = 1/M + (M-1) lam / M``."""
        return 1 - self.err * (self.M - 1) / self.M

    @property
    def iterations(self) -> int:
        """Number of STaR iterations ``T``."""
        return self.lam.shape[0] - 1


def symmetric_matrix(lam, M: int) -> np.ndarray:
    """Matrices ``P(lam_n) = lam_n I + (1 - lam_n)/M 11^T`` for each step.

    Parameters
    ----------
    lam : array_like, shape (N,)
        Mixing weights in ``[-1/(M-1), 1]`` (Fractions give an exact object array).
    M : int
        Number of states, ``M >= 2``.

    Returns
    -------
    ndarray, shape (N, M, M)
    """
    M = check_M(M)
    values = list(lam) if np.ndim(lam) else [lam]
    if values and all(isinstance(v, Fraction) for v in values):
        fr = check_lam_exact(values, M)
        out = np.empty((len(fr), M, M), dtype=object)
        for n, f in enumerate(fr):
            off = (1 - f) / M
            out[n] = off
            for s in range(M):
                out[n, s, s] = f + off
        return out
    arr = check_lam(lam, M)
    if arr.ndim != 1:
        raise ValueError(f"lam must have shape (N,), got {np.shape(lam)}")
    eye = np.eye(M)
    out = arr[:, None, None] * eye + ((1.0 - arr) / M)[:, None, None]
    # at lam = -1/(M-1) the diagonal is 0 mathematically but can round to -3e-17, which
    # check_transition (and temper's log) would reject: remove that rounding
    return np.maximum(out, 0.0)


# ---------------------------------------------------------------------------------------------
# float engine, carrying err = 1 - lam


@dataclass(frozen=True)
class _Products:
    """``Lam``, ``1 - Lam``, ``Lam_{-n}`` and ``1 - Lam_{-n}`` (the last two one array per step)."""

    total: np.ndarray  # (...,)
    one_minus_total: np.ndarray  # (...,)
    others: list[np.ndarray]  # N arrays of shape (...,)
    one_minus_others: list[np.ndarray]


def _products(errs: list[np.ndarray]) -> _Products:
    """Products of ``lam_k = 1 - err_k`` and their complements, with no cancellation.

    A product ``A`` and its complement ``x = 1 - A`` are extended by one factor ``lam = 1 - e``
    as ``A <- A lam`` and ``x <- x + e A`` (exact algebra: ``1 - A(1 - e) = (1 - A) + eA``).
    For ``lam_k in [0, 1]`` every term is non-negative, so ``1 - Lam`` keeps full relative
    precision however close to 1 the weights are; there are no logarithms, zeros need no special
    case, and a long chain underflows ``A`` gracefully to 0 (``x`` to 1) without NaN.
    ``Lam_{-n}`` combines a prefix and a suffix product:
    ``1 - A_pre A_suf = x_pre + x_suf A_pre``.
    """
    N = len(errs)
    lams = [1.0 - e for e in errs]
    A_pre: list = [1.0]
    x_pre: list = [0.0]
    for k in range(N):
        x_pre.append(x_pre[k] + errs[k] * A_pre[k])
        A_pre.append(A_pre[k] * lams[k])
    A_suf: list = [1.0] * (N + 1)
    x_suf: list = [0.0] * (N + 1)
    for k in range(N - 1, 0, -1):
        x_suf[k] = x_suf[k + 1] + errs[k] * A_suf[k + 1]
        A_suf[k] = A_suf[k + 1] * lams[k]
    others = [A_pre[n] * A_suf[n + 1] for n in range(N)]
    one_minus_others = [x_pre[n] + x_suf[n + 1] * A_pre[n] for n in range(N)]
    shape = np.shape(errs[0])
    others = [np.broadcast_to(np.asarray(o, dtype=float), shape) for o in others]
    one_minus_others = [np.broadcast_to(np.asarray(o, dtype=float), shape)
                        for o in one_minus_others]
    return _Products(np.asarray(A_pre[N]), np.asarray(x_pre[N]), others, one_minus_others)


def _step_errs(errs: list[np.ndarray], M: int,
               prods: _Products | None = None) -> tuple[list[np.ndarray], _Products]:
    """One exact STaR step on errors: ``err'_n = err_n (1 - Lam_{-n}) / (1 + (M-1) Lam)``.

    Where ``1 + (M-1) Lam = 0`` (no trajectory ever succeeds) nothing is refitted. ``prods``
    may pass in ``_products(errs)`` when the caller already has it.
    """
    if prods is None:
        prods = _products(errs)
    denom = 1.0 + (M - 1) * prods.total
    ok = denom > 0
    if np.all(ok):
        scale = 1.0 / denom
        return [e * x * scale for e, x in zip(errs, prods.one_minus_others, strict=True)], prods
    scale = 1.0 / np.where(ok, denom, 1.0)
    return [np.where(ok, e * x * scale, e)
            for e, x in zip(errs, prods.one_minus_others, strict=True)], prods


def _split(err: np.ndarray) -> list[np.ndarray]:
    return [err[..., k] for k in range(err.shape[-1])]


def _step_err(err: np.ndarray, M: int,
              prods: _Products | None = None) -> tuple[np.ndarray, _Products]:
    """:func:`_step_errs` on an ``(..., N)`` array."""
    new, prods = _step_errs(_split(err), M, prods)
    return np.stack(new, axis=-1), prods


def symmetric_star_step(lam, M: int, temperature: float = 1.0) -> np.ndarray:
    """One exact (infinite-sample) STaR step of the symmetric family.

    Parameters
    ----------
    lam : array_like, shape (..., N)
        Mixing weights, each in ``[-1/(M-1), 1]``; leading axes broadcast.
    M : int
        Number of states, ``M >= 2``.
    temperature : float
        Sampling temperature ``tau > 0`` of the training trajectories.

    Returns
    -------
    ndarray, shape (..., N)
        ``lam'_n = (lam_n + Lam_{-n} + (M-2) Lam)/(1 + (M-1) Lam)`` evaluated on the tempered
        weights (computed as ``1 - err'_n`` for stability).
    """
    M = check_M(M)
    err = 1.0 - check_lam(lam, M)
    err_sample = temper_err(err, M, temperature)
    new_err, _ = _step_err(err_sample, M)
    return 1.0 - new_err


def _observables(err: np.ndarray, M: int, temperature: float):
    """J, 1 - J, J at the sampling temperature, robustness and the next err."""
    prods_model = _products(_split(err))
    J = (1.0 + (M - 1) * prods_model.total) / M
    one_minus_J = (M - 1) * prods_model.one_minus_total / M
    err_sample = temper_err(err, M, temperature)
    # at tau = 1 the sampling policy is the model: its products are already known
    new_err, prods = _step_err(err_sample, M, prods_model if temperature == 1.0 else None)
    J_sampling = (1.0 + (M - 1) * prods.total) / M
    # prod_n p_n / J in log space (no underflow for long chains): p_n = 1 - (M-1) err_n / M
    diag = 1.0 - (M - 1) * err_sample / M
    with np.errstate(divide="ignore", invalid="ignore"):
        log_all = np.log(diag).sum(axis=-1) - np.log(J_sampling)
        p_all = np.where(J_sampling > 0, np.exp(log_all), np.nan)
    p_wrong = np.where((J_sampling > 0)[..., None], (M - 1) * new_err / M, np.nan)
    return J, one_minus_J, J_sampling, p_all, p_wrong, new_err


def iterate_symmetric(lam0, M: int, iterations: int, temperature: float = 1.0) -> SymmetricRun:
    """Iterate exact RL-STaR on the symmetric family, in closed form and vectorised.

    Parameters
    ----------
    lam0 : array_like, shape (..., N)
        Starting mixing weights ``lam_{0,n}`` in ``[-1/(M-1), 1]``; a sweep over many starting
        points is one call (the leading axes broadcast). A scalar means ``N = 1``.
    M : int
        Number of states, ``M >= 2``.
    iterations : int
        Number of STaR iterations ``T >= 0``.
    temperature : float
        Sampling temperature ``tau > 0`` of the training trajectories (default 1).

    Returns
    -------
    SymmetricRun
        ``lam``, ``err``, ``J``, robustness probabilities for ``t = 0..T``. When no trajectory
        can succeed (``J_sampling = 0``) the robustness probabilities are NaN and nothing moves.

    Notes
    -----
    Recurrence ``1 - lam'_n = (1 - lam_n)(1 - Lam_{-n})/(1 + (M-1) Lam)`` on the tempered
    weights; ``J_t = (1 + (M-1) Lam_t)/M``; ``Pr(all correct | success) = prod_n p_n / J`` and
    ``Pr(step n wrong | success) = 1 - p'_n``.
    """
    M = check_M(M)
    T = check_iterations(iterations)
    check_temperature(temperature)
    err = 1.0 - check_lam(lam0, M, name="lam0")
    errs, Js, gaps, Jsam, pall, pwrong = [], [], [], [], [], []
    for t in range(T + 1):
        J, gap, J_s, p_all, p_wrong, new_err = _observables(err, M, temperature)
        errs.append(err)
        Js.append(J)
        gaps.append(gap)
        Jsam.append(J_s)
        pall.append(p_all)
        pwrong.append(p_wrong)
        if t < T:
            err = new_err
    err_arr = np.stack(errs)
    return SymmetricRun(
        M=M,
        temperature=float(temperature),
        lam=1.0 - err_arr,
        err=err_arr,
        J=np.stack(Js),
        one_minus_J=np.stack(gaps),
        J_sampling=np.stack(Jsam),
        p_all_correct_given_success=np.stack(pall),
        p_step_wrong_given_success=np.stack(pwrong),
    )


@dataclass(frozen=True)
class SymmetricSweep:
    """Where a sweep of starting points ends after ``T`` iterations.

    Attributes
    ----------
    lam : ndarray, shape (..., N)
        ``lam_{T,n}`` for every starting point.
    J : ndarray, shape (...)
        ``J(P_T) = (1 + (M-1) Lam_T)/M``.
    one_minus_J : ndarray, shape (...)
        ``1 - J(P_T)``, accurate near convergence.
    """

    lam: np.ndarray
    J: np.ndarray
    one_minus_J: np.ndarray


def sweep_symmetric(lam0, M: int, iterations: int, temperature: float = 1.0,
                    chunk: int = 16384) -> SymmetricSweep:
    """Final state of exact RL-STaR for many starting points, without the per-iteration history.

    The same recurrence as :func:`iterate_symmetric` (on errors, with the cancellation-free
    products), evaluated chunk by chunk so that each chunk's working set stays in cache: the
    cheap way to sweep ``10^6`` starting points.

    Parameters
    ----------
    lam0 : array_like, shape (..., N)
        Starting mixing weights in ``[-1/(M-1), 1]``.
    M : int
    iterations : int
        ``T >= 0``.
    temperature : float
        Sampling temperature of the training trajectories.
    chunk : int
        Starting points per chunk (``>= 1``); affects speed only.

    Returns
    -------
    SymmetricSweep
        ``lam_T``, ``J_T`` and ``1 - J_T``.
    """
    M = check_M(M)
    T = check_iterations(iterations)
    tau = check_temperature(temperature)
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got {chunk!r}")
    lam = check_lam(lam0, M, name="lam0")
    shape = lam.shape
    N = shape[-1]
    # step-major and contiguous: one row per step
    err_all = np.ascontiguousarray((1.0 - lam).reshape(-1, N).T)
    total = np.empty(err_all.shape[1])
    gap = np.empty(err_all.shape[1])
    for lo in range(0, err_all.shape[1], chunk):
        errs = [row[lo:lo + chunk] for row in err_all]
        for _ in range(T):
            if tau != 1.0:
                errs = [temper_err(e, M, tau) for e in errs]
            errs, _ = _step_errs(errs, M)
        for k in range(N):
            err_all[k, lo:lo + chunk] = errs[k]
        prods = _products(errs)
        total[lo:lo + chunk] = prods.total
        gap[lo:lo + chunk] = prods.one_minus_total
    lam_T = (1.0 - err_all.T).reshape(shape)
    J = ((1.0 + (M - 1) * total) / M).reshape(shape[:-1])
    return SymmetricSweep(lam=lam_T, J=J, one_minus_J=((M - 1) * gap / M).reshape(shape[:-1]))


# ---------------------------------------------------------------------------------------------
# exact engine (Fractions)


def _prod(values) -> Fraction:
    out = Fraction(1)
    for v in values:
        out *= v
    return out


def _exact_step(lam: list[Fraction], M: int) -> list[Fraction]:
    total = _prod(lam)
    denom = 1 + (M - 1) * total
    if denom == 0:
        return list(lam)
    return [
        (ln + _prod(lam[:n] + lam[n + 1 :]) + (M - 2) * total) / denom for n, ln in enumerate(lam)
    ]


def iterate_symmetric_exact(lam0, M: int, iterations: int, temperature=1) -> SymmetricRun:
    """Exact-rational version of :func:`iterate_symmetric` for one starting point.

    Parameters
    ----------
    lam0 : sequence of Fraction, int, str ("1/3") or float (converted exactly), length N
    M : int
    iterations : int
    temperature : Fraction or int or str
        ``1/tau`` must be a positive integer (1, 1/2, 1/3, ...) so every number stays rational.

    Returns
    -------
    SymmetricRun
        Object arrays of :class:`fractions.Fraction`, shapes ``(T+1, N)`` and ``(T+1,)``.
    """
    M = check_M(M)
    T = check_iterations(iterations)
    exact_temperature_power(temperature)
    lam = check_lam_exact(lam0, M, name="lam0")
    rows = []
    for t in range(T + 1):
        sample = [temper_lam(v, M, temperature) for v in lam]
        total = _prod(lam)
        J = (1 + (M - 1) * total) / M
        total_s = _prod(sample)
        J_s = (1 + (M - 1) * total_s) / M
        new = _exact_step(sample, M)
        diag = [Fraction(1, M) + v * (M - 1) / M for v in sample]
        if J_s > 0:
            p_all = _prod(diag) / J_s
            p_wrong = [(1 - v) * (M - 1) / M for v in new]
        else:
            p_all, p_wrong = None, [None] * len(lam)
        rows.append((lam, J, J_s, p_all, p_wrong))
        if t < T:
            lam = new

    def obj(values):
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr

    lam_arr = np.array([r[0] for r in rows], dtype=object)
    J_arr = obj([r[1] for r in rows])
    return SymmetricRun(
        M=M,
        temperature=float(Fraction(temperature) if not isinstance(temperature, str)
                          else Fraction(temperature)),
        lam=lam_arr,
        err=1 - lam_arr,
        J=J_arr,
        one_minus_J=1 - J_arr,
        J_sampling=obj([r[2] for r in rows]),
        p_all_correct_given_success=obj([r[3] for r in rows]),
        p_step_wrong_given_success=np.array([r[4] for r in rows], dtype=object),
    )
