"""Figure (f): exact STaR against finite-sample STaR (``K`` trajectories per question).

For each ``K`` the finite-sample algorithm (:func:`rlstar_theory.iterate_finite_sample`) is run
from the same symmetric start over several seeds; the figure shows the mean and the spread
(10th-90th percentile band) of the *exact* ``J`` of each refitted policy, against the exact
(infinite-sample) curve. Small ``K`` overfits: a row seen in only a few kept trajectories
becomes (nearly) deterministic, which speeds up the first iterations but can freeze wrong
transitions for good, so the mean stalls below 1.

:func:`success_rate_sigma` is the sampling error of the success rate the sampler observes, derived
from ``K`` alone (binomial counts); :func:`mean_standard_error` is the spread of the seed mean.
The report's ``finite_sample`` check turns both into z-scores bounded by :data:`Z_BOUND`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.figures.style import axes_row, integer_ticks, styled
from rlstar_theory.sampling import iterate_finite_sample
from rlstar_theory.symmetric import iterate_symmetric, symmetric_matrix

__all__ = ["Z_BOUND", "FiniteSamplePanel", "FiniteSampleData", "success_rate_sigma",
           "mean_standard_error", "compute_panel", "compute", "plot"]

#: bound on the |z-scores| of the finite-sample checks: a two-sided normal tail beyond 4 has
#: probability 6.3e-5, so about 50 such checks at fixed seeds raise a false alarm < 0.4 % of the
#: time, while a real bias of a few standard errors is caught
Z_BOUND = 4.0


def success_rate_sigma(J_runs: np.ndarray, K: int, M: int) -> np.ndarray:
    """Standard deviation bound of the seed mean of the sampled success rate, given the policies.

    With ``K`` trajectories for each of the ``M`` questions, seed ``s`` at iteration ``t``
    observes the success rate ``r_{s,t} = (1/M) sum_q B_q / K`` with independent
    ``B_q ~ Binomial(K, J_q)`` and ``mean_q J_q = J_{s,t}``, so ``E r = J`` and
    ``Var r = sum_q J_q (1 - J_q) / (M^2 K) <= J (1 - J) / (M K)`` (concavity). Over ``S``
    independent seeds

    .. math:: \\sigma_t = \\frac{1}{S}\\sqrt{\\sum_s \\frac{J_{s,t}(1 - J_{s,t})}{M K}}.

    Parameters
    ----------
    J_runs : ndarray, shape (S, T)
        Exact ``J`` of the policy each seed samples from at iterations ``0 .. T-1``.
    K : int
        Trajectories per question.
    M : int
        Questions (states per step; the start distribution is uniform).

    Returns
    -------
    ndarray, shape (T,)
    """
    J = np.clip(np.asarray(J_runs, dtype=float), 0.0, 1.0)
    return np.sqrt((J * (1.0 - J)).sum(axis=0) / (M * K)) / J.shape[0]


def mean_standard_error(J_runs: np.ndarray) -> np.ndarray:
    """Standard error of the seed mean, ``std_s(J) / sqrt(S)`` (``ddof = 1``), along axis 0.

    Parameters
    ----------
    J_runs : ndarray, shape (S, T+1)

    Returns
    -------
    ndarray, shape (T+1,)
        Zero where fewer than two seeds.
    """
    S = J_runs.shape[0]
    if S < 2:
        return np.zeros(J_runs.shape[1:])
    return J_runs.std(axis=0, ddof=1) / np.sqrt(S)


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
    success_rate : ndarray, shape (k, S, T)
        Fraction of the sampled trajectories that succeeded at each iteration.
    J_sem : ndarray, shape (k, T+1)
        :func:`mean_standard_error` of ``J`` over seeds.
    rate_sigma : ndarray, shape (k, T)
        :func:`success_rate_sigma` of each ``K``.
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
    success_rate: np.ndarray
    J_sem: np.ndarray
    rate_sigma: np.ndarray

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
    rate = np.empty((len(Ks), seeds, iterations))
    for a, K in enumerate(Ks):
        for b, seed in enumerate(seed_list):
            run = iterate_finite_sample(P0, iterations, K, rng=int(seed))
            J_runs[a, b] = run.J
            wrong[a, b] = [s.kept_with_wrong_step for s in run.steps]
            kept[a, b] = [s.n_kept for s in run.steps]
            rate[a, b] = [s.success_rate for s in run.steps]
    return FiniteSamplePanel(
        M=M, N=N, lam0=float(lam0), t=np.arange(iterations + 1), J_exact=exact,
        K=np.array(Ks), seeds=seed_list, J_runs=J_runs, J_mean=J_runs.mean(axis=1),
        J_std=J_runs.std(axis=1), J_p10=np.percentile(J_runs, 10, axis=1),
        J_p90=np.percentile(J_runs, 90, axis=1), kept_with_wrong_step=wrong, n_kept=kept,
        success_rate=rate, J_sem=np.array([mean_standard_error(J_runs[a]) for a in range(len(Ks))]),
        rate_sigma=np.array([success_rate_sigma(J_runs[a, :, :-1], K, M)
                             for a, K in enumerate(Ks)]),
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
                  "J_p90", "J_sem"]
        rows = []
        for p in self.panels:
            for a, K in enumerate(p.K):
                for j, t in enumerate(p.t):
                    rows.append([p.M, p.N, p.lam0, int(K), len(p.seeds), int(t), p.J_exact[j],
                                 p.J_mean[a, j], p.J_std[a, j], p.J_p10[a, j], p.J_p90[a, j],
                                 p.J_sem[a, j]])
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


def plot(data: FiniteSampleData, ax=None) -> np.ndarray:
    """One panel per setting: exact curve, and mean ± 10-90 % band over seeds for each K.

    Parameters
    ----------
    data : FiniteSampleData
    ax : sequence of matplotlib Axes, optional
        One per panel of ``data``; a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (len(data.panels),)
    """
    axes = axes_row(ax, len(data.panels), width=5.6, height=4.3)
    with styled():
        for a, p in zip(axes, data.panels, strict=True):
            a.plot(p.t, p.J_exact, "k-", lw=2.4, label="exact (K → ∞)", zorder=5)
            for k, K in enumerate(p.K):
                line, = a.plot(p.t, p.J_mean[k], marker="o", ms=3, label=f"K = {K}: mean")
                a.fill_between(p.t, p.J_p10[k], p.J_p90[k], color=line.get_color(), alpha=0.18)
            a.set_xlabel("STaR iteration t")
            a.set_ylabel("J(Pₜ) (exact return of the refitted policy)")
            a.set_title(f"M = {p.M}, N = {p.N}, λ₀ = {p.lam0:g} in every step "
                        f"(mixing weight)\n{len(p.seeds)} seeds; bands: 10-90 % over seeds",
                        fontsize=9)
            a.set_ylim(-0.02, 1.05)
            a.legend(loc="lower right", fontsize=7)
            integer_ticks(a)
    return axes
