"""Figure (f): exact STaR against finite-sample STaR (``K`` trajectories per question).

For each ``K`` the finite-sample algorithm (:func:`rlstar_theory.iterate_finite_sample`) is run
from the same symmetric start over several seeds; the figure shows the mean and the spread
(10th-90th percentile band) of the *exact* ``J`` of each refitted policy, against the exact
(infinite-sample) curve. Small ``K`` overfits: a row seen in only a few kept trajectories
becomes (nearly) deterministic, which speeds up the first iterations but can freeze wrong
transitions for good, so the mean stalls below 1.

:func:`mean_tolerance` gives the band within which the mean over seeds should lie around the
exact curve: four standard errors of the mean plus an ``O(M/K)`` allowance for the bias of the
maximum-likelihood refit from finitely many kept trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.figures.style import new_figure
from rlstar_theory.sampling import iterate_finite_sample
from rlstar_theory.symmetric import iterate_symmetric, symmetric_matrix

__all__ = ["FiniteSamplePanel", "FiniteSampleData", "mean_tolerance", "compute_panel",
           "compute", "plot"]


def mean_tolerance(J_runs: np.ndarray, K: int, M: int) -> np.ndarray:
    """Allowed ``|mean_seeds J - J_exact|`` per iteration: ``4 * std / sqrt(S) + 2 M / K``.

    Parameters
    ----------
    J_runs : ndarray, shape (S, T+1)
        ``J`` of each seed's policies.
    K : int
        Trajectories per question.
    M : int
        States per step (rows to estimate grow with ``M``).

    Returns
    -------
    ndarray, shape (T+1,)
    """
    S = J_runs.shape[0]
    return 4.0 * J_runs.std(axis=0, ddof=1 if S > 1 else 0) / np.sqrt(S) + 2.0 * M / K


@dataclass(frozen=True)
class FiniteSamplePanel:
    """One setting: exact curve and finite-sample runs for several ``K``.

    Attributes
    ----------
    M, N : int
    lam0 : float
        Equal starting mixing weight of every step (theory script's convention).
    t : ndarray of int, shape (T+1,)
    J_exact : ndarray, shape (T+1,)
    K : ndarray of int, shape (k,)
    seeds : ndarray of int, shape (S,)
    J_runs : ndarray, shape (k, S, T+1)
        Exact ``J`` of each finite-sample policy.
    J_mean, J_std, J_p10, J_p90 : ndarray, shape (k, T+1)
    kept_with_wrong_step : ndarray, shape (k, S, T)
        Kept trajectories with at least one wrong step, per sampled iteration.
    n_kept : ndarray, shape (k, S, T)
    tolerance : ndarray, shape (k, T+1)
        :func:`mean_tolerance` of each ``K``.
    """

    M: int
    N: int
    lam0: float
    t: np.ndarray
    J_exact: np.ndarray
    K: np.ndarray
    seeds: np.ndarray
    J_runs: np.ndarray
    J_mean: np.ndarray
    J_std: np.ndarray
    J_p10: np.ndarray
    J_p90: np.ndarray
    kept_with_wrong_step: np.ndarray
    n_kept: np.ndarray
    tolerance: np.ndarray

    def to_dict(self) -> dict:
        """All fields as plain values."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def compute_panel(M: int, lam0: float, Ks: tuple[int, ...], seeds: int, iterations: int,
                  N: int = 3, base_seed: int = 20241031) -> FiniteSamplePanel:
    """Run exact and finite-sample STaR from ``P(lam0)`` in every step.

    Seeds are ``base_seed + i`` (one generator per run), so the numbers are reproducible.
    """
    P0 = symmetric_matrix([lam0] * N, M)
    exact = iterate_symmetric([lam0] * N, M, iterations).J
    seed_list = np.arange(seeds) + base_seed
    J_runs = np.empty((len(Ks), seeds, iterations + 1))
    wrong = np.empty((len(Ks), seeds, iterations), dtype=np.int64)
    kept = np.empty((len(Ks), seeds, iterations), dtype=np.int64)
    for a, K in enumerate(Ks):
        for b, seed in enumerate(seed_list):
            run = iterate_finite_sample(P0, iterations, K, rng=int(seed))
            J_runs[a, b] = run.J
            wrong[a, b] = [s.kept_with_wrong_step for s in run.steps]
            kept[a, b] = [s.n_kept for s in run.steps]
    tol = np.array([mean_tolerance(J_runs[a], K, M) for a, K in enumerate(Ks)])
    return FiniteSamplePanel(
        M=M, N=N, lam0=float(lam0), t=np.arange(iterations + 1), J_exact=exact,
        K=np.array(Ks), seeds=seed_list, J_runs=J_runs, J_mean=J_runs.mean(axis=1),
        J_std=J_runs.std(axis=1), J_p10=np.percentile(J_runs, 10, axis=1),
        J_p90=np.percentile(J_runs, 90, axis=1), kept_with_wrong_step=wrong, n_kept=kept,
        tolerance=tol,
    )


