"""Q3: the fitted 50% stall boundary of sampled STaR, checked on held-out cells.

The stall sweep (:mod:`.stalls`) gives, per grid point ``(M, N, lam0, K)``, the number of runs
(out of ``R``) that stalled. The boundary is the ``K`` at which half the runs stall. A
*scaling law* says that it depends on ``(M, N, lam0)`` only through one quantity ``x``:
``K_50 x = c``. Each law is fitted as one logistic regression over all training cells,

.. math::

    \\Pr(\\text{stall}) = \\sigma\\big(\\beta_0 + \\beta_1 \\ln(K\\, x)\\big), \\qquad
    c = \\exp(-\\beta_0 / \\beta_1),

so the law holds when all the slices collapse on one curve. Laws (:data:`LAWS`):

``K*J0``
    ``x = J_0 = (1 + (M-1) lam0^N) / M``: expected successful samples per question.
``K*a``
    ``x = a = lam0^{N-1} (1 + (M-1) lam0) / M``, the *gold advantage*: with the exact STaR step
    of the symmetric family, ``(lam' - lam) / (1 - lam) = a / J_0`` (SPEC §3), so
    ``K a = K J_0 (lam' - lam)/(1 - lam)`` is the expected number of successful samples per
    question times the fraction of the remaining error that one exact step removes. A gold
    transition that is held by about ``K J_0`` successful paths per row and gains a relative
    advantage ``(lam' - lam)/(1 - lam)`` per iteration is lost by drift with probability about
    ``exp(-2 K a)`` (Kimura's diffusion approximation for a favoured allele); the refit is a
    Wright-Fisher resampling of every row.
``K*a/ln(NM)``
    ``x = a / ln(N M)``: the same with a union bound over the ``N M`` rows,
    ``Pr(stall) ~ 1 - (1 - e^{-2 K a})^{N M}``, whose half point is ``K a ~ ln(N M / ln 2) / 2``.
``K*a/ln(M)``
    ``x = a / ln M``: as measured, the constant of ``K*a`` grows with ``M`` but hardly with
    ``N``.

The laws describe a stall *within the horizon* ``T`` of the sweep. Where the exact iteration
itself needs more than ``T`` iterations to reach ``J >= 0.99`` (small ``lam0`` at large ``N``),
drift has had fewer generations to act than selection needs, and fewer runs stall than the laws
say; :func:`within_horizon` keeps the slices where the exact run gets there within ``T``, and the
fits use those.

The constant's 95% interval comes from a parametric bootstrap over the seeds (every cell's count
redrawn from ``Binomial(R, observed fraction)`` and the law refitted). Held-out cells (other
``M``, ``N``, ``lam0``) check the fitted law: predicted against measured ``K_50`` per slice, and
the cells' stall fractions against the fitted curve.

``write_boundary_outputs(out)`` reads ``out/stalls.nc`` and ``out/stalls_heldout.nc``, writes
``stall_boundary.json`` and the figures ``stall_phase.png`` and ``stall_collapse.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rlstar_theory.open_questions.fits import LogisticFit, fit_logistic, percentile_interval
from rlstar_theory.validation import check_int, check_rng

__all__ = [
    "LAWS",
    "HeldOutCheck",
    "SliceK50",
    "StallBoundary",
    "StallTable",
    "check_heldout",
    "exact_hit_iteration",
    "fit_stall_boundary",
    "gold_advantage",
    "initial_J",
    "load_boundaries",
    "slice_k50",
    "stall_table",
    "within_horizon",
    "write_boundary_outputs",
]


def initial_J(lam0, M, N) -> np.ndarray:
    """``J_0 = (1 + (M-1) lam0^N) / M``: success probability of every question under
    ``P(lam0)`` (SPEC §3)."""
    lam0, M, N = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lam0, M, N)))
    return (1.0 + (M - 1.0) * lam0**N) / M


def gold_advantage(lam0, M, N) -> np.ndarray:
    """``a = lam0^{N-1} (1 + (M-1) lam0) / M = J_0 (lam' - lam0) / (1 - lam0)`` with ``lam'``
    the exact STaR step of ``P(lam0)`` on every step."""
    lam0, M, N = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lam0, M, N)))
    return lam0 ** (N - 1.0) * (1.0 + (M - 1.0) * lam0) / M


#: scaling laws ``K_50 x = c``: name -> ``x(lam0, M, N)``
LAWS: dict[str, Callable[..., np.ndarray]] = {
    "K*J0": initial_J,
    "K*a": gold_advantage,
    "K*a/ln(NM)": lambda lam0, M, N: gold_advantage(lam0, M, N)
    / np.log(np.asarray(N, dtype=float) * np.asarray(M, dtype=float)),
    "K*a/ln(M)": lambda lam0, M, N: gold_advantage(lam0, M, N)
    / np.log(np.asarray(M, dtype=float)),
}


def exact_hit_iteration(lam0: float, M: int, N: int, target: float = 0.99,
                        max_iterations: int = 1000, temperature: float = 1.0) -> int:
    """First ``t`` at which exact STaR (sampling temperature ``tau``) from ``P(lam0)`` on every
    step has ``J_t >= target`` (closed-form symmetric recursion,
    :func:`rlstar_theory.symmetric.iterate_symmetric`); ``-1`` if not within
    ``max_iterations``."""
    N = check_int(N, "N", 1)
    T = check_int(max_iterations, "max_iterations", 0)
    return _exact_hit(float(lam0), int(M), N, float(target), T, float(temperature))


@lru_cache(maxsize=4096)
def _exact_hit(lam0: float, M: int, N: int, target: float, T: int, temperature: float) -> int:
    from rlstar_theory.symmetric import iterate_symmetric

    horizon = min(T, 64)
    while True:  # short runs first: most settings get there within a few iterations
        run = iterate_symmetric(np.full(N, lam0), M, horizon, temperature)
        hit = np.flatnonzero(run.J >= target)
        if hit.size:
            return int(hit[0])
        if horizon >= T:
            return -1
        horizon = min(T, 8 * horizon)


def _check_law(law: str) -> Callable[..., np.ndarray]:
    if law not in LAWS:
        raise ValueError(f"law must be one of {list(LAWS)}, got {law!r}")
    return LAWS[law]


@dataclass(frozen=True)
class StallTable:
    """The cells of a stall sweep as flat arrays (one entry per ``(M, N, lam0, K)``).

    Attributes
    ----------
    M, N, lam0, K : ndarray, shape (m,)
        Coordinates.
    stalled, runs : ndarray of int64, shape (m,)
        Runs that stalled, and runs.
    """

    M: np.ndarray
    N: np.ndarray
    lam0: np.ndarray
    K: np.ndarray
    stalled: np.ndarray
    runs: np.ndarray

    @property
    def fraction(self) -> np.ndarray:
        """``stalled / runs``."""
        return self.stalled / self.runs

    def subset(self, mask) -> StallTable:
        """The cells where ``mask`` holds."""
        mask = np.asarray(mask, dtype=bool)
        return StallTable(**{k: v[mask] for k, v in asdict(self).items()})

    def slices(self) -> list[tuple[int, int, float]]:
        """The distinct ``(M, N, lam0)``, sorted."""
        keys = {(int(m), int(n), float(lam)) for m, n, lam in zip(self.M, self.N, self.lam0,
                                                                     strict=True)}
        return sorted(keys)


def stall_table(ds, variable: str = "stalled", positive_lam0: bool = True) -> StallTable:
    """Flatten a stall sweep's Dataset (dimensions ``M, N, lam0, K``) into a :class:`StallTable`.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`rlstar_theory.open_questions.stalls.run_stall_sweep`.
    variable : {"stalled", "lost_gold", "question_without_success"}
        Which event counts.
    positive_lam0 : bool
        Drop ``lam0 <= 0`` (there the gold advantage is 0 and the exact step does not move).
    """
    if variable not in ("stalled", "lost_gold", "question_without_success"):
        raise ValueError(f"variable must be 'stalled', 'lost_gold' or "
                         f"'question_without_success', got {variable!r}")
    dims = ("M", "N", "lam0", "K")
    da = ds[variable].transpose(*dims)
    runs = ds["runs"].transpose(*dims)
    grids = np.meshgrid(*(ds[d].values for d in dims), indexing="ij")
    table = StallTable(M=grids[0].ravel().astype(np.int64), N=grids[1].ravel().astype(np.int64),
                       lam0=grids[2].ravel().astype(float), K=grids[3].ravel().astype(np.int64),
                       stalled=da.values.ravel().astype(np.int64),
                       runs=runs.values.ravel().astype(np.int64))
    return table.subset(table.lam0 > 0) if positive_lam0 else table


def within_horizon(table: StallTable, iterations: int, target: float = 0.99) -> np.ndarray:
    """Mask of the cells whose slice ``(M, N, lam0)`` reaches ``J >= target`` under *exact*
    STaR within ``iterations`` (:func:`exact_hit_iteration`)."""
    T = check_int(iterations, "iterations", 0)
    mask = np.zeros(table.K.size, dtype=bool)
    for M, N, lam0 in table.slices():
        hit = exact_hit_iteration(lam0, M, N, target, T)
        if 0 <= hit <= T:
            mask |= (table.M == M) & (table.N == N) & (table.lam0 == lam0)
    return mask


def _law_covariate(table: StallTable, law: str) -> np.ndarray:
    x = _check_law(law)(table.lam0, table.M, table.N)
    if np.any(x <= 0):
        raise ValueError("every cell needs lam0 > 0 for a law in ln(K x); drop lam0 <= 0")
    return np.log(table.K * x)


@dataclass(frozen=True)
class StallBoundary:
    """A fitted scaling law ``K_50 x(lam0, M, N) = c`` for the stall probability.

    Attributes
    ----------
    law : str
        Key of :data:`LAWS`.
    constant : float
        ``c = exp(-beta_0 / beta_1)``.
    interval : tuple of float
        95% parametric-bootstrap interval of ``c`` (seeds redrawn per cell): the uncertainty
        from the finite number of runs alone.
    quasi_interval : tuple of float
        95% interval with the covariance inflated by the Pearson dispersion (quasi-binomial
        delta method on ``ln c = -beta_0/beta_1``): it also covers the scatter of the slices
        around the law.
    slope : float
        ``beta_1`` (negative: more samples, fewer stalls).
    deviance : float
        Binomial deviance of the fit on the training cells.
    pearson_dispersion : float
        Pearson chi-square per degree of freedom (1 when the law explains the cells up to
        binomial noise; much more when the slices do not collapse).
    cells : int
        Training cells.
    """

    law: str
    constant: float
    interval: tuple[float, float]
    quasi_interval: tuple[float, float]
    slope: float
    deviance: float
    pearson_dispersion: float
    cells: int

    def probability(self, K, lam0, M, N) -> np.ndarray:
        """Fitted ``Pr(stall) = sigma(beta_1 (ln(K x) - ln c))``."""
        x = _check_law(self.law)(lam0, M, N)
        z = self.slope * (np.log(np.asarray(K, dtype=float) * x) - np.log(self.constant))
        return 1.0 / (1.0 + np.exp(-z))

    def k50(self, lam0, M, N) -> np.ndarray:
        """Predicted boundary ``K_50 = c / x(lam0, M, N)``."""
        return self.constant / _check_law(self.law)(lam0, M, N)


def _fit_law(table: StallTable, law: str) -> LogisticFit:
    X = np.column_stack([np.ones(table.K.size), _law_covariate(table, law)])
    return fit_logistic(X, table.stalled, table.runs)


def fit_stall_boundary(table: StallTable, law: str = "K*a", bootstrap: int = 200,
                       rng=None) -> StallBoundary:
    """Fit ``Pr(stall) = sigma(beta_0 + beta_1 ln(K x))`` over the cells of ``table``.

    Parameters
    ----------
    table : StallTable
        Training cells (``lam0 > 0``).
    law : str
        Key of :data:`LAWS`.
    bootstrap : int
        Parametric bootstrap replicates for the interval of ``c`` (``>= 0``; 0: no interval).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    StallBoundary
    """
    B = check_int(bootstrap, "bootstrap", 0, 100_000)
    gen = check_rng(rng)
    fit = _fit_law(table, law)
    b0, b1 = fit.coef
    if not b1 < 0:
        raise ValueError(f"the stall probability does not fall with K x under law {law!r} "
                         f"(slope {b1:.3g}); the cells do not bracket a boundary")
    draws = []
    for _ in range(B):
        redrawn = gen.binomial(table.runs, table.fraction)
        c0, c1 = _fit_law(StallTable(table.M, table.N, table.lam0, table.K, redrawn,
                                     table.runs), law).coef
        draws.append(np.exp(-c0 / c1) if c1 < 0 else np.nan)
    interval = tuple(percentile_interval(draws)) if B else (float("nan"), float("nan"))
    grad = np.array([-1.0 / b1, b0 / b1**2])  # d ln c / d beta
    dispersion = max(fit.pearson_dispersion, 1.0) if np.isfinite(fit.pearson_dispersion) else 1.0
    half = 1.959964 * float(np.sqrt(max(grad @ fit.cov @ grad, 0.0) * dispersion))
    log_c = -b0 / b1
    return StallBoundary(law=law, constant=float(np.exp(log_c)),
                         interval=(float(interval[0]), float(interval[1])),
                         quasi_interval=(float(np.exp(log_c - half)), float(np.exp(log_c + half))),
                         slope=float(b1),
                         deviance=fit.deviance, pearson_dispersion=fit.pearson_dispersion,
                         cells=int(table.K.size))


@dataclass(frozen=True)
class SliceK50:
    """The measured 50% point of each slice ``(M, N, lam0)``: a logistic fit in ``ln K``.

    Attributes
    ----------
    M, N, lam0 : ndarray, shape (s,)
    k50 : ndarray, shape (s,)
        ``exp(-beta_0 / beta_1)`` of ``Pr(stall) = sigma(beta_0 + beta_1 ln K)``; NaN when the
        slice's fractions do not cross 1/2 inside its ``K`` range.
    log_k50_se : ndarray, shape (s,)
        Delta-method standard error of ``ln K_50``.
    """

    M: np.ndarray
    N: np.ndarray
    lam0: np.ndarray
    k50: np.ndarray
    log_k50_se: np.ndarray


def slice_k50(table: StallTable) -> SliceK50:
    """Per slice ``(M, N, lam0)``, the ``K`` at which half the runs stall (:class:`SliceK50`).

    ``ln K_50 = -beta_0 / beta_1`` with standard error from the delta method,
    ``g^T cov g`` with ``g = (-1/beta_1, beta_0/beta_1^2)``. A slice whose stall fraction is
    above 1/2 at every ``K``, or below at every ``K``, gets NaN.
    """
    rows = []
    for M, N, lam0 in table.slices():
        part = table.subset((table.M == M) & (table.N == N) & (table.lam0 == lam0))
        frac = part.fraction
        if not (frac.max() > 0.5 > frac.min()):
            rows.append((M, N, lam0, np.nan, np.nan))
            continue
        X = np.column_stack([np.ones(part.K.size), np.log(part.K)])
        fit = fit_logistic(X, part.stalled, part.runs)
        b0, b1 = fit.coef
        grad = np.array([-1.0 / b1, b0 / b1**2])
        se = float(np.sqrt(max(grad @ fit.cov @ grad, 0.0)))
        rows.append((M, N, lam0, float(np.exp(-b0 / b1)), se))
    cols = list(zip(*rows, strict=True))
    return SliceK50(M=np.array(cols[0]), N=np.array(cols[1]), lam0=np.array(cols[2]),
                    k50=np.array(cols[3]), log_k50_se=np.array(cols[4]))


@dataclass(frozen=True)
class HeldOutCheck:
    """How a fitted law predicts held-out cells.

    Attributes
    ----------
    law : str
    k50_ratio : ndarray, shape (s,)
        Measured / predicted ``K_50`` per held-out slice with a measured crossing.
    k50_ratio_range : tuple of float
        ``(min, max)`` of ``k50_ratio`` (1 is a perfect prediction; a factor of 2 is one step of
        the ``K`` grid).
    side_accuracy : float
        Fraction of held-out cells on the predicted side of 1/2 (cells whose measured fraction
        is within two binomial standard errors of 1/2 are left out).
    max_abs_error : float
        Largest ``|measured - predicted|`` stall fraction over the held-out cells.
    mean_abs_error : float
        Mean of the same.
    cells : int
    """

    law: str
    k50_ratio: np.ndarray
    k50_ratio_range: tuple[float, float]
    side_accuracy: float
    max_abs_error: float
    mean_abs_error: float
    cells: int


def check_heldout(boundary: StallBoundary, heldout: StallTable) -> HeldOutCheck:
    """Compare ``boundary``'s predictions with held-out cells (:class:`HeldOutCheck`)."""
    pred = boundary.probability(heldout.K, heldout.lam0, heldout.M, heldout.N)
    frac = heldout.fraction
    se = np.sqrt(np.maximum(frac * (1 - frac), 0.25 / heldout.runs) / heldout.runs)
    clear = np.abs(frac - 0.5) > 2 * se
    side = float(np.mean((pred[clear] > 0.5) == (frac[clear] > 0.5))) if clear.any() \
        else float("nan")
    slices = slice_k50(heldout)
    measured = ~np.isnan(slices.k50)
    ratio = slices.k50[measured] / boundary.k50(slices.lam0[measured], slices.M[measured],
                                                 slices.N[measured])
    span = (float(ratio.min()), float(ratio.max())) if ratio.size else (np.nan, np.nan)
    err = np.abs(frac - pred)
    return HeldOutCheck(law=boundary.law, k50_ratio=ratio, k50_ratio_range=span,
                        side_accuracy=side, max_abs_error=float(err.max()),
                        mean_abs_error=float(err.mean()), cells=int(frac.size))


def _summary(boundary: StallBoundary, train: StallTable, heldout: StallTable | None) -> dict:
    slices = slice_k50(train)
    x = _check_law(boundary.law)(slices.lam0, slices.M, slices.N)
    ok = ~np.isnan(slices.k50)
    out = {"law": boundary.law, "constant": boundary.constant,
           "interval_95": list(boundary.interval),
           "quasi_interval_95": list(boundary.quasi_interval), "slope": boundary.slope,
           "deviance": boundary.deviance, "pearson_dispersion": boundary.pearson_dispersion,
           "training_cells": boundary.cells,
           "slice_constant_range": [float((slices.k50 * x)[ok].min()),
                                    float((slices.k50 * x)[ok].max())]}
    if heldout is not None:
        check = check_heldout(boundary, heldout)
        out["heldout"] = {"cells": check.cells, "k50_ratio_range": list(check.k50_ratio_range),
                          "side_accuracy": check.side_accuracy,
                          "max_abs_error": check.max_abs_error,
                          "mean_abs_error": check.mean_abs_error}
    return out


def load_boundaries(path) -> dict[str, StallBoundary]:
    """The fitted laws of a ``stall_boundary.json`` (:func:`write_boundary_outputs`), by name."""
    import json

    summary = json.loads(Path(path).read_text())
    return {law["law"]: StallBoundary(
        law=law["law"], constant=law["constant"], interval=tuple(law["interval_95"]),
        quasi_interval=tuple(law["quasi_interval_95"]), slope=law["slope"],
        deviance=law["deviance"], pearson_dispersion=law["pearson_dispersion"],
        cells=law["training_cells"]) for law in summary["laws"]}


def write_boundary_outputs(out, bootstrap: int = 200, seed: int = 13_100) -> list[Path]:
    """Fit every law on ``out/stalls.nc``, check it on ``out/stalls_heldout.nc`` (when present),
    write ``stall_boundary.json`` and the figures; returns the written paths.

    Both tables keep only the slices within the horizon (:func:`within_horizon` with the
    sweep's ``T``); the others are listed in the JSON as ``beyond_horizon``.
    """
    from rlstar_theory.figures.io import save_json, save_png
    from rlstar_theory.open_questions.stall_figures import plot_stall_collapse, plot_stall_phase
    from rlstar_theory.sweeps.results import load_results

    out = Path(out)
    ds = load_results(out / "stalls.nc")
    T = ds.sizes["iteration"] - 1
    everything = stall_table(ds)
    keep = within_horizon(everything, T)
    train = everything.subset(keep)
    held_path = out / "stalls_heldout.nc"
    heldout = None
    if held_path.exists():
        held_all = stall_table(load_results(held_path))
        heldout = held_all.subset(within_horizon(held_all, T))
    gen = np.random.default_rng(seed)
    boundaries = {law: fit_stall_boundary(train, law, bootstrap, gen) for law in LAWS}
    best = min(boundaries.values(), key=lambda b: b.deviance)
    slices = slice_k50(everything)
    beyond = everything.subset(~keep).slices()
    report = {"best_law": best.law, "horizon_iterations": T,
              "laws": [_summary(b, train, heldout) for b in boundaries.values()],
              "beyond_horizon": [list(k) for k in beyond],
              "slices": {"M": slices.M, "N": slices.N, "lam0": slices.lam0, "k50": slices.k50,
                         "log_k50_se": slices.log_k50_se},
              "replicates_per_cell": int(everything.runs.min()),
              "events": {name: float(ds[name].sum() / ds["runs"].sum())
                         for name in ("stalled", "lost_gold", "question_without_success")}}
    paths = [save_json(report, out / "stall_boundary.json", indent=1, significant_digits=6)]
    phase = plot_stall_phase(ds, [boundaries["K*J0"], best])
    paths.append(save_png(phase.flat[0].figure, out / "stall_phase.png", dpi=110))
    collapse = plot_stall_collapse(train, [boundaries["K*J0"], best], heldout)
    paths.append(save_png(collapse[0].figure, out / "stall_collapse.png", dpi=110))
    return paths
