"""Sampling temperature: the row-wise tempered policy ``P_tau[s, :] ∝ P[s, :] ** (1/tau)``.

RL-STaR samples its training trajectories from the tempered policy (the paper's experiment uses
``tau = 0.5``), filters them and refits, so the exact update at temperature ``tau`` is the STaR
step applied to the tempered matrices (see :func:`rlstar_theory.dense.star_step`).

For the symmetric family the tempered matrix stays in the family. With ``p = 1/M + (M-1) lam/M``
the diagonal and ``q = (1 - p)/(M - 1)`` each off-diagonal entry,

.. math::

    p_\\tau = \\frac{p^{1/\\tau}}{p^{1/\\tau} + (M-1) q^{1/\\tau}}
            = \\frac{1}{1 + (M-1) r}, \\qquad
    r = \\Big(\\frac{1 - \\lambda}{1 + (M-1)\\lambda}\\Big)^{1/\\tau},

so that ``1 - lam_tau = M r / (1 + (M-1) r)``, ``M p_tau = M / (1 + (M-1) r)`` and
``lam_tau = (1 - r)/(1 + (M-1) r)``. :func:`temper_weights` evaluates all three from the
representation the closed form carries (``lam``, ``1 - lam`` and ``M p``), each to full relative
precision: near ``lam = 1`` (from ``1 - lam``), near ``lam = 0`` (``log r`` from ``log1p``) and
near the boundary ``p = 0`` (from ``M p``). A correct-move probability of 0 stays 0 and
``lam = 1`` stays 1 at any temperature; tempering keeps the sign of every ``lam``.

Rows with no data: the STaR refit divides by the probability that a successful trajectory passes
through the row's state. Where that is 0 the row gets no data and keeps its previous,
*untempered* row (the dense engine, :func:`rlstar_theory.dense.star_step`, and the closed form,
:func:`rlstar_theory.symmetric.iterate_symmetric`, agree on this).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from rlstar_theory.conventions import lam_to_diag_prob
from rlstar_theory.validation import (
    check_M,
    check_temperature,
    exact_temperature_power,
    is_exact,
)


def temper(P: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise tempered transition matrices ``P_tau[..., s, :] ∝ P[..., s, :] ** (1/tau)``.

    Parameters
    ----------
    P : ndarray, shape (..., M, M)
        Row-stochastic matrices (float64, or an object array of Fractions).
    temperature : float
        ``tau > 0``; ``tau = 1`` returns ``P`` itself. For exact (object) input ``1/tau`` must be
        a positive integer so that the result stays rational.

    Returns
    -------
    ndarray, same shape
        ``P_tau[s, j] = P[s, j]**(1/tau) / sum_k P[s, k]**(1/tau)``; zero entries stay zero.
    """
    if is_exact(P):
        power = exact_temperature_power(temperature)
        if power == 1:
            return P
        powered = P**power
        return powered / powered.sum(axis=-1, keepdims=True)
    tau = check_temperature(temperature)
    if tau == 1.0:
        return P
    with np.errstate(divide="ignore"):
        logp = np.log(P) / tau
    logp -= logp.max(axis=-1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=-1, keepdims=True)


def temper_err(err: np.ndarray, M: int, temperature: float) -> np.ndarray:
    """Tempered error ``1 - lam_tau`` of the symmetric family from its error ``1 - lam``.

    ``1 - lam_tau = M r / (1 + (M-1) r)`` with ``r = (err / (M - (M-1) err)) ** (1/tau)``;
    evaluated in log space (and as ``M / (M - 1 + 1/r)`` when ``r > 1``) so that it neither
    overflows nor loses precision near ``lam = 1``.
    """
    tau = check_temperature(temperature)
    err = np.asarray(err, dtype=float)
    if tau == 1.0:
        return err
    one_plus = M - (M - 1) * err  # 1 + (M-1) lam = M p >= 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_r = (np.log(err) - np.log(one_plus)) / tau
        small = M * np.exp(log_r) / (1 + (M - 1) * np.exp(log_r))
        large = M / (M - 1 + np.exp(-log_r))
        out = np.where(log_r <= 0, small, large)
    out = np.where(err == 0, 0.0, out)
    out = np.where(one_plus <= 0, err, out)  # p = 0: the row stays at lam = -1/(M-1)
    return out


