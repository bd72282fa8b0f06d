"""Closed-form RL-STaR for the paper's symmetric family ``P(lam) = lam I + (1 - lam)/M 11^T``.

With ``Lam = prod_k lam_k``, ``Lam_{-n} = prod_{k != n} lam_k``, ``p_n = 1/M + (M-1) lam_n/M``
the probability of the correct move, identity ground truth and a uniform start, one exact STaR
step maps each step's mixing weight to

.. math::

    \\lambda'_n = \\frac{\\lambda_n + \\Lambda_{-n} (1 + (M-2)\\lambda_n)}{1 + (M-1)\\Lambda},
    \\qquad
    1 - \\lambda'_n = \\frac{(1-\\lambda_n)(1-\\Lambda_{-n})}{1 + (M-1)\\Lambda},
    \\qquad
    M p'_n = \\frac{M p_n (1 + (M-1)\\Lambda_{-n})}{1 + (M-1)\\Lambda},

and ``J = (1 + (M-1) Lam) / M``.

Numerics
--------
The float engine carries every weight three ways, ``lam``, ``err = 1 - lam`` and
``scaled_diag = M p = 1 + (M-1) lam``. After each update the one that is small, and so known to
full relative precision, is the reference and the other two are derived from it: ``err`` where
``lam >= 1/2`` (the quadratic phase near ``lam = 1``), ``M p`` where ``M p < 1/2`` (near the
boundary ``lam = -1/(M-1)``), ``lam`` in between (small weights keep their relative precision,
e.g. ``lam = 1e-12``). Each form of the update above is evaluated from products and their
complements ``1 - Lam``, ``1 + (M-1) Lam`` that are built without cancellation
(:func:`_products`), so exact zeros come out exactly zero.

The boundary ``lam = -1/(M-1)`` (the correct move has probability 0) is handled explicitly:

- an input with ``M p <= 4 eps`` (``BOUNDARY_SNAP``: ``lam`` within a few roundings of
  ``-1/(M-1)``) is taken to be exactly on it;
- ``p = 0`` stays exactly 0 at every later iteration (``M p'_n`` is a multiple of ``M p_n``) and
  under tempering, so every ``lam`` stays inside ``[-1/(M-1), 1]``;
- ``J`` is exactly 0 where the exact answer is 0 (one step at the boundary, the others at 1) and
  never negative; the robustness probabilities are finite whenever ``J_sampling > 0``.

Steps that are equal at ``t = 0`` are equal at every ``t`` in exact arithmetic (the update is
symmetric in the steps); the engine keeps them bit-for-bit equal. Rounding differences between
them would otherwise grow where their common value is unstable (``lam0 = (0.3, 0.3,
-1/7)``, ``M = 8``: the difference grows by ``8/7`` per iteration).

No data: when no trajectory succeeds (``1 + (M-1) Lam = 0`` for the sampling weights) no row has
data and every step keeps its previous, *untempered* weight, as in the dense engine. (For this
family that happens only when every step is at ``lam = 1`` or on the boundary, weights that
tempering does not change.)

Temperature ``tau``: trajectories are sampled from the tempered matrices, which stay in the
family (:func:`rlstar_theory.tempering.temper_weights`); the update is applied to them.

Exact arithmetic (:func:`iterate_symmetric_exact`): the numerators and denominators grow
geometrically, by a factor of about ``N / tau`` in digits per iteration;
:func:`estimate_exact_digits` estimates the size before a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from rlstar_theory.conventions import lam_to_delta_diag, lam_to_diag_prob, off_diag_prob
from rlstar_theory.tempering import scaled_diag as _scaled_diag
from rlstar_theory.tempering import temper_lam, temper_weights
from rlstar_theory.validation import (
    check_iterations,
    check_lam,
    check_lam_exact,
    check_M,
    check_memory,
    check_temperature,
    exact_temperature_power,
)

__all__ = [
    "BOUNDARY_SNAP",
    "ExactSizeEstimate",
    "SymmetricRun",
    "SymmetricSweep",
    "estimate_exact_digits",
    "sweep_symmetric",
    "symmetric_matrix",
    "symmetric_star_step",
    "iterate_symmetric",
    "iterate_symmetric_exact",
]

#: an input weight whose ``M p = 1 + (M-1) lam`` is at most this is on the boundary ``p = 0``
BOUNDARY_SNAP = 4 * float(np.finfo(float).eps)


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
        Mixing weight ``lam_{t,n}`` (eigenvalue of ``P_{t,n}``), in ``[-1/(M-1), 1]``.
    err : ndarray, shape (T+1, ..., N)
        ``1 - lam_{t,n}``, carried without cancellation.
    J : ndarray, shape (T+1, ...)
        Expected return of ``P_t`` itself, ``(1 + (M-1) Lam_t)/M``, in ``[0, 1]``.
    one_minus_J : ndarray, shape (T+1, ...)
        ``1 - J``, accurate near convergence: ``(M-1)(1 - Lam_t)/M``.
    J_sampling : ndarray, shape (T+1, ...)
        Success rate of the tempered sampling policy (equals ``J`` at ``tau = 1``).
    p_all_correct_given_success : ndarray, shape (T+1, ...)
        ``Pr(all steps correct | success) = prod_n p_n / J`` under the sampling policy; NaN
        (None for exact runs) exactly where ``J_sampling = 0``.
    p_step_wrong_given_success : ndarray, shape (T+1, ..., N)
        ``Pr(step n wrong | success) = 1 - p'_n`` with ``p'`` the refitted diagonal.
    diag_prob : ndarray, shape (T+1, ..., N)
        Probability of the correct move ``p_{t,n} = 1/M + (M-1) lam_{t,n}/M``, in ``[0, 1]``
        (accurate near 0 as well).
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
    diag_prob: np.ndarray

    @property
    def delta_diag(self) -> np.ndarray:
        """Diagonal excess ``delta_diag = (M-1) lam / M`` (the data generator's "delta")."""
        return lam_to_delta_diag(self.lam, self.M, check_range=False)

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
            out[n] = off_diag_prob(f, M)
            for s in range(M):
                out[n, s, s] = lam_to_diag_prob(f, M)
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
# float engine: every weight as (lam, 1 - lam, M p), step axis first


class _Weights(NamedTuple):
    """One weight per step three ways; arrays of shape ``(N, ...)``.

    ``scaled_diag`` is None when no weight is negative and it was not needed yet: it is then
    ``1 + (M-1) lam`` (:func:`_sd`), at least 1 and so accurate from ``lam``.
    """

    lam: np.ndarray
    err: np.ndarray  # 1 - lam
    scaled_diag: np.ndarray | None  # M p = 1 + (M-1) lam


def _sd(w: _Weights, M: int) -> np.ndarray:
    """``M p`` of ``w``, derived from ``lam`` where it is not carried."""
    return 1.0 + (M - 1) * w.lam if w.scaled_diag is None else w.scaled_diag


def _initial_weights(lam: np.ndarray, M: int) -> _Weights:
    """The three forms of checked input weights; ``M p <= BOUNDARY_SNAP`` is exactly ``p = 0``.

    ``M p`` is computed to one rounding (:func:`rlstar_theory.tempering.scaled_diag`), so a
    weight near the boundary keeps the relative precision of its correct-move probability.
    """
    err = 1.0 - lam
    scaled_diag = _scaled_diag(lam, M)
    on_boundary = scaled_diag <= BOUNDARY_SNAP
    if on_boundary.any():
        lam = np.where(on_boundary, -1.0 / (M - 1), lam)
        err = np.where(on_boundary, M / (M - 1), err)
        scaled_diag = np.where(on_boundary, 0.0, scaled_diag)
    return _Weights(lam, err, scaled_diag)


def _canonical(lam: np.ndarray, err: np.ndarray, scaled_diag: np.ndarray | None,
               M: int) -> _Weights:
    """Keep the small (accurate) form of each new weight and derive the other two from it.

    ``err`` is the reference where ``err <= 1/2``, ``M p`` where ``M p < 1/2``, ``lam``
    elsewhere. ``scaled_diag`` may be None when no weight can be negative (then ``M p >= 1``).
    """
    near_one = err <= 0.5
    lam_out = _select(near_one, 1.0 - err, lam)
    if scaled_diag is None:
        return _Weights(lam_out, _select(near_one, err, 1.0 - lam_out), None)
    near_boundary = scaled_diag < 0.5
    lam_out = _select(near_boundary, (scaled_diag - 1.0) / (M - 1), lam_out)
    err_out = _select(near_one, err,
                      _select(near_boundary, (M - scaled_diag) / (M - 1), 1.0 - lam_out))
    sd_out = _select(near_boundary, scaled_diag, 1.0 + (M - 1) * lam_out)
    return _Weights(lam_out, err_out, sd_out)


def _select(mask: np.ndarray, a, b) -> np.ndarray:
    """``np.where(mask, a, b)``, skipping the (slow, branchy) selection when ``mask`` is uniform."""
    if not mask.any():
        out = b
    elif mask.all():
        out = a
    else:
        return np.where(mask, a, b)
    if isinstance(out, np.ndarray) and out.ndim >= max(mask.ndim, np.ndim(a), np.ndim(b)):
        return out
    return np.broadcast_to(out, np.broadcast_shapes(mask.shape, np.shape(a), np.shape(b)))


def _rowwise(x: np.ndarray) -> bool:
    """Accumulate step by step in Python (a few steps, many points) rather than with numpy's
    accumulate, whose inner loop runs along the (short) step axis. Both multiply or add in the
    same order, so the results are identical bit for bit."""
    return x.shape[0] <= 32 or x[0].size >= x.shape[0]


def _excl_cumprod(x: np.ndarray) -> np.ndarray:
    """``out[k] = prod_{j<k} x[j]`` along axis 0 (``out[0] = 1``)."""
    out = np.empty(x.shape, dtype=x.dtype)
    out[0] = 1
    if _rowwise(x):
        for k in range(1, x.shape[0]):
            np.multiply(out[k - 1:k], x[k - 1:k], out=out[k:k + 1])
    elif x.shape[0] > 1:
        np.cumprod(x[:-1], axis=0, out=out[1:])
    return out


def _excl_cumsum(x: np.ndarray) -> np.ndarray:
    """``out[k] = sum_{j<k} x[j]`` along axis 0 (``out[0] = 0``)."""
    out = np.empty(x.shape, dtype=x.dtype)
    out[0] = 0
    if _rowwise(x):
        for k in range(1, x.shape[0]):
            np.add(out[k - 1:k], x[k - 1:k], out=out[k:k + 1])
    elif x.shape[0] > 1:
        np.cumsum(x[:-1], axis=0, out=out[1:])
    return out


def _all_and_others(x: np.ndarray, comp: np.ndarray):
    """``prod_k x_k``, ``1 - prod_k x_k`` and the same without step ``n``, for ``x in [0, 1]``.

    ``comp = 1 - x`` (accurate). Complements are sums of non-negative terms,
    ``1 - prod_{j<k} x_j = sum_{j<k} (1 - x_j) prod_{i<j} x_i`` and
    ``1 - ab = (1 - a) + (1 - b) a``, so they keep full relative precision however close to 1
    the products are; a product containing a zero has complement exactly 1.
    """
    pre = _excl_cumprod(x)
    suf = _excl_cumprod(x[::-1])[::-1]
    c_pre = _excl_cumsum(comp * pre)
    c_suf = _excl_cumsum((comp * suf)[::-1])[::-1]
    total = pre[-1] * x[-1]
    c_total = c_pre[-1] + comp[-1] * pre[-1]
    others = pre * suf
    c_others = c_pre + c_suf * pre
    zero_total = total == 0
    if not zero_total.any():  # then no product of the others is 0 either
        return total, c_total, others, c_others
    return (total, _select(zero_total, 1.0, c_total),
            others, _select(others == 0, 1.0, c_others))


class _Products(NamedTuple):
    """Products of the weights and their complements (``(...)`` totals, ``(N, ...)`` others)."""

    one_plus_total: np.ndarray  # 1 + (M-1) Lam = M J
    one_minus_total: np.ndarray  # 1 - Lam
    others: np.ndarray  # Lam_{-n}
    others_one_minus: np.ndarray  # 1 - Lam_{-n}
    others_one_plus: np.ndarray | None  # 1 + (M-1) Lam_{-n}; None when no weight is negative


def _products(w: _Weights, M: int) -> _Products:
    """``Lam``, ``Lam_{-n}`` and their complements without cancellation, for any signs.

    Products are formed from ``|lam|`` (with ``1 - |lam|`` accurate) and a count ``m`` of
    negative factors. ``1 - Lam`` is the complement of ``|Lam|`` for even ``m`` and
    ``1 + |Lam|`` for odd ``m``. ``1 + (M-1) Lam`` is ``1 + (M-1)|Lam|`` for even ``m``; for
    odd ``m`` it is the complement of ``|Lam|`` when ``M = 2``; for ``M > 2`` and one negative
    factor ``d`` it is ``(1 - Y) + M p_d Y`` with ``Y`` the product of the others (every term
    non-negative, exactly 0 when ``p_d = 0`` and ``Y = 1``), and for three or more
    ``1 - (M-1)|Lam| >= 3/4``. Points without a negative weight take the short path; it gives
    the same numbers bit for bit.
    """
    negative = w.lam < 0
    if not negative.any():
        return _products_nonnegative(w, M)
    points = negative.any(axis=0)
    if points.ndim == 0 or points.all():
        return _products_signed(w, M, negative)
    # mixed batch: the signed path only where it is needed
    N = w.lam.shape[0]
    flat = points.ravel()
    with_negative, without = np.flatnonzero(flat), np.flatnonzero(~flat)
    parts = [a.reshape(N, -1) for a in (w.lam, w.err, _sd(w, M))]
    signed = _products_signed(_Weights(*(a.take(with_negative, axis=1) for a in parts)), M,
                              negative.reshape(N, -1).take(with_negative, axis=1))
    plain = _products_nonnegative(_Weights(*(a.take(without, axis=1) for a in parts)), M)
    merged = []
    for x, y in zip(signed, plain, strict=True):
        if y is None:  # M p' of the non-negative points follows from lam'
            y = 1.0 + (M - 1) * plain.others
        out = np.empty(x.shape[:-1] + flat.shape)
        out[..., with_negative] = x
        out[..., without] = y
        merged.append(out.reshape(out.shape[:-1] + points.shape))
    return _Products(*merged)


def _products_nonnegative(w: _Weights, M: int) -> _Products:
    total, c_total, others, c_others = _all_and_others(w.lam, w.err)
    return _Products(1.0 + (M - 1) * total, c_total, others, c_others, None)


def _products_signed(w: _Weights, M: int, negative: np.ndarray) -> _Products:
    magnitude = np.abs(w.lam)
    comp = _select(negative, _sd(w, M) if M == 2 else 1.0 + w.lam, w.err)
    total, c_total, others, c_others = _all_and_others(magnitude, comp)
    count = negative.astype(np.int64)
    m_pre = _excl_cumsum(count)
    m_others = m_pre + _excl_cumsum(count[::-1])[::-1]
    m_total = m_pre[-1] + count[-1]
    if M == 2:
        odd_plus_total, odd_plus_others = c_total, c_others
    else:
        positive = _select(negative, 1.0, w.lam)
        y_total, cy_total, y_others, cy_others = _all_and_others(
            positive, _select(negative, 0.0, w.err))
        boundary = _select(negative, _sd(w, M), 0.0)  # M p_d of the negative factors
        b_pre = _excl_cumsum(boundary)
        b_others = b_pre + _excl_cumsum(boundary[::-1])[::-1]
        b_total = b_pre[-1] + boundary[-1]
        odd_plus_total = _select(m_total == 1, cy_total + b_total * y_total,
                                 1.0 - (M - 1) * total)
        odd_plus_others = _select(m_others == 1, cy_others + b_others * y_others,
                                  1.0 - (M - 1) * others)
    odd_total, odd_others = m_total % 2 == 1, m_others % 2 == 1
    return _Products(
        one_plus_total=_select(odd_total, odd_plus_total, 1.0 + (M - 1) * total),
        one_minus_total=_select(odd_total, 1.0 + total, c_total),
        others=_select(odd_others, -others, others),
        others_one_minus=_select(odd_others, 1.0 + others, c_others),
        others_one_plus=_select(odd_others, odd_plus_others, 1.0 + (M - 1) * others),
    )


def _refit(sample: _Weights, keep: _Weights, prods: _Products, M: int) -> _Weights:
    """One exact STaR refit from the sampling weights (``prods = _products(sample)``).

    Where ``1 + (M-1) Lam = 0`` no trajectory succeeds: nothing is refitted and ``keep`` (the
    untempered weights) is returned there.
    """
    denom = prods.one_plus_total
    ok = denom > 0
    scale = 1.0 / _select(ok, denom, 1.0)
    err = sample.err * prods.others_one_minus * scale
    if prods.others_one_plus is None:
        new = _refit_nonnegative(sample, prods, err, scale, M)
    else:
        lam = (sample.lam + prods.others * (1.0 + (M - 2) * sample.lam)) * scale
        new = _canonical(lam, err, _sd(sample, M) * prods.others_one_plus * scale, M)
    if ok.all():
        return new
    if new.scaled_diag is None and keep.scaled_diag is None:
        return _Weights(_select(ok, new.lam, keep.lam), _select(ok, new.err, keep.err), None)
    return _Weights(*(_select(ok, a, b) for a, b in zip(
        (new.lam, new.err, _sd(new, M)), (keep.lam, keep.err, _sd(keep, M)), strict=True)))


def _refit_nonnegative(sample: _Weights, prods: _Products, err: np.ndarray, scale: np.ndarray,
                       M: int) -> _Weights:
    """:func:`_canonical` of the refit when no weight is negative, evaluating the ``lam`` form
    of the update only where it is the reference (``err' > 1/2``): the same numbers."""
    lam = 1.0 - err
    middle = err > 0.5
    if middle.any():
        sub = sample.lam[middle]
        lam[middle] = (sub + prods.others[middle] * (1.0 + (M - 2) * sub)) * \
            np.broadcast_to(scale, err.shape)[middle]
        err = err.copy()
        err[middle] = 1.0 - lam[middle]
    return _Weights(lam, err, None)


def _equal_steps(lam: np.ndarray) -> np.ndarray | None:
    """Index of the first step equal to each step, shape ``(N, ...)``; None if all differ."""
    N = lam.shape[0]
    index = np.arange(N).reshape((N,) + (1,) * (lam.ndim - 1))
    if N <= 16:
        rep = np.array(np.broadcast_to(index, lam.shape))
        for n in range(1, N):
            for k in range(n - 1, -1, -1):  # the smallest equal index wins
                rep[n] = np.where(lam[k] == lam[n], k, rep[n])
    else:
        order = np.argsort(lam, axis=0, kind="stable")
        ordered = np.take_along_axis(lam, order, axis=0)
        starts = np.ones(lam.shape, dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        first = np.maximum.accumulate(np.where(starts, index, 0), axis=0)
        rep = np.empty_like(order)
        np.put_along_axis(rep, order, np.take_along_axis(order, first, axis=0), axis=0)
    return None if (rep == index).all() else rep


def _gather(w: _Weights, rep: np.ndarray | None) -> _Weights:
    """Copy each class representative's weights onto the steps equal to it."""
    if rep is None:
        return w
    return _Weights(*(None if a is None else np.take_along_axis(a, rep, axis=0) for a in w))


def _sampling(w: _Weights, M: int, temperature: float) -> _Weights:
    if temperature == 1.0:
        return w
    return _Weights(*temper_weights(w.lam, w.err, _sd(w, M), M, temperature))


def _advance(w: _Weights, M: int, temperature: float, rep: np.ndarray | None) -> _Weights:
    """``w`` after one STaR iteration at ``temperature``."""
    sample = _sampling(w, M, temperature)
    return _gather(_refit(sample, w, _products(sample, M), M), rep)


class _Observation(NamedTuple):
    J: np.ndarray
    one_minus_J: np.ndarray
    J_sampling: np.ndarray
    p_all: np.ndarray
    p_wrong: np.ndarray  # (N, ...)
    next: _Weights


def _observe(w: _Weights, M: int, temperature: float, rep: np.ndarray | None) -> _Observation:
    """J, 1 - J, J at the sampling temperature, robustness and the next weights.

    The next weights are computed exactly as in :func:`_advance`.
    """
    prods = _products(w, M)
    J = prods.one_plus_total / M
    one_minus_J = (M - 1) * prods.one_minus_total / M
    sample = _sampling(w, M, temperature)
    sprods = prods if sample is w else _products(sample, M)
    nxt = _gather(_refit(sample, w, sprods, M), rep)
    denom = sprods.one_plus_total
    succeeds = denom > 0
    # prod_n p_n / J_s = exp(sum_n log(M p_n) - (N-1) log M - log(M J_s)); log 0 = -inf -> 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_all = (np.log(_sd(sample, M)).sum(axis=0) - (w.lam.shape[0] - 1) * math.log(M)
                   - np.log(denom))
        p_all = _select(succeeds, np.exp(log_all), np.nan)
    # 1 - p'_n = (M-1)(1 - lam'_n)/M
    p_wrong = _select(succeeds, (M - 1) * nxt.err / M, np.nan)
    return _Observation(J, one_minus_J, denom / M, p_all, p_wrong, nxt)


def _steps_first(lam: np.ndarray) -> np.ndarray:
    return np.moveaxis(lam, -1, 0)


def _steps_last(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(arr, 1, -1))


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
        ``lam'_n = (lam_n + Lam_{-n} (1 + (M-2) lam_n))/(1 + (M-1) Lam)`` evaluated on the
        tempered weights (see the module notes on numerics); the untempered ``lam`` where no
        trajectory succeeds.
    """
    M = check_M(M)
    tau = check_temperature(temperature)
    w = _initial_weights(_steps_first(check_lam(lam, M)), M)
    return np.array(np.moveaxis(_advance(w, M, tau, _equal_steps(w.lam)).lam, 0, -1))


def _progress(iterable, progress: bool | None, desc: str):
    """``iterable`` wrapped in a tqdm bar on stderr (None: only when stderr is a terminal)."""
    if progress is False:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="it", disable=None if progress is None else False,
                mininterval=0.5, leave=False)


def iterate_symmetric(lam0, M: int, iterations: int, temperature: float = 1.0,
                      progress: bool | None = False) -> SymmetricRun:
    """Iterate exact RL-STaR on the symmetric family, in closed form and vectorised.

    Parameters
    ----------
    lam0 : array_like, shape (..., N)
        Starting mixing weights ``lam_{0,n}`` in ``[-1/(M-1), 1]``; a sweep over many starting
        points is one call (the leading axes broadcast). A scalar means ``N = 1``. A weight
        within rounding of ``-1/(M-1)`` (``M p <= BOUNDARY_SNAP``) is taken to be on it.
    M : int
        Number of states, ``M >= 2``.
    iterations : int
        Number of STaR iterations ``T >= 0``.
    temperature : float
        Sampling temperature ``tau > 0`` of the training trajectories (default 1).
    progress : bool or None
        Show a progress bar on stderr (None: only when stderr is a terminal).

    Returns
    -------
    SymmetricRun
        ``lam``, ``err``, ``J``, robustness probabilities for ``t = 0..T``. When no trajectory
        can succeed (``J_sampling = 0``) the robustness probabilities are NaN and every step
        keeps its untempered weight.

    Raises
    ------
    ValueError
        For bad input, or when the history, ``(T+1) x points x (4N + 4)`` floats, would not fit
        in memory (use :func:`sweep_symmetric` for the final state only).

    Notes
    -----
    Recurrence ``1 - lam'_n = (1 - lam_n)(1 - Lam_{-n})/(1 + (M-1) Lam)`` on the tempered
    weights; ``J_t = (1 + (M-1) Lam_t)/M``; ``Pr(all correct | success) = prod_n p_n / J`` and
    ``Pr(step n wrong | success) = 1 - p'_n``. See the module notes for the numerics (three
    representations, the boundary ``p = 0``, equal steps).
    """
    M = check_M(M)
    T = check_iterations(iterations)
    tau = check_temperature(temperature)
    lam = check_lam(lam0, M, name="lam0")
    N = lam.shape[-1]
    check_memory((T + 1) * (lam.size // N) * (4 * N + 4) * 8.0,
                 f"iterate_symmetric: the history of {T + 1:,} iterations of "
                 f"{lam.size // N:,} starting point(s) with N = {N} (sweep_symmetric keeps only "
                 "the final state)", "iterations")
    w = _initial_weights(_steps_first(lam), M)
    rep = _equal_steps(w.lam)
    states, observed = [], []
    for t in _progress(range(T + 1), progress, "iterate_symmetric"):
        obs = _observe(w, M, tau, rep)
        states.append(w)
        observed.append(obs)
        if t < T:
            w = obs.next
    return SymmetricRun(
        M=M,
        temperature=float(tau),
        lam=_steps_last(np.stack([s.lam for s in states])),
        err=_steps_last(np.stack([s.err for s in states])),
        J=np.stack([o.J for o in observed]),
        one_minus_J=np.stack([o.one_minus_J for o in observed]),
        J_sampling=np.stack([o.J_sampling for o in observed]),
        p_all_correct_given_success=np.stack([o.p_all for o in observed]),
        p_step_wrong_given_success=_steps_last(np.stack([o.p_wrong for o in observed])),
        diag_prob=_steps_last(np.stack([_sd(s, M) for s in states])) / M,
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

    The same recurrence as :func:`iterate_symmetric` (bit for bit), evaluated chunk by chunk so
    that each chunk's working set stays in cache: the cheap way to sweep ``10^6`` starting
    points.

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
    lam_all = np.ascontiguousarray(lam.reshape(-1, N).T)
    total = np.empty(lam_all.shape[1])
    gap = np.empty(lam_all.shape[1])
    for lo in range(0, lam_all.shape[1], chunk):
        block = lam_all[:, lo:lo + chunk]
        # points without a negative weight never get one (tempering keeps signs, the refit of
        # non-negative weights is non-negative): advance them apart, on the short path
        signed = (block < 0).any(axis=0)
        order = np.argsort(~signed, kind="stable")
        cut = int(signed.sum())
        ordered = block[:, order]
        for a, b in ((0, cut), (cut, block.shape[1])):
            if a == b:
                continue
            w = _initial_weights(ordered[:, a:b], M)
            rep = _equal_steps(w.lam)
            for _ in range(T):
                w = _advance(w, M, tau, rep)
            prods = _products(w, M)
            where = lo + order[a:b]
            lam_all[:, where] = w.lam
            total[where] = prods.one_plus_total
            gap[where] = prods.one_minus_total
    return SymmetricSweep(lam=lam_all.T.reshape(shape), J=(total / M).reshape(shape[:-1]),
                          one_minus_J=((M - 1) * gap / M).reshape(shape[:-1]))


# ---------------------------------------------------------------------------------------------
# exact engine (Fractions)


def _exact_products(lam: list[Fraction]) -> tuple[Fraction, list[Fraction]]:
    """``Lam`` and every ``Lam_{-n}`` from prefix and suffix products (``3N`` products)."""
    N = len(lam)
    pre = [Fraction(1)]
    for v in lam:
        pre.append(pre[-1] * v)
    suf = [Fraction(1)] * (N + 1)
    for k in range(N - 1, -1, -1):
        suf[k] = suf[k + 1] * lam[k]
    return pre[N], [pre[n] * suf[n + 1] for n in range(N)]


def _exact_refit(sample: list[Fraction], keep: list[Fraction], M: int) -> list[Fraction]:
    """SPEC update on the sampling weights; ``keep`` (untempered) when no trajectory succeeds."""
    total, others = _exact_products(sample)
    denom = 1 + (M - 1) * total
    if denom == 0:
        return list(keep)
    return [(s + o + (M - 2) * total) / denom for s, o in zip(sample, others, strict=True)]


def _decimal(value):
    """Floats are read through their shortest decimal repr: ``0.1`` is ``1/10``."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return repr(float(value))
    return value


