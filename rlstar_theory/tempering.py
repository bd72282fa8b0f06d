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

so that ``1 - lam_tau = M r / (1 + (M-1) r)``: computed from the error ``1 - lam`` it keeps full
relative precision near ``lam = 1``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

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


def temper_lam(lam, M: int, temperature: float = 1.0):
    """Tempered mixing weight ``lam_tau`` of ``P(lam)`` (float arrays or Fractions).

    For exact input (``Fraction``), ``1/tau`` must be a positive integer ``k`` and the result is
    ``lam_tau = (M p_tau - 1)/(M - 1)`` with ``p_tau = p^k / (p^k + (M-1) q^k)``.
    """
    M = check_M(M)
    if isinstance(lam, Fraction):
        k = exact_temperature_power(temperature)
        p = Fraction(1, M) + lam * (M - 1) / M
        q = (1 - p) / (M - 1)
        p_tau = p**k / (p**k + (M - 1) * q**k)
        return (M * p_tau - 1) / (M - 1)
    lam_arr = np.asarray(lam, dtype=float)
    return 1.0 - temper_err(1.0 - lam_arr, M, temperature)
