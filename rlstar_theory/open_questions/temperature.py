"""The critical sampling temperature of exact STaR: ``tau*(lam0, M, N)``.

Odds form of the closed form
----------------------------
Write each step's weight as its error odds ``r(lam) = (1 - lam)/(1 + (M-1) lam)`` (the ratio of
one wrong move's probability to the right move's; ``r = 1`` at ``lam = 0``, ``r -> 0`` as
``lam -> 1``). Then, exactly (:func:`sympy_checks`),

.. math::

    r(\\lambda'_n) = r(\\lambda_n)\\, r(\\Lambda_{-n}), \\qquad
    r(\\lambda_\\tau) = r(\\lambda)^{1/\\tau}:

one STaR step multiplies a step's odds by the odds of the product of the other steps, and
tempering raises the odds to the power ``1/tau``. With every step at ``lam`` (log-odds
``u = log r(lam)``) one tempered iteration is the one-dimensional map

.. math::

    u \\mapsto \\frac u\\tau + \\log r\\big(x^{N-1}\\big),\\qquad x = \\lambda_\\tau,
    \\ r(x) = e^{u/\\tau},

which is increasing in ``u``. Its fixed points are ``lam = 0`` and ``lam = 1``; for
``1 < tau < 2`` (``N >= 3``) both attract, and the start ``lam0`` converges to the ground truth
iff the first iteration raises ``lam`` (a monotone one-dimensional map moves the same way at
every iteration). So the critical temperature solves the one-step condition

.. math::

    \\log r(\\lambda_0)\\,\\Big(1 - \\frac1{\\tau^*}\\Big) = \\log r\\big(x(\\tau^*)^{N-1}\\big),

(:func:`critical_temperature`), which is checked against bisection on the iterated closed form
(:func:`critical_temperature_bisect`).

Laws (:func:`asymptotic_critical_temperature`, checked by :func:`sympy_checks` and numerically):

* ``N = 1``: the first step is exact, ``tau* = inf``;
* ``N = 2``: ``u -> 2u/tau`` exactly, so ``tau* = 2`` for every ``lam0`` and ``M``;
* ``lam0 -> 1`` (``e0 = 1 - lam0``): near the optimum ``r' = (N-1) r^2 + o(r^2)``, tempered
  ``r' = (N-1) r^{2/tau}``, so ``tau* = 2 log(M/e0) / log((N-1) M/e0) -> 2``;
* ``lam0 -> 0`` with ``M lam0 << 1`` (``N >= 3``): ``tau* = 1 + lam0^{N-2} + O(M lam0^{N-1})``
  (``lam_tau = lam/tau + O(M lam^2)`` and ``Lam_{-n} = lam^{N-1}``; checked numerically);
* ``M -> infinity`` at fixed ``lam0``: ``tau* -> N/(N-1)`` (slowly, in ``1/log M``).

Random non-symmetric models: :func:`critical_temperature_dense` bisects the temperature for
each model of a batch with the dense engine (tempered exact STaR, per-model temperatures).

Command: ``python -m rlstar_theory.open_questions.temperature --out figures/open_questions``
writes ``temperature.nc`` (the exact map), ``temperature_dense.nc``,
``temperature_summary.json`` (the claims checked, the laws, the sympy checks) and the figures
``temperature_boundary.png`` and ``temperature_dense.png``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.open_questions._io import (
    Timer,
    base_parser,
    main_wrapper,
    save_axes,
    save_summary,
)
from rlstar_theory.validation import check_int, check_M, check_N

__all__ = [
    "ClaimCheck",
    "asymptotic_critical_temperature",
    "check_claims",
    "converges_equal_steps",
    "converges_dense",
    "critical_temperature",
    "critical_temperature_bisect",
    "critical_temperature_dense",
    "equal_step_map",
    "log_odds",
    "main",
    "plot_boundary",
    "plot_dense",
    "sympy_checks",
    "temperature_dense_cell",
    "temperature_map_cell",
]


def _check_lam0(lam0) -> np.ndarray:
    arr = np.asarray(lam0, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr >= 1):
        raise ValueError(f"lam0 must lie in the open interval (0, 1), got {lam0!r}")
    return arr


def _check_tau(tau) -> np.ndarray:
    arr = np.asarray(tau, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"temperature must be finite and > 0, got {tau!r}")
    return arr


def log_odds(lam, M: int) -> np.ndarray:
    """``u = log r(lam) = log(1 - lam) - log(1 + (M-1) lam)`` (``-inf`` at ``lam = 1``)."""
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log1p(-lam) - np.log1p((M - 1) * lam)


def _from_log_odds(u: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lam, 1 - lam)`` from the log-odds ``u <= 0`` (``r = e^u``), each accurate."""
    r = np.exp(u)
    lam = -np.expm1(u) / (1.0 + (M - 1) * r)
    err = M * r / (1.0 + (M - 1) * r)
    return lam, err


def equal_step_map(u, M: int, N: int, tau) -> np.ndarray:
    """One tempered STaR iteration of ``N`` equal steps in log-odds (module notes).

    ``u' = u/tau + log r(x^{N-1})`` with ``r(x) = e^{u/tau}``; ``1 - x^{N-1}`` is formed as
    ``-expm1((N-1) log1p(-(1-x)))`` so that the map keeps full precision near ``lam = 1``.

    Parameters
    ----------
    u : array_like
        Log-odds ``<= 0`` (``lam >= 0``); ``-inf`` is the ground truth.
    M, N : int
    tau : float or array_like
        Temperatures (broadcast with ``u``).

    Returns
    -------
    ndarray
        The next log-odds.
    """
    M, N = check_M(M), check_N(N)
    u = np.asarray(u, dtype=float)
    v = u / _check_tau(tau)
    if N == 1:
        return np.full(np.broadcast_shapes(u.shape, v.shape), -np.inf)
    lam, err = _from_log_odds(v, M)
    with np.errstate(divide="ignore"):
        y_err = -np.expm1((N - 1) * np.log1p(-err))  # 1 - x^{N-1}
        y = 1.0 - y_err
        return v + np.log(y_err) - np.log1p((M - 1) * y)


def converges_equal_steps(lam0, M: int, N: int, tau, epsilon: float = 1e-6,
                          iterations: int = 2000) -> np.ndarray:
    """Whether exact STaR from ``N`` equal steps at ``lam0`` reaches ``1 - J <= epsilon``
    within ``iterations`` tempered iterations (vectorised over ``lam0`` and ``tau``).

    Iterates :func:`equal_step_map`; ``1 - J = (M-1)(1 - lam^N)/M`` is evaluated from
    ``1 - lam``. No shortcut: every point runs until it reaches the target or the budget.
    """
    M, N = check_M(M), check_N(N)
    lam0 = _check_lam0(lam0)
    tau = _check_tau(tau)
    T = check_int(iterations, "iterations", 0)
    u = np.broadcast_to(log_odds(lam0, M), np.broadcast_shapes(lam0.shape, tau.shape)).copy()
    tau = np.broadcast_to(tau, u.shape)
    done = np.zeros(u.shape, dtype=bool)
    for _ in range(T + 1):
        _, err = _from_log_odds(u, M)
        with np.errstate(divide="ignore"):
            one_minus_J = (M - 1) * -np.expm1(N * np.log1p(-err)) / M
        done |= one_minus_J <= epsilon
        if done.all():
            break
        u = np.where(done, u, equal_step_map(u, M, N, tau))
    return done