def _exact_inputs(lam0, M: int, temperature) -> tuple[list[Fraction], int]:
    values = list(lam0) if isinstance(lam0, (list, tuple, np.ndarray)) else [lam0]
    lam = check_lam_exact([_decimal(v) for v in values], M, name="lam0")
    return lam, exact_temperature_power(_decimal(temperature))


def _bits(values) -> int:
    """Largest numerator or denominator of ``values``, in bits."""
    return max(max(v.numerator.bit_length(), v.denominator.bit_length()) for v in values)


#: the size probe of estimate_exact_digits stops once a number has this many bits, or after
#: this many iterations
_PROBE_BITS = 4096
_PROBE_STEPS = 64
_DIGITS_PER_BIT = math.log10(2)


@dataclass(frozen=True)
class ExactSizeEstimate:
    """How large the exact fractions of :func:`iterate_symmetric_exact` get.

    Sizes are decimal digits of the largest numerator or denominator among the weights.
    ``digits_by_t[t]`` holds the weights ``lam_t``; a run of ``T`` iterations builds
    ``lam_{T+1}`` (the refit behind ``p_step_wrong_given_success`` at ``t = T``), so its size
    is ``digits_at(T + 1)``.

    Attributes
    ----------
    iterations : int
        ``T`` of the run being estimated.
    digits : float
        Estimated digits of the largest number the run builds, ``digits_at(T + 1)``
        (``inf`` when it overflows a float).
    growth : float
        Measured factor by which the digit count multiplies per iteration (``>= 1``).
    measured : tuple of float
        Digits of ``lam_0, lam_1, ...`` as computed by the probe (exact sizes).
    increment : float
        Measured digits added per iteration, used instead of ``growth`` where that is below
        ``1.1`` (sizes that grow linearly, e.g. equal steps whose update is a Moebius map).
    """

    iterations: int
    digits: float
    growth: float
    measured: tuple[float, ...]
    increment: float = 0.0

    def digits_at(self, t: int) -> float:
        """Digits of ``lam_t``: measured, or extrapolated from the last measured size,
        ``measured[-1] growth^(t - t0)`` (or ``+ increment (t - t0)`` for slow growth)."""
        t0 = len(self.measured) - 1
        if t <= t0:
            return self.measured[t]
        if self.growth < 1.1:
            return self.measured[-1] + (t - t0) * self.increment
        log10 = math.log10(self.measured[-1]) + (t - t0) * math.log10(self.growth)
        return 10.0**log10 if log10 < 300 else math.inf

    def max_iterations(self, max_digits: float) -> int:
        """Largest ``T' <= iterations`` whose run stays within ``max_digits`` (-1: none)."""
        t = -1
        while t + 1 <= self.iterations and self.digits_at(t + 2) <= max_digits:
            t += 1
        return t

    def describe(self) -> str:
        """One line: the estimated size and growth."""
        how = (f"digit counts multiply by about {self.growth:.2g} per iteration"
               if self.growth >= 1.1 else
               f"about {self.increment:.2g} digits are added per iteration")
        return (f"the exact fractions would reach about {self.digits:.3g} digits (numerator or "
                f"denominator) by t = {self.iterations}: {how}")


