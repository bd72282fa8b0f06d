"""Q3: how many samples does sampled STaR need to reach ``J >= 0.99``? A fitted scaling law.

**What "samples" means.** A run of sampled STaR draws ``K`` trajectories for each of the ``M``
questions per iteration; after ``t`` iterations it has drawn ``K M t`` trajectories. For a
setting ``(tau, M, N, lam0)`` (sampling temperature, states, steps, start ``P(lam0)``) and a
given ``K``, let ``t_q(K)`` be the ``q``-quantile over runs of the first iteration with
``J(P_t) >= 0.99`` (a run that never gets there within ``T`` counts as infinite). The samples
needed are those of the best ``K``,

.. math::

    S_{0.99}(\\tau, M, N, \\lambda_0) = \\min_K\\; K\\, M\\, t_{0.9}(K),

the smallest budget that reaches ``J >= 0.99`` in 90% of the runs (:func:`samples_to_target`).
Too small a ``K`` stalls (see :mod:`.stall_boundary`), too large a ``K`` wastes samples on
iterations that would have succeeded with fewer, so the best ``K`` sits just above the stall
boundary ``K_50 ~ 0.86 ln(M) / a``, ``a = lam0^{N-1} (1 + (M-1) lam0) / M``.

**The law.** :func:`fit_sample_law` fits, by least squares over the settings,

.. math::

    \\ln S_{0.99} = \\ln C + \\gamma \\ln\\frac{M \\ln M\\; t^*_\\tau}{a_\\tau}
    \\qquad\\text{("boundary" law)},

the product of the questions ``M``, the stall boundary ``K_50 ~ ln(M) / a`` evaluated at the
*sampling* distribution (``a_tau`` is the gold advantage of ``P(lam_tau)``, ``lam_tau`` the
tempered mixing weight of ``P(lam0)``, :func:`rlstar_theory.tempering.temper_lam`) and the
iterations ``t*_tau`` that exact STaR at temperature ``tau`` needs to reach ``J >= 0.99``
(:func:`rlstar_theory.open_questions.stall_boundary.exact_hit_iteration`). ``gamma = 1`` would
mean that the budget is exactly "a fixed multiple of the boundary ``K``, for as many iterations as
the exact run needs". For comparison, the free power law
``ln S = ln C + b_M ln M + b_N ln N + b_lam ln lam0 + b_tau ln tau`` ("free" law), which
describes the grid but cannot extrapolate (``lam0`` enters as ``lam0^{N-1}``). The 95% intervals
of the exponents are bootstrap percentile intervals over the seeds (each cell's histogram of
first-hit iterations redrawn from its own frequencies, ``S`` recomputed, the law refitted), beside
the classical least-squares intervals (which also cover the misfit of the law). The law fitted on
``M <= 8`` is checked on the held-out ``M = 12``.

Data: the sweep :data:`SAMPLES_GRID` of the batched stall cell
(:data:`rlstar_theory.open_questions.stalls.STALL_CELL`) over ``tau x M x N x lam0 x K`` with
200 runs per point and ``T = 20``. Command line::

    python -m rlstar_theory.open_questions.sample_complexity --out figures/open_questions
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rlstar_theory.open_questions._io import command_parser, main_wrapper
from rlstar_theory.open_questions.fits import LinearFit, fit_linear, percentile_interval
from rlstar_theory.open_questions.stall_boundary import gold_advantage
from rlstar_theory.validation import check_int, check_rng

__all__ = [
    "LAWS",
    "SAMPLES_GRID",
    "SampleLaw",
    "SamplesTable",
    "boundary_covariate",
    "fit_sample_law",
    "law_design",
    "main",
    "quantile_iteration",
    "run_samples_sweep",
    "samples_to_target",
]

#: the sample-complexity sweep (batched stall cell, target J >= 0.99)
SAMPLES_GRID: dict = {
    "file": "sample_complexity.nc", "root_seed": 13_201,
    "grid": {"temperature": [0.5, 0.75, 1.0], "M": [4, 8, 12], "N": [2, 3, 4],
             "lam0": [0.2, 0.35, 0.5], "K": [2**e for e in range(1, 14)]},
    "fixed": {"iterations": 20, "replicates": 200, "target": 0.99},
}


def run_samples_sweep(out=None, work=None, executor=None, workers: int | None = None,
                      progress: bool = True, grid: dict | None = None,
                      replicates: int | None = None):
    """Run the sample-complexity sweep (:data:`SAMPLES_GRID`, or ``grid`` over the same
    dimensions) and save it as ``out/sample_complexity.nc``; returns the Dataset.

    ``work`` holds the resumable part files (default ``runs/open_questions/sample_complexity``
    when ``out`` is given).
    """
    from rlstar_theory.open_questions.stalls import STALL_CELL
    from rlstar_theory.sweeps.results import save_results
    from rlstar_theory.sweeps.runner import run_sweep

    fixed = dict(SAMPLES_GRID["fixed"])
    if replicates is not None:
        fixed["replicates"] = check_int(replicates, "replicates", 1, 10**7)
    if work is None and out is not None:
        work = Path("runs") / "open_questions" / "sample_complexity"
    ds = run_sweep(STALL_CELL, grid or SAMPLES_GRID["grid"], executor=executor, out=work,
                   root_seed=SAMPLES_GRID["root_seed"], progress=progress, workers=workers,
                   fixed=fixed)
    ds = ds.assign_coords(first_iteration=np.arange(-1, ds.sizes["first_iteration"] - 1),
                          iteration=np.arange(ds.sizes["iteration"]))
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        save_results(ds, Path(out) / SAMPLES_GRID["file"])
    return ds


def quantile_iteration(counts, reliability: float = 0.9) -> np.ndarray:
    """The ``reliability``-quantile of the first-hit iteration from its histogram.

    Parameters
    ----------
    counts : array_like of int, shape (..., T+2)
        Runs whose first ``J >= target`` is at ``t = k - 1`` for index ``k`` (index 0: never).
    reliability : float
        In ``(0, 1]``.

    Returns
    -------
    ndarray of float, shape (...)
        The smallest ``t`` with ``#{runs with 0 <= hit <= t} >= reliability * runs``; ``inf``
        when the runs that never hit are more than ``1 - reliability`` of them.
    """
    if not 0 < reliability <= 1:
        raise ValueError(f"reliability must be in (0, 1], got {reliability!r}")
    counts = np.asarray(counts)
    if counts.ndim < 1 or counts.shape[-1] < 2 or (counts < 0).any():
        raise ValueError("counts must be a non-negative histogram over -1..T (last axis >= 2)")
    runs = counts.sum(axis=-1)
    reached = np.cumsum(counts[..., 1:], axis=-1)  # hits at t <= 0, 1, ..., T
    ok = reached >= reliability * runs[..., None] - 1e-9
    first = np.argmax(ok, axis=-1).astype(float)
    return np.where(ok.any(axis=-1) & (runs > 0), first, np.inf)


@dataclass(frozen=True)
class SamplesTable:
    """``S_0.99`` per setting (one entry per ``(temperature, M, N, lam0)``).

    Attributes
    ----------
    temperature, M, N, lam0 : ndarray, shape (s,)
    samples : ndarray, shape (s,)
        ``min_K K M t_q(K)``; ``inf`` when no ``K`` of the grid reaches the target reliably.
    best_K : ndarray, shape (s,)
        The minimising ``K`` (0 where ``samples`` is infinite).
    iterations : ndarray, shape (s,)
        ``t_q`` at the best ``K``.
    reliability : float
    """

    temperature: np.ndarray
    M: np.ndarray
    N: np.ndarray
    lam0: np.ndarray
    samples: np.ndarray
    best_K: np.ndarray
    iterations: np.ndarray
    reliability: float

    @property
    def finite(self) -> np.ndarray:
        """Settings with a finite ``samples``."""
        return np.isfinite(self.samples)

    def subset(self, mask) -> SamplesTable:
        """The settings where ``mask`` holds."""
        mask = np.asarray(mask, dtype=bool)
        return replace(self, **{k: getattr(self, k)[mask] for k in
                                ("temperature", "M", "N", "lam0", "samples", "best_K",
                                 "iterations")})


def _settings(ds) -> tuple[list[str], np.ndarray]:
    dims = [d for d in ("temperature", "M", "N", "lam0") if d in ds.dims]
    if "K" not in ds.dims or not {"M", "N", "lam0"} <= set(dims):
        raise ValueError("the Dataset needs dimensions M, N, lam0 and K (and optionally "
                         f"temperature); it has {list(ds.dims)}")
    return dims, np.asarray(ds["K"].values, dtype=float)


def _best(counts: np.ndarray, K: np.ndarray, M: np.ndarray, reliability: float):
    """``counts`` (s, nK, T+2) -> (samples, best_K, iterations) per setting."""
    t = quantile_iteration(counts, reliability)  # (s, nK)
    with np.errstate(invalid="ignore"):
        cost = K[None, :] * M[:, None] * t
    cost = np.where(t == 0, 0.0, cost)
    best = np.argmin(cost, axis=1)
    rows = np.arange(cost.shape[0])
    samples = cost[rows, best]
    finite = np.isfinite(samples)
    return samples, np.where(finite, K[best], 0.0), np.where(finite, t[rows, best], np.inf)


def samples_to_target(ds, reliability: float = 0.9) -> SamplesTable:
    """``S = min_K K M t_q(K)`` per setting of a sweep with ``hit_iteration_count``.

    Parameters
    ----------
    ds : xarray.Dataset
        The sample-complexity sweep (dimensions ``[temperature,] M, N, lam0, K`` and
        ``first_iteration``).
    reliability : float
        ``q``: the fraction of runs that must reach the target.

    Returns
    -------
    SamplesTable
    """
    dims, K = _settings(ds)
    counts = ds["hit_iteration_count"].transpose(*dims, "K", "first_iteration").values
    shape = counts.shape[:-2]
    grids = np.meshgrid(*(ds[d].values for d in dims), indexing="ij")
    coords = {d: g.ravel() for d, g in zip(dims, grids, strict=True)}
    counts = counts.reshape(-1, K.size, counts.shape[-1])
    samples, best_K, iterations = _best(counts, K, coords["M"].astype(float), reliability)
    s = int(np.prod(shape))
    return SamplesTable(temperature=coords.get("temperature", np.ones(s)).astype(float),
                        M=coords["M"].astype(np.int64), N=coords["N"].astype(np.int64),
                        lam0=coords["lam0"].astype(float), samples=samples, best_K=best_K,
                        iterations=iterations, reliability=float(reliability))


#: the laws: name -> covariate names (each a column of :func:`law_design`)
LAWS: dict[str, tuple[str, ...]] = {
    "boundary": ("ln(M lnM t*_tau / a_tau)",),
    "free": ("ln M", "ln N", "ln lam0", "ln tau"),
}


def boundary_covariate(temperature, M, N, lam0, target: float = 0.99) -> np.ndarray:
    """``M ln M t*_tau / a_tau`` per setting (module docstring); NaN where exact STaR at ``tau``
    does not reach ``target`` within 1000 iterations."""
    from rlstar_theory.open_questions.stall_boundary import exact_hit_iteration
    from rlstar_theory.tempering import temper_lam

    tau, M, N, lam0 = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                            for v in (temperature, M, N, lam0)))
    out = np.empty(tau.shape)
    for i in np.ndindex(tau.shape):
        m, n = int(M[i]), int(N[i])
        lam_tau = float(temper_lam(np.array([lam0[i]]), m, float(tau[i]))[0])
        t_star = exact_hit_iteration(float(lam0[i]), m, n, target, 1000, float(tau[i]))
        a_tau = float(gold_advantage(lam_tau, m, n))
        out[i] = m * np.log(m) * t_star / a_tau if t_star > 0 and a_tau > 0 else np.nan
    return out


def law_design(law: str, temperature, M, N, lam0) -> np.ndarray:
    """Design matrix ``[1, covariates...]`` of a law of :data:`LAWS`, shape ``(s, k+1)``."""
    if law not in LAWS:
        raise ValueError(f"law must be one of {list(LAWS)}, got {law!r}")
    tau, M, N, lam0 = (np.asarray(v, dtype=float).ravel() for v in (temperature, M, N, lam0))
    if law == "boundary":
        cols = [np.log(boundary_covariate(tau, M, N, lam0))]
    else:
        cols = [np.log(M), np.log(N), np.log(lam0), np.log(tau)]
    return np.column_stack([np.ones(M.size)] + cols)


@dataclass(frozen=True)
class SampleLaw:
    """A fitted law ``ln S = X beta`` over the settings with finite ``S``.

    Attributes
    ----------
    law : str
    names : tuple of str
        ``("ln C",) + LAWS[law]``.
    fit : LinearFit
        Least squares (coefficients, classical standard errors, ``R^2``).
    bootstrap_interval : ndarray, shape (k+1, 2)
        95% percentile intervals over seed-bootstrap replicates (NaN without bootstrap).
    settings : int
        Settings used.
    """

    law: str
    names: tuple[str, ...]
    fit: LinearFit
    bootstrap_interval: np.ndarray
    settings: int

    def predict(self, temperature, M, N, lam0) -> np.ndarray:
        """``exp(X beta)``: predicted samples."""
        return np.exp(law_design(self.law, temperature, M, N, lam0) @ self.fit.coef)

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        ci = self.fit.interval()
        return {"law": self.law, "settings": self.settings, "r2": self.fit.r2,
                "residual_sd": self.fit.residual_sd,
                "coefficients": {name: {"value": float(v), "stderr": float(se),
                                        "ols_interval_95": [float(a), float(b)],
                                        "bootstrap_interval_95": [float(x) for x in bi]}
                                 for name, v, se, (a, b), bi in zip(
                                     self.names, self.fit.coef, self.fit.stderr, ci,
                                     self.bootstrap_interval, strict=True)}}


def fit_sample_law(table: SamplesTable, law: str = "boundary", counts=None, K=None,
                   bootstrap: int = 0, rng=None) -> SampleLaw:
    """Least-squares fit of ``ln S`` on a law's covariates over the finite settings.

    Parameters
    ----------
    table : SamplesTable
    law : str
        Key of :data:`LAWS`.
    counts : ndarray, shape (s, nK, T+2), optional
        The hit histograms behind ``table`` (same setting order), for the seed bootstrap.
    K : ndarray, shape (nK,), optional
        Their ``K`` values.
    bootstrap : int
        Seed-bootstrap replicates (needs ``counts`` and ``K``).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    SampleLaw
    """
    B = check_int(bootstrap, "bootstrap", 0, 100_000)
    ok = table.finite & (table.samples > 0)
    if ok.sum() <= len(LAWS.get(law, ())) + 1:
        raise ValueError(f"too few settings with a finite sample count ({int(ok.sum())}) to fit "
                         f"law {law!r}")
    X = law_design(law, table.temperature, table.M, table.N, table.lam0)
    ok &= np.isfinite(X).all(axis=1)
    fit = fit_linear(X[ok], np.log(table.samples[ok]))
    draws = []
    if B:
        if counts is None or K is None:
            raise ValueError("bootstrap needs counts and K (the hit histograms of the sweep)")
        counts = np.asarray(counts)
        gen = check_rng(rng)
        runs = counts.sum(axis=-1)
        freq = counts / np.maximum(runs, 1)[..., None]
        for _ in range(B):
            redrawn = gen.multinomial(runs, freq)
            samples, _, _ = _best(redrawn, np.asarray(K, dtype=float),
                                  table.M.astype(float), table.reliability)
            use = ok & np.isfinite(samples) & (samples > 0)
            coef = np.full(X.shape[1], np.nan)
            if use.sum() > X.shape[1]:
                coef = fit_linear(X[use], np.log(samples[use])).coef
            draws.append(coef)
    interval = percentile_interval(np.array(draws)) if draws else \
        np.full((X.shape[1], 2), np.nan)
    return SampleLaw(law=law, names=("ln C",) + LAWS[law], fit=fit,
                     bootstrap_interval=interval, settings=int(ok.sum()))


def _hit_counts(ds) -> tuple[np.ndarray, np.ndarray]:
    dims, K = _settings(ds)
    counts = ds["hit_iteration_count"].transpose(*dims, "K", "first_iteration").values
    return counts.reshape(-1, K.size, counts.shape[-1]), K


def write_sample_outputs(out, bootstrap: int = 200, seed: int = 13_300) -> list[Path]:
    """Read ``out/sample_complexity.nc``, fit both laws, write ``sample_complexity.json`` and
    the figure ``samples_to_target.png``; returns the written paths."""
    from rlstar_theory.figures.io import save_json, save_png
    from rlstar_theory.open_questions.sample_figures import plot_samples_to_target
    from rlstar_theory.sweeps.results import load_results

    out = Path(out)
    ds = load_results(out / SAMPLES_GRID["file"])
    table = samples_to_target(ds)
    counts, K = _hit_counts(ds)
    gen = np.random.default_rng(seed)
    laws = {law: fit_sample_law(table, law, counts, K, bootstrap, gen) for law in LAWS}
    held = table.M == table.M.max()
    fitted = fit_sample_law(table.subset(~held), "boundary")
    part = table.subset(held)
    ratio = part.samples / fitted.predict(part.temperature, part.M, part.N, part.lam0)
    ratio = ratio[np.isfinite(ratio)]
    report = {"reliability": table.reliability, "target": 0.99,
              "samples_definition": "min over K of K * M * (0.9-quantile over runs of the first "
                                    "iteration with J >= 0.99)",
              "replicates_per_cell": int(ds["runs"].min()),
              "iterations": int(ds.sizes["iteration"] - 1),
              "laws": {name: law.to_dict() for name, law in laws.items()},
              "heldout": {"M": int(table.M.max()), "fitted_on_M": sorted(set(
                  table.M[~held].tolist())), "settings": int(ratio.size),
                  "measured_over_predicted_range": [float(ratio.min()), float(ratio.max())],
                  "mean_abs_log_error": float(np.abs(np.log(ratio)).mean())},
              "settings": {"temperature": table.temperature, "M": table.M, "N": table.N,
                           "lam0": table.lam0, "samples": table.samples,
                           "best_K": table.best_K, "iterations": table.iterations}}
    paths = [save_json(report, out / "sample_complexity.json", indent=1, significant_digits=6)]
    axes = plot_samples_to_target(table, laws["boundary"])
    paths.append(save_png(axes[0].figure, out / "samples_to_target.png", dpi=110))
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        prog="python -m rlstar_theory.open_questions.sample_complexity",
        description="Samples sampled STaR needs to reach J >= 0.99 over tau x M x N x lam0 "
                    "(a sweep over K with 200 runs per point), with the fitted scaling law.")
    parser.add_argument("--out", type=Path, required=True, help="folder for data and figures")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the resumable part files")
    parser.add_argument("--workers", type=int, default=None, help="local processes")
    parser.add_argument("--replicates", type=int, default=None,
                        help="runs per grid point (default 200)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from rlstar_theory.cli._paths import check_out_dir

    out = check_out_dir(args.out)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    start = time.perf_counter()
    run_samples_sweep(out, args.work, workers=args.workers, progress=not args.no_progress,
                      replicates=args.replicates)
    print(f"sample-complexity sweep: {time.perf_counter() - start:.1f} s")
    for path in write_sample_outputs(out):
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the sweep, fit the laws, write data and figure; exit status."""
    return main_wrapper(_run, argv, "sample_complexity")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