def critical_temperature(lam0, M: int, N: int) -> np.ndarray:
    """``tau*(lam0, M, N)`` from the one-step condition (module notes), by Brent's method.

    Parameters
    ----------
    lam0 : array_like
        Equal starting weights in ``(0, 1)``.
    M, N : int

    Returns
    -------
    ndarray
        The temperature below which exact STaR converges to the ground truth and above which
        it falls to ``J = 1/M``: ``inf`` for ``N = 1``, ``2`` for ``N = 2``, in ``(1, 2)``
        for ``N >= 3``.
    """
    M, N = check_M(M), check_N(N)
    lam0 = _check_lam0(lam0)
    out = np.empty(lam0.shape)
    if N == 1:
        out[...] = np.inf
        return out
    for idx in np.ndindex(lam0.shape):
        u0 = float(log_odds(lam0[idx], M))

        def one_step(tau: float, u0: float = u0) -> float:
            return float(equal_step_map(u0, M, N, tau)) - u0

        lo, hi = 1.0, 2.0
        if one_step(hi) < 0:  # N = 2 to rounding: the map is u -> u exactly at tau = 2
            out[idx] = 2.0
            continue
        out[idx] = brentq(one_step, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
    return out


def critical_temperature_bisect(lam0, M: int, N: int, lo: float = 0.5, hi: float = 4.0,
                                tol: float = 1e-6, epsilon: float = 1e-6,
                                iterations: int = 2000) -> np.ndarray:
    """``tau*`` by bisection on the iterated closed form (:func:`converges_equal_steps`).

    Vectorised over ``lam0``; ``lo`` must converge and ``hi`` must not (else ``nan``/``inf``).
    Independent of the one-step condition: each candidate temperature is run to its outcome.

    Returns
    -------
    ndarray
        Midpoints of final brackets of width ``<= tol``; ``inf`` where ``hi`` still converges,
        ``nan`` where ``lo`` does not.
    """
    M, N = check_M(M), check_N(N)
    lam0 = _check_lam0(lam0)
    a = np.full(lam0.shape, float(lo))
    b = np.full(lam0.shape, float(hi))
    ok_lo = converges_equal_steps(lam0, M, N, a, epsilon, iterations)
    ok_hi = converges_equal_steps(lam0, M, N, b, epsilon, iterations)
    while np.max(b - a) > tol:
        mid = (a + b) / 2
        conv = converges_equal_steps(lam0, M, N, mid, epsilon, iterations)
        a = np.where(conv, mid, a)
        b = np.where(conv, b, mid)
    out = (a + b) / 2
    out = np.where(ok_hi, np.inf, out)
    return np.where(ok_lo, out, np.nan)


def asymptotic_critical_temperature(lam0, M: int, N: int, regime: str) -> np.ndarray:
    """The limiting laws of the module notes.

    ``regime="near_one"``: ``2 log(M/e0) / log((N-1) M/e0)``, ``e0 = 1 - lam0`` (``N >= 2``);
    ``"small_lam"``: ``1 + lam0^{N-2}`` (``N >= 3``, ``M lam0 << 1``); ``"large_M"``:
    ``N/(N-1)`` (``N >= 2``, independent of ``lam0`` and ``M``).
    """
    M, N = check_M(M), check_N(N)
    lam0 = _check_lam0(lam0)
    if N < 2 or (regime == "small_lam" and N < 3):
        raise ValueError(f"N must be >= 2 (>= 3 for small_lam), got {N}")
    if regime == "near_one":
        L = np.log(M / (1.0 - lam0))
        return 2.0 * L / (L + np.log(N - 1))
    if regime == "small_lam":
        return 1.0 + lam0 ** (N - 2)
    if regime == "large_M":
        return np.full(lam0.shape, N / (N - 1))
    raise ValueError(f"regime must be 'near_one', 'small_lam' or 'large_M', got {regime!r}")


# ---------------------------------------------------------------------------------------------
# the claims of the issue, checked with the library's closed form


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of the form "STaR from lam0 at tau converges (or collapses)".

    Attributes
    ----------
    lam0, M, N, temperature
    claimed_converges : bool
    J_final : float
        ``J`` after ``iterations`` iterations of :func:`rlstar_theory.symmetric.
        iterate_symmetric`.
    converges : bool
        ``1 - J_final <= 1e-6``.
    tau_star : float
        :func:`critical_temperature`.
    holds : bool
    """

    lam0: float
    M: int
    N: int
    temperature: float
    claimed_converges: bool
    J_final: float
    converges: bool
    tau_star: float
    holds: bool


#: the issue's claims: (lam0, M, N, tau, claimed to converge)
CLAIMS = ((0.2, 64, 3, 1.2, True), (0.8, 64, 3, 1.5, False), (0.8, 64, 4, 1.5, False))


def check_claims(claims=CLAIMS, iterations: int = 400) -> list[ClaimCheck]:
    """Run each claim with the library's closed form and compare with :func:`critical_temperature`.
    """
    from rlstar_theory.symmetric import iterate_symmetric

    out = []
    for lam0, M, N, tau, claimed in claims:
        run = iterate_symmetric(np.full(N, lam0), M, iterations, tau)
        conv = bool(run.one_minus_J[-1] <= 1e-6)
        out.append(ClaimCheck(lam0, M, N, tau, claimed, float(run.J[-1]), conv,
                              float(critical_temperature(lam0, M, N)), conv == claimed))
    return out


# ---------------------------------------------------------------------------------------------
# sympy


def sympy_checks() -> dict[str, bool]:
    """Symbolic checks of the odds form and the laws (sympy, about a second).

    Returns
    -------
    dict
        ``odds_product``: ``r(lam'_n) = r(lam_n) r(Lam_{-n})`` for the closed-form update
        (symbolic weights and ``M``); ``tempering_odds``: ``r(lam_tau) = (q/p)^{1/tau} =
        r(lam)^{1/tau}`` for the tempered weight of :mod:`rlstar_theory.tempering`
        (``p_tau = p^k / (p^k + (M-1) q^k)``); ``two_steps_square``: ``r(f(x)) = r(x)^2``
        for ``N = 2`` (so ``tau* = 2``); ``near_one``: ``lim_{r -> 0} r(x^{N-1}) / r(x) =
        N - 1`` for symbolic ``N`` and ``M``, which with ``odds_product`` gives
        ``r' = (N-1) r^2 + o(r^2)`` near the optimum.
    """
    import sympy as sp

    M, lam1, lam2, lam3, r, N = sp.symbols("M lambda1 lambda2 lambda3 r N", positive=True)
    p, q, k, x = sp.symbols("p q k x", positive=True)

    def odds(y):
        return (1 - y) / (1 + (M - 1) * y)

    def update(lam_n, others):
        return (lam_n + others * (1 + (M - 2) * lam_n)) / (1 + (M - 1) * lam_n * others)

    checks = {}
    checks["odds_product"] = sp.cancel(
        odds(update(lam1, lam2 * lam3)) - odds(lam1) * odds(lam2 * lam3)) == 0
    p_tau = p**k / (p**k + (M - 1) * q**k)
    tempered = sp.simplify(odds((M * p_tau - 1) / (M - 1)) - (q / p) ** k) == 0
    # r(lam) = q/p with p = 1/M + (M-1) lam/M the right move and q = (1 - lam)/M a wrong one
    untempered = sp.cancel(odds(lam1) - ((1 - lam1) / M) / (1 / M + (M - 1) * lam1 / M)) == 0
    checks["tempering_odds"] = bool(tempered and untempered)
    checks["two_steps_square"] = sp.cancel(odds(update(x, x)) - odds(x) ** 2) == 0
    x_of_r = (1 - r) / (1 + (M - 1) * r)  # the weight whose odds are r
    checks["near_one"] = sp.simplify(sp.limit(odds(x_of_r ** (N - 1)) / r, r, 0) - (N - 1)) == 0
    return {k_: bool(v) for k_, v in checks.items()}


# ---------------------------------------------------------------------------------------------
# dense engine: per-model temperatures


def _temper_batch(P: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Rows ``∝ P^{1/tau_b}`` for model ``b`` (zeros stay zero)."""
    with np.errstate(divide="ignore"):
        logp = np.log(P) / tau[:, None, None, None]
    logp -= logp.max(axis=-1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=-1, keepdims=True)


def converges_dense(P0, tau, epsilon: float = 1e-3, iterations: int = 300,
                    fixed_tol: float = 1e-12) -> np.ndarray:
    """Whether tempered exact STaR from each model reaches ``J >= 1 - epsilon``.

    Model ``b`` samples at temperature ``tau[b]``: ``P' = refit(P, C+[rho](P_tau))`` (rows
    without data keep their untempered row), identity truth, uniform start. A run stops when
    it reaches the target, when a step moves no entry by more than ``fixed_tol``, when ``J``
    is within ``1e-9`` of ``1/M`` (collapsed), or after ``iterations`` steps.

    Returns
    -------
    ndarray of bool, shape (B,)
    """
    P = np.array(P0, dtype=float)
    if P.ndim != 4:
        raise ValueError(f"P0 must have shape (B, N, M, M), got {P.shape}")
    B, M = P.shape[0], P.shape[-1]
    tau = np.broadcast_to(_check_tau(tau), (B,)).astype(float)
    T = check_int(iterations, "iterations", 0)
    rho = np.full(M, 1.0 / M)
    answers = np.arange(M)
    result = np.zeros(B, dtype=bool)
    active = np.arange(B)
    for t in range(T + 1):
        Pa = P[active]
        J = success_probability(Pa, answers) @ rho
        hit = J >= 1.0 - epsilon
        result[active[hit]] = True
        stop = hit | (J <= 1.0 / M + 1e-9)
        if t == T:
            break
        keep = ~stop
        Pa, ids = Pa[keep], active[keep]
        if not ids.size:
            break
        joint = success_edges(_temper_batch(Pa, tau[ids]), rho, answers, identity=True)
        P_next = operator.refit(Pa, joint)
        moving = np.abs(P_next - Pa).max(axis=(1, 2, 3)) > fixed_tol
        P[ids] = P_next
        active = ids[moving]
        if not active.size:
            break
    return result


def critical_temperature_dense(P0, lo: float = 0.5, hi: float = 3.0, steps: int = 12,
                               epsilon: float = 1e-3, iterations: int = 300) -> np.ndarray:
    """Per-model critical temperature of tempered exact STaR, by bisection.

    Parameters
    ----------
    P0 : array_like, shape (B, N, M, M)
        Pre-trained models (identity truth, uniform start).
    lo, hi : float
        Bracket; a model that does not converge at ``lo`` gets ``nan`` (it fails even when
        sampling sharper), one that converges at ``hi`` gets ``inf``.
    steps : int
        Bisection steps (final bracket ``(hi - lo) / 2^steps``).
    epsilon, iterations
        As in :func:`converges_dense`.

    Returns
    -------
    ndarray, shape (B,)
        Midpoint of each model's final bracket (assumes one switch from converging to not).
    """
    P = np.asarray(P0, dtype=float)
    B = P.shape[0]
    steps = check_int(steps, "steps", 1)
    a = np.full(B, float(lo))
    b = np.full(B, float(hi))
    ok_lo = converges_dense(P, a, epsilon, iterations)
    ok_hi = converges_dense(P, b, epsilon, iterations)
    for _ in range(steps):
        mid = (a + b) / 2
        conv = converges_dense(P, mid, epsilon, iterations)
        a = np.where(conv, mid, a)
        b = np.where(conv, b, mid)
    out = np.where(ok_hi, np.inf, (a + b) / 2)
    return np.where(ok_lo, out, np.nan)


# ---------------------------------------------------------------------------------------------
# sweep cells


def temperature_map_cell(rng: np.random.Generator, *, M: int, N: int,
                         lam0: float) -> dict[str, np.ndarray]:
    """``tau*`` of equal steps at ``lam0`` and its limiting laws (``rng`` unused).

    Returns
    -------
    dict
        ``tau_star`` (:func:`critical_temperature`), ``tau_near_one``, ``tau_small_lam``
        (``nan`` for ``N < 3``) and ``tau_large_M`` (:func:`asymptotic_critical_temperature`).
    """
    lam = np.asarray(float(lam0))
    small = asymptotic_critical_temperature(lam, M, N, "small_lam") if N >= 3 else np.nan
    near = asymptotic_critical_temperature(lam, M, N, "near_one") if N >= 2 else np.inf
    large = N / (N - 1) if N >= 2 else np.inf
    return {"tau_star": np.float64(critical_temperature(lam, M, N)),
            "tau_near_one": np.float64(near), "tau_small_lam": np.float64(small),
            "tau_large_M": np.float64(large)}


def temperature_dense_cell(rng: np.random.Generator, *, M: int, N: int, lam0: float,
                           spread: float, family: str = "dirichlet", models: int = 8,
                           steps: int = 12, epsilon: float = 1e-3,
                           iterations: int = 300) -> dict[str, np.ndarray]:
    """Critical temperatures of random models around ``P(lam0)`` (dense engine).

    Returns
    -------
    dict
        ``tau_star`` over ``model`` (:func:`critical_temperature_dense`, ``nan`` where even
        ``tau = 0.5`` fails), ``row_spread`` over ``model``, and ``tau_star_symmetric``
        (the closed form of the symmetric projection, every step at ``lam0``).
    """
    from rlstar_theory.open_questions.models import random_models, row_spread

    M, N = check_M(M), check_N(N)
    P0 = random_models(family, models, M, N, np.full(N, float(lam0)), spread, rng)
    return {"tau_star": critical_temperature_dense(P0, steps=steps, epsilon=epsilon,
                                                   iterations=iterations),
            "row_spread": row_spread(P0),
            "tau_star_symmetric": np.float64(critical_temperature(float(lam0), M, N))}


#: the exact map of the default command
MAP_GRID: dict[str, list] = {"M": [4, 8, 16, 64, 256, 1024, 2**14], "N": [2, 3, 4, 5, 6],
                             "lam0": [round(v, 12) for v in np.linspace(0.01, 0.99, 50)]}
#: the dense map of the default command
DENSE_GRID: dict[str, list] = {"M": [8], "N": [3, 4], "lam0": [0.1, 0.2, 0.4, 0.6, 0.8],
                               "spread": [0.0, 0.05, 0.1, 0.2]}
DENSE_FIXED: dict[str, object] = {"family": "dirichlet", "models": 8, "steps": 12,
                                  "epsilon": 1e-3, "iterations": 300}


# ---------------------------------------------------------------------------------------------
# figures


def plot_boundary(ds, ax=None):
    """``tau*(lam0)`` for each ``M`` (left: ``N = 3``; right: every ``N`` at the largest ``M``),
    with the laws ``tau* -> 2`` (``lam0 -> 1``) and ``tau* -> N/(N-1)`` (``M -> inf``)."""
    from rlstar_theory.figures.style import STEP_COLORS, axes_row

    axes = axes_row(ax, 2, 4.4, 3.4)
    N3 = 3 if 3 in ds.N.values else int(ds.N.values[0])
    lam = ds.lam0.values
    cmap_vals = np.linspace(0.15, 0.9, ds.M.size)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for c, m in zip(cmap_vals, ds.M.values, strict=True):
        axes[0].plot(lam, ds.tau_star.sel(M=m, N=N3).values, color=cmap(c), label=f"M = {m}")
    axes[0].axhline(N3 / (N3 - 1), color="0.4", ls=":", lw=1, label=f"N/(N−1) = {N3/(N3-1):.2f}")
    axes[0].axhline(2.0, color="0.4", ls="--", lw=1, label="2 (λ₀ → 1)")
    axes[0].set_title(f"N = {N3}: STaR converges below the curve")
    m_big = ds.M.values[-1]
    for k, n in enumerate(ds.N.values):
        col = STEP_COLORS[k % len(STEP_COLORS)]
        axes[1].plot(lam, ds.tau_star.sel(M=m_big, N=n).values, color=col, label=f"N = {n}")
        if n >= 2:
            axes[1].axhline(n / (n - 1), color=col, ls=":", lw=0.8)
    axes[1].set_title(f"M = {m_big}; dotted: N/(N−1)")
    for a in axes:
        a.set_xlabel("λ₀ (every step; mixing weight)")
        a.set_ylabel("critical temperature τ*")
        a.set_ylim(0.95, 2.1)
        a.legend(fontsize=7, loc="lower right")
    return axes


def plot_dense(ds, ax=None):
    """Per-model critical temperatures of random models (dense engine) against ``lam0``, one
    panel per ``N``, coloured by spread, with the closed form of the symmetric projection."""
    from rlstar_theory.figures.style import axes_row

    Ns = list(ds.N.values)
    axes = axes_row(ax, len(Ns), 4.0, 3.2)
    spreads = ds.spread.values
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    for a, n in zip(axes, Ns, strict=True):
        sub = ds.sel(N=n).isel(M=0)
        lam = sub.lam0.values
        for k, s in enumerate(spreads):
            vals = sub.tau_star.sel(spread=s).values  # (lam0, model)
            x = np.repeat(lam[:, None], vals.shape[-1], axis=1) + 0.006 * (k - len(spreads) / 2)
            a.scatter(x.ravel(), vals.ravel(), s=8, color=cmap(0.1 + 0.8 * k / max(len(spreads)
                                                                                 - 1, 1)),
                      label=f"spread {s:g}", alpha=0.8)
        a.plot(lam, sub.tau_star_symmetric.isel(spread=0).values, "k--", lw=1,
               label="closed form of P(λ₀)")
        a.set_title(f"dense, M = {int(sub.M.values)}, N = {n}")
        a.set_xlabel("λ₀ of the symmetric projection")
        a.set_ylabel("critical temperature τ*")
    axes[0].legend(fontsize=7)
    return axes


# ---------------------------------------------------------------------------------------------
# command


def _law_table(ds) -> dict:
    """How close the laws come to the exact map."""
    out = {}
    near = {}
    for M, N in ((64, 3), (64, 4), (1024, 3)):
        errs = 10.0 ** -np.arange(2, 11, 2)
        exact = critical_temperature(1.0 - errs, M, N)
        law = asymptotic_critical_temperature(1.0 - errs, M, N, "near_one")
        near[f"M={M},N={N}"] = {f"1-lam0={e:g}": {"exact": float(a), "law": float(b)}
                                for e, a, b in zip(errs, exact, law, strict=True)}
    out["near_one"] = near
    small = {}
    for M, N in ((4, 3), (4, 4), (64, 3)):
        lam = np.array([1e-2, 1e-3, 1e-4])
        small[f"M={M},N={N}"] = {f"lam0={v:g}": float((t - 1.0) / v ** (N - 2)) for v, t in
                                 zip(lam, critical_temperature(lam, M, N), strict=True)}
    out["small_lam_ratio_(tau*-1)/lam0^(N-2)"] = small
    big = {}
    for N in (3, 4):
        big[f"N={N}"] = {f"M=2^{k}": float(critical_temperature(0.5, 2**k, N))
                         for k in (5, 10, 20, 40)}
    out["lam0_0.5_large_M"] = big
    out["large_M_limit"] = {f"N={int(n)}": float(n / (n - 1)) for n in ds.N.values if n >= 2}
    if 2 in ds.N.values:
        out["N2_max_abs_deviation_from_2"] = float(np.abs(ds.sel(N=2).tau_star - 2.0).max())
    return out


def write_temperature_outputs(out: Path, workers: int | None = None,
                              progress: bool = True) -> tuple[dict, dict]:
    """Map the critical temperature and write ``temperature.nc``, ``temperature_dense.nc``,
    ``temperature_summary.json`` and the two figures into ``out``.

    The files hold no timings, so the same code writes the same bytes (``rlstar reproduce``
    regenerates them into ``<out>/open_questions``); the wall times are returned instead.

    Returns
    -------
    summary : dict
        What ``temperature_summary.json`` holds.
    seconds : dict
        Wall time of each phase.
    """
    from rlstar_theory.sweeps.cells import get_cell
    from rlstar_theory.sweeps.results import save_results
    from rlstar_theory.sweeps.runner import run_sweep

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    with timer("exact_map"):
        ds = run_sweep(get_cell("critical_temperature"), MAP_GRID, workers=workers,
                       progress=progress)
        save_results(ds, out / "temperature.nc")
    with timer("bisection_check"):
        lam_check = np.array([0.05, 0.2, 0.5, 0.8, 0.95])
        bisect = {}
        for M, N in ((8, 3), (64, 3), (64, 4), (1024, 5)):
            formula = critical_temperature(lam_check, M, N)
            bis = critical_temperature_bisect(lam_check, M, N, lo=1.0, hi=2.0, tol=1e-7,
                                              iterations=1000)
            bisect[f"M={M},N={N}"] = {"lam0": lam_check, "formula": formula, "bisection": bis,
                                      "max_abs_difference": float(np.max(np.abs(formula - bis)))}
    with timer("dense_map"):
        dense = run_sweep(get_cell("critical_temperature_dense"), DENSE_GRID, fixed=DENSE_FIXED,
                          workers=workers, progress=progress, root_seed=2024)
        save_results(dense, out / "temperature_dense.nc")
    with timer("sympy"):
        sym = sympy_checks()
    summary = {
        "claims": [c.__dict__ for c in check_claims()],
        "laws": _law_table(ds),
        "bisection_vs_formula": bisect,
        "sympy": sym,
        "dense": {
            "share_nan_fails_even_at_tau_0.5": float(np.isnan(dense.tau_star).mean()),
            "median_tau_star_minus_symmetric_by_spread": {
                f"spread={float(s):g}": float(np.nanmedian(
                    (dense.tau_star - dense.tau_star_symmetric).sel(spread=s).values))
                for s in dense.spread.values},
        },
    }
    with timer("figures"):
        save_axes(plot_boundary(ds), out, "temperature_boundary")
        save_axes(plot_dense(dense), out, "temperature_dense")
    save_summary(summary, out, "temperature_summary")
    return summary, timer.seconds


def _run(argv: Sequence[str] | None) -> int:
    parser = base_parser("python -m rlstar_theory.open_questions.temperature",
                         __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    summary, seconds = write_temperature_outputs(args.out, args.workers,
                                                 progress=not args.no_progress)
    print(json.dumps({"claims": summary["claims"], "sympy": summary["sympy"],
                      "seconds": seconds}, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlstar_theory.open_questions.temperature --out DIR``; exit status."""
    return main_wrapper(_run, argv, "temperature")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