def scaled_diag(lam: np.ndarray, M: int) -> np.ndarray:
    """``M p = 1 + (M-1) lam`` of float weights, to one rounding of the exact value.

    Near the boundary ``lam = -1/(M-1)`` the plain expression cancels (``(M-1) lam`` rounds by
    ``eps/2`` and ``M p`` may be ``1e-12``); here the product is split without error (Dekker's
    two-product: ``(M-1) lam = h + e`` exactly), ``1 + h`` is exact where ``h`` is in
    ``[-2, -1/2]``, and ``M p = (1 + h) + e``. Within a few roundings of the boundary
    (``M p <= 4 eps``) the result is exactly 0: that weight is on the boundary.
    """
    lam = np.asarray(lam, dtype=float)
    h = (M - 1) * lam
    splitter = 134217729.0  # 2^27 + 1
    c = splitter * lam
    lam_hi = c - (c - lam)
    lam_lo = lam - lam_hi
    m = float(M - 1)  # an integer below 2^53: (M - 1) = m_hi + m_lo exactly
    cm = splitter * m
    m_hi = cm - (cm - m)
    m_lo = m - m_hi
    e = ((m_hi * lam_hi - h) + m_hi * lam_lo + m_lo * lam_hi) + m_lo * lam_lo
    out = np.where((h >= -2.0) & (h <= -0.5), (1.0 + h) + e, 1.0 + h)
    return np.where(out <= 4 * np.finfo(float).eps, 0.0, out)


def temper_weights(lam: np.ndarray, err: np.ndarray, scaled_diag: np.ndarray, M: int,
                   temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tempered ``(lam_tau, 1 - lam_tau, M p_tau)`` of the symmetric family, each accurate.

    Parameters
    ----------
    lam, err, scaled_diag : ndarray
        The same weights three ways: ``lam``, ``err = 1 - lam`` and ``scaled_diag = M p =
        1 + (M-1) lam`` (each the most accurate where it is small).
    M : int
    temperature : float
        ``tau > 0``; ``tau = 1`` returns the inputs.

    Returns
    -------
    tuple of ndarray
        With ``s = log(r) = (log(err) - log(M p)) / tau`` (``log1p(-lam) - log1p((M-1) lam)``
        where ``|lam|`` is small, so ``s`` keeps relative precision there):
        ``lam_tau = -expm1(s) / (1 + (M-1) e^s)``, ``1 - lam_tau = M e^s / (1 + (M-1) e^s)`` and
        ``M p_tau = M / (1 + (M-1) e^s)`` (rewritten with ``e^{-s}`` for ``s > 0``, so nothing
        overflows). ``M p = 0`` gives ``M p_tau = 0``; ``err = 0`` gives ``err_tau = 0``.
    """
    tau = check_temperature(temperature)
    if tau == 1.0:
        return lam, err, scaled_diag
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # |lam| < 1/2 and M p > 1/2: both logs near 0, take them from lam itself
        middle = (err > 0.5) & (scaled_diag > 0.5)
        s = np.where(middle, np.log1p(-lam) - np.log1p((M - 1) * lam),
                     np.log(err) - np.log(scaled_diag)) / tau
        low = s <= 0
        r = np.exp(np.minimum(s, 0.0))  # e^s where s <= 0
        u = np.exp(-np.maximum(s, 0.0))  # e^-s where s > 0
        lam_t = np.where(low, (0.0 - np.expm1(np.minimum(s, 0.0))) / (1 + (M - 1) * r),
                         np.expm1(-np.maximum(s, 0.0)) / (u + (M - 1)))
        err_t = np.where(low, M * r / (1 + (M - 1) * r), M / (M - 1 + u))
        sd_t = np.where(low, M / (1 + (M - 1) * r), M * u / (u + (M - 1)))
    return lam_t, err_t, sd_t


def temper_lam(lam, M: int, temperature: float = 1.0):
    """Tempered mixing weight ``lam_tau`` of ``P(lam)`` (float arrays or Fractions).

    For exact input (``Fraction``), ``1/tau`` must be a positive integer ``k`` and the result is
    ``lam_tau = (M p_tau - 1)/(M - 1)`` with ``p_tau = p^k / (p^k + (M-1) q^k)``. Float input is
    evaluated by :func:`temper_weights` (full relative precision near ``lam = 0``, ``lam = 1``
    and ``p = 0``).
    """
    M = check_M(M)
    if isinstance(lam, Fraction):
        k = exact_temperature_power(temperature)
        p = lam_to_diag_prob(lam, M)
        q = (1 - p) / (M - 1)
        p_tau = p**k / (p**k + (M - 1) * q**k)
        return (M * p_tau - 1) / (M - 1)
    lam_arr = np.asarray(lam, dtype=float)
    sd = scaled_diag(lam_arr, M)  # p within rounding of 0 is 0
    lam_t, _, _ = temper_weights(lam_arr, 1.0 - lam_arr, sd, M, temperature)
    return np.where(sd == 0, lam_arr, lam_t)