def estimate_exact_digits(lam0, M: int, iterations: int, temperature=1) -> ExactSizeEstimate:
    """Estimate the size of the numbers :func:`iterate_symmetric_exact` would build.

    The first iterations (at most 64) are computed exactly while the numbers are small (up to
    ``2**12``-bit numerators or denominators, milliseconds); the remaining growth is
    extrapolated with the mean factor per iteration of the last four (none after an exact fixed
    point). Each STaR step multiplies the
    digit counts by about ``N`` (the update is a ratio of degree-``N`` polynomials in the
    weights) and tempering at ``1/tau = k`` by another ``k``; frozen starts do not grow.

    Parameters
    ----------
    lam0, M, iterations, temperature
        As in :func:`iterate_symmetric_exact`.

    Returns
    -------
    ExactSizeEstimate
    """
    M = check_M(M)
    T = check_iterations(iterations)
    lam, power = _exact_inputs(lam0, M, temperature)
    tau = Fraction(1, power)
    bits = [_bits(lam)]
    fixed = False
    while len(bits) <= min(T + 1, _PROBE_STEPS) and bits[-1] <= _PROBE_BITS and not fixed:
        new = _exact_refit([temper_lam(v, M, tau) for v in lam], lam, M)
        fixed = new == lam  # a fixed point: no number ever changes again
        lam = new
        bits.append(_bits(lam))
    growth, increment = 1.0, 0.0
    if not fixed and len(bits) >= 2:  # mean factor and increment of the last few steps
        back = min(4, len(bits) - 1)
        growth = max(1.0, (bits[-1] / bits[-1 - back]) ** (1 / back))
        increment = max(0.0, (bits[-1] - bits[-1 - back]) / back * _DIGITS_PER_BIT)
    measured = tuple(b * _DIGITS_PER_BIT for b in bits)
    est = ExactSizeEstimate(T, 0.0, growth, measured, increment)
    return ExactSizeEstimate(T, est.digits_at(T + 1), growth, measured, increment)


def _object_array(values) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def iterate_symmetric_exact(lam0, M: int, iterations: int, temperature=1,
                            max_digits: float | None = None,
                            progress: bool | None = False) -> SymmetricRun:
    """Exact-rational version of :func:`iterate_symmetric` for one starting point.

    Parameters
    ----------
    lam0 : sequence of Fraction, int, str or float, length N
        Starting weights in ``[-1/(M-1), 1]``. Strings are read exactly (``"1/3"``, ``"0.1"``
        is ``1/10``); floats are read through their shortest decimal representation
        (``0.1`` is ``1/10``, not the binary double ``3602879701896397/36028797018963968``;
        pass ``Fraction(0.1)`` for that).
    M : int
    iterations : int
    temperature : Fraction, int, str or float
        ``1/tau`` must be a positive integer (1, 1/2, 1/3, ...) so every number stays rational.
    max_digits : float, optional
        Refuse (ValueError) before computing when :func:`estimate_exact_digits` expects
        numerators or denominators with more digits than this. The numbers grow by a factor of
        about ``N / tau`` in digits per iteration; a 10^5-digit step takes about a second.
    progress : bool or None
        Progress bar on stderr (None: only when stderr is a terminal).

    Returns
    -------
    SymmetricRun
        Object arrays of :class:`fractions.Fraction`, shapes ``(T+1, N)`` and ``(T+1,)``; the
        robustness probabilities are None where no trajectory succeeds (then every step keeps
        its untempered weight).
    """
    M = check_M(M)
    T = check_iterations(iterations)
    lam, power = _exact_inputs(lam0, M, temperature)
    tau = Fraction(1, power)
    if max_digits is not None:
        est = estimate_exact_digits(lam, M, T, tau)
        if est.digits > max_digits:
            fit = est.max_iterations(max_digits)
            raise ValueError(f"iterations: {est.describe()}, more than max_digits = "
                             f"{max_digits:g}; at most {max(fit, 0)} iterations stay within it")
    rows = []
    steps = _progress(range(T + 1), progress, "iterate_symmetric_exact")
    for t in steps:
        sample = [temper_lam(v, M, tau) for v in lam]
        total, _ = _exact_products(lam)
        J = (1 + (M - 1) * total) / M
        total_s, _ = _exact_products(sample)
        J_s = (1 + (M - 1) * total_s) / M
        new = _exact_refit(sample, lam, M)
        if J_s > 0:
            diag_total, _ = _exact_products([lam_to_diag_prob(v, M) for v in sample])
            p_all = diag_total / J_s
            p_wrong = [1 - lam_to_diag_prob(v, M) for v in new]
        else:
            p_all, p_wrong = None, [None] * len(lam)
        rows.append((lam, J, J_s, p_all, p_wrong))
        if t < T:
            lam = new
            if hasattr(steps, "set_postfix_str"):
                steps.set_postfix_str(f"{_bits(lam) * _DIGITS_PER_BIT:.3g} digits")

    lam_arr = np.array([r[0] for r in rows], dtype=object)
    J_arr = _object_array([r[1] for r in rows])
    return SymmetricRun(
        M=M,
        temperature=float(tau),
        lam=lam_arr,
        err=1 - lam_arr,
        J=J_arr,
        one_minus_J=1 - J_arr,
        J_sampling=_object_array([r[2] for r in rows]),
        p_all_correct_given_success=_object_array([r[3] for r in rows]),
        p_step_wrong_given_success=np.array([r[4] for r in rows], dtype=object),
        diag_prob=np.array([[lam_to_diag_prob(v, M) for v in r[0]] for r in rows], dtype=object),
    )
