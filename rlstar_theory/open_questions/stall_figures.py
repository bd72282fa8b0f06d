"""Figures of Q3's stall sweep: the phase diagram with fitted boundaries, and the data collapse.

Like every plot function of the package they draw into new figures that are not registered with
pyplot and return the axes (``axes.flat[0].figure`` is the figure).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rlstar_theory.figures.style import new_figure, styled
from rlstar_theory.open_questions.stall_boundary import LAWS, StallBoundary, StallTable

__all__ = ["plot_stall_collapse", "plot_stall_phase"]

_LAW_STYLES = ({"color": "white", "ls": "--"}, {"color": "tab:red", "ls": "-"},
               {"color": "tab:orange", "ls": ":"})


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    v = np.log(values) if log else np.asarray(values, dtype=float)
    mid = (v[1:] + v[:-1]) / 2
    first, last = v[0] - (mid[0] - v[0]), v[-1] + (v[-1] - mid[-1])
    edges = np.concatenate([[first], mid, [last]])
    return np.exp(edges) if log else edges


def plot_stall_phase(ds, boundaries: Sequence[StallBoundary] = (), variable: str = "stalled"):
    """Stall fraction over ``(lam0, K)`` for every ``(N, M)`` of a stall sweep, with the 50%
    contour of each fitted law ``K = c / x(lam0, M, N)`` drawn on top.

    Parameters
    ----------
    ds : xarray.Dataset
        Stall sweep results (dimensions ``M, N, lam0, K``; variables ``runs`` and counts).
    boundaries : sequence of StallBoundary
        Fitted laws to draw (at most three).
    variable : str
        The event counted (``stalled``, ``lost_gold`` or ``question_without_success``).

    Returns
    -------
    ndarray of Axes, shape (len(N), len(M))
    """
    if variable not in ds.data_vars:
        raise ValueError(f"variable must be one of {sorted(ds.data_vars)}, got {variable!r}")
    frac = (ds[variable] / ds["runs"]).transpose("N", "M", "lam0", "K")
    Ms, Ns = ds["M"].values, ds["N"].values
    lam0, K = ds["lam0"].values.astype(float), ds["K"].values.astype(float)
    lam_line = np.linspace(lam0[0], lam0[-1], 200)
    fig = new_figure(3.2 * len(Ms) + 0.8, 2.6 * len(Ns))
    with styled():
        axes = fig.subplots(len(Ns), len(Ms), squeeze=False, sharex=True, sharey=True)
        for r, N in enumerate(Ns):
            for c, M in enumerate(Ms):
                ax = axes[r, c]
                mesh = ax.pcolormesh(_edges(lam0, False), _edges(K, True),
                                     frac.sel(N=N, M=M).values.T, vmin=0, vmax=1,
                                     cmap="viridis", shading="flat")
                for b, style in zip(boundaries, _LAW_STYLES, strict=False):
                    with np.errstate(divide="ignore"):
                        ax.plot(lam_line, b.k50(lam_line, M, N), lw=1.4,
                                label=f"{b.law} = {b.constant:.3g}", **style)
                ax.set_yscale("log", base=2)
                ax.set_ylim(K[0] / 1.5, K[-1] * 1.5)
                ax.set_title(f"M = {M}, N = {N}")
                ax.grid(False)
                if r == len(Ns) - 1:
                    ax.set_xlabel("λ₀")
                if c == 0:
                    ax.set_ylabel("K (samples per question)")
        if boundaries:
            axes[0, 0].legend(loc="upper right", fontsize=7, framealpha=0.8)
        runs = int(ds["runs"].min())
        fig.colorbar(mesh, ax=axes, label=f"P({variable}) ({runs} runs per cell)")
    return axes


def plot_stall_collapse(train: StallTable, boundaries: Sequence[StallBoundary],
                        heldout: StallTable | None = None):
    """Stall fraction against ``K x`` for each law: every slice ``(M, N, lam0)`` of the training
    cells (filled) and of the held-out cells (open), with the fitted logistic curve.

    Returns
    -------
    ndarray of Axes, shape (len(boundaries),)
    """
    if not boundaries:
        raise ValueError("boundaries must hold at least one fitted StallBoundary")
    fig = new_figure(3.6 * len(boundaries), 3.2)
    markers = {2: "o", 3: "s", 4: "^", 5: "D"}
    colors = {}
    with styled():
        axes = fig.subplots(1, len(boundaries), squeeze=False)[0]
        for ax, b in zip(axes, boundaries, strict=True):
            law = LAWS[b.law]
            for table, filled in ((train, True), (heldout, False)):
                if table is None:
                    continue
                for M in np.unique(table.M):
                    for N in np.unique(table.N):
                        sel = (table.M == M) & (table.N == N)
                        if not sel.any():
                            continue
                        color = colors.setdefault(int(M), f"C{len(colors)}")
                        xs = table.K[sel] * law(table.lam0[sel], M, N)
                        ax.scatter(xs, table.fraction[sel], s=9, marker=markers.get(int(N), "x"),
                                   facecolors=color if filled else "none", edgecolors=color,
                                   linewidths=0.7, alpha=0.8,
                                   label=f"M={M}, N={N}" + ("" if filled else " (held out)"))
            grid = np.geomspace(b.constant / 1e3, b.constant * 1e3, 300)
            ax.plot(grid, 1 / (1 + np.exp(-b.slope * np.log(grid / b.constant))), color="k",
                    lw=1.2)
            ax.axvline(b.constant, color="k", lw=0.6, ls=":")
            ax.set_xscale("log")
            ax.set_xlabel(b.law.replace("*", "·"))
            ax.set_title(f"c = {b.constant:.3g} [{b.interval[0]:.3g}, {b.interval[1]:.3g}]; "
                         f"dispersion {b.pearson_dispersion:.3g}", fontsize=8)
        axes[0].set_ylabel("P(stall)")
        axes[-1].legend(fontsize=6, ncol=2, loc="lower left")
    return axes