@dataclass(frozen=True)
class FiniteSampleData:
    """The panels of figure (f)."""

    panels: tuple[FiniteSamplePanel, ...]

    def to_dict(self) -> dict:
        """Panels as plain values."""
        return {"panels": [p.to_dict() for p in self.panels]}

    def table(self) -> tuple[list[str], list[list]]:
        """Long table: one row per panel, ``K`` and ``t`` (mean, spread, exact)."""
        header = ["M", "N", "lam0", "K", "seeds", "t", "J_exact", "J_mean", "J_std", "J_p10",
                  "J_p90", "tolerance"]
        rows = []
        for p in self.panels:
            for a, K in enumerate(p.K):
                for j, t in enumerate(p.t):
                    rows.append([p.M, p.N, p.lam0, int(K), len(p.seeds), int(t), p.J_exact[j],
                                 p.J_mean[a, j], p.J_std[a, j], p.J_p10[a, j], p.J_p90[a, j],
                                 p.tolerance[a, j]])
        return header, rows


def compute(quick: bool = False) -> FiniteSampleData:
    """Two settings: ``M = 8`` (``K`` up to 16384) and the authors' ``M = 64`` (up to 4096).

    ``quick`` uses 3 seeds and fewer ``K``.
    """
    if quick:
        return FiniteSampleData((
            compute_panel(8, 0.2, (16, 4096), seeds=3, iterations=6),
            compute_panel(64, 0.2, (64, 1024), seeds=3, iterations=4),
        ))
    return FiniteSampleData((
        compute_panel(8, 0.2, (16, 256, 4096, 16384), seeds=10, iterations=6),
        compute_panel(64, 0.2, (64, 512, 4096), seeds=8, iterations=4),
    ))


def plot(data: FiniteSampleData):
    """One panel per setting: exact curve, and mean ± 10-90 % band over seeds for each K."""
    k = len(data.panels)
    fig, axes = new_figure(1, k, width=5.6 * k, height=4.3)
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, data.panels, strict=True):
        ax.plot(p.t, p.J_exact, "k-", lw=2.4, label="exact (K → ∞)", zorder=5)
        for a, K in enumerate(p.K):
            line, = ax.plot(p.t, p.J_mean[a], marker="o", ms=3, label=f"K = {K}: mean")
            ax.fill_between(p.t, p.J_p10[a], p.J_p90[a], color=line.get_color(), alpha=0.18)
        ax.set_xlabel("STaR iteration t")
        ax.set_ylabel("J(P_t) (exact return of the refitted policy)")
        ax.set_title(f"M = {p.M}, N = {p.N}, λ₀ = {p.lam0:g} in every step "
                     f"(mixing weight)\n{len(p.seeds)} seeds; bands: 10-90 % over seeds",
                     fontsize=9)
        ax.set_ylim(-0.02, 1.05)
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig
