"""Figure (d): phase diagram of iterations to reach ``J >= 0.99`` over starting points.

Panels: ``N = 2`` over the whole allowed square ``[-1/(M-1), 1]^2`` for ``M = 4`` (where the
negative range is wide enough to see), ``N = 2`` for ``M = 64`` zoomed near the origin, and an
``N = 3`` slice (``lam_3`` fixed) for ``M = 4``. Grids always contain ``lam = 0`` exactly, so
the frozen start (two steps at 0) is a grid point. ``-1`` marks "not reached within
``max_iterations``"; the limit ``J`` reached there is recorded too (starts with enough negative
weight are drawn to the all-wrong corner ``lam = -1/(M-1)`` instead of to the ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from rlstar_theory.criteria import iterations_to_reach
from rlstar_theory.figures.style import axes_row, figure_of, lam_label, styled, subscript
from rlstar_theory.symmetric import symmetric_star_step

__all__ = ["PhasePanel", "PhaseData", "start_grid", "compute_panel", "compute", "plot"]


def start_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """About ``n`` sorted points from ``lo`` to ``hi`` that contain ``0`` exactly (if inside).

    The points are spread uniformly on each side of zero, in proportion to its length.
    """
    if not lo < hi:
        raise ValueError(f"need lo < hi, got {lo}, {hi}")
    if lo >= 0 or hi <= 0:
        return np.linspace(lo, hi, n)
    k = max(2, int(round(n * (-lo) / (hi - lo))) + 1)
    return np.unique(np.concatenate([np.linspace(lo, 0.0, k), np.linspace(0.0, hi, n - k + 2)]))


@dataclass(frozen=True)
class PhasePanel:
    """One panel: iterations over a grid of ``(lam_1, lam_2)`` starts.

    Attributes
    ----------
    M, N : int
    title : str
    lam1, lam2 : ndarray, shape (A,), (B,)
        Grid axes (mixing weights, theory script's convention).
    fixed : tuple of float
        Values of ``lam_3..lam_N`` (empty for ``N = 2``).
    iterations : ndarray of int, shape (A, B)
        First ``t`` with ``J(P_t) >= 1 - epsilon``; ``-1`` if never within ``max_iterations``.
    J_limit : ndarray, shape (A, B)
        ``J`` after ``limit_iterations`` iterations.
    epsilon : float
    max_iterations, limit_iterations : int
    """

    M: int
    N: int
    title: str
    lam1: np.ndarray
    lam2: np.ndarray
    fixed: tuple[float, ...]
    iterations: np.ndarray
    J_limit: np.ndarray
    epsilon: float
    max_iterations: int
    limit_iterations: int

    def to_dict(self) -> dict:
        """All fields as plain values."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def compute_panel(M: int, lam1: np.ndarray, lam2: np.ndarray, fixed: tuple[float, ...] = (),
                  epsilon: float = 0.01, max_iterations: int = 100,
                  limit_iterations: int = 100, title: str = "") -> PhasePanel:
    """Iterations to reach ``J >= 1 - epsilon`` over the grid ``lam1 x lam2`` (+ ``fixed``)."""
    L1, L2 = np.meshgrid(lam1, lam2, indexing="ij")
    cols = [L1, L2] + [np.full_like(L1, v) for v in fixed]
    lam0 = np.stack(cols, axis=-1)
    its = iterations_to_reach(lam0, M, epsilon, max_iterations)
    lam = lam0
    for _ in range(limit_iterations):
        lam = symmetric_star_step(lam, M)
    J_limit = (1.0 + (M - 1) * np.prod(lam, axis=-1)) / M
    return PhasePanel(M=M, N=lam0.shape[-1], title=title, lam1=np.asarray(lam1),
                      lam2=np.asarray(lam2), fixed=tuple(fixed), iterations=its,
                      J_limit=J_limit, epsilon=epsilon, max_iterations=max_iterations,
                      limit_iterations=limit_iterations)


@dataclass(frozen=True)
class PhaseData:
    """The panels of figure (d)."""

    panels: tuple[PhasePanel, ...]

    def to_dict(self) -> dict:
        """Panels as plain values."""
        return {"panels": [p.to_dict() for p in self.panels]}

    def table(self) -> None:
        """No CSV: the grids are large; the JSON holds every panel's axes and values."""
        return None


def compute(quick: bool = False) -> PhaseData:
    """The three panels; ``quick`` uses coarse grids (about 31 points per axis)."""
    n = 31 if quick else 121
    limit = 60 if quick else 100
    its = {"max_iterations": limit, "limit_iterations": limit}
    wide = start_grid(-1 / 3, 1.0, n)
    near = start_grid(-1 / 63, 0.15, n)
    panels = (
        compute_panel(4, wide, wide, title="N = 2, M = 4: whole range λ ∈ [−1/3, 1]", **its),
        compute_panel(64, near, near, title="N = 2, M = 64: near the origin", **its),
        compute_panel(4, wide, wide, fixed=(0.5,), title="N = 3, M = 4: slice λ₃ = 0.5 at t = 0",
                      **its),
    )
    return PhaseData(panels)


_BOUNDS = np.array([0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 101])


def _edges(x: np.ndarray) -> np.ndarray:
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def plot(data: PhaseData, ax=None) -> np.ndarray:
    """One heatmap per panel (iterations until ``J >= 1 - epsilon``), a shared colour bar;
    grey cells never reach the target.

    Parameters
    ----------
    data : PhaseData
    ax : sequence of matplotlib Axes, optional
        One per panel of ``data`` (the colour bar is added to their figure); a new figure
        when None.

    Returns
    -------
    ndarray of Axes, shape (len(data.panels),)
    """
    axes = axes_row(ax, len(data.panels), width=5.2, height=4.6)
    base = colormaps["viridis_r"]
    cmap = ListedColormap(base(np.linspace(0, 1, len(_BOUNDS) - 1))).with_extremes(bad="0.75")
    norm = BoundaryNorm(_BOUNDS, cmap.N)
    mesh = None
    targets = {1 - p.epsilon for p in data.panels}
    target = f"{targets.pop():g}" if len(targets) == 1 else "1 − ε"
    with styled():
        for a, p in zip(axes, data.panels, strict=True):
            z = np.ma.masked_less(p.iterations.T.astype(float), 0)
            mesh = a.pcolormesh(_edges(p.lam1), _edges(p.lam2), z, cmap=cmap, norm=norm,
                                shading="flat", rasterized=True)
            a.axhline(0, color="k", lw=0.6)
            a.axvline(0, color="k", lw=0.6)
            a.plot([0], [0], "r*", ms=9, label="λ₁ = λ₂ = 0: two steps at zero (frozen)")
            a.set_xlabel(lam_label("1", "t = 0"))
            a.set_ylabel(lam_label("2", "t = 0"))
            a.set_title(p.title, fontsize=9)
            a.grid(False)
            never = Patch(color="0.75",
                          label=f"J ≥ {1 - p.epsilon:g} not reached in {p.max_iterations} "
                                "iterations")
            a.legend(handles=[never, *a.get_legend_handles_labels()[0]], loc="upper right",
                     fontsize=7)
        cbar = figure_of(axes).colorbar(mesh, ax=list(axes), shrink=0.9, pad=0.02)
        cbar.set_label(f"iterations t until J(P{subscript('t')}) ≥ {target}")
    return axes
