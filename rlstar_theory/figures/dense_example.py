"""Figure (g): a non-symmetric example through the dense engine.

``M = 6`` states, ``N = 3`` steps, ground-truth maps ``g_n`` that are random permutations (not
the identity) and a pre-trained policy that is a random row-stochastic matrix (Dirichlet rows)
mixed with a little of the ground truth: ``P_{0,n} = (1 - w) R_n + w G_n``. Nothing here is in
the paper's symmetric family. The heatmaps show ``P_{t,n}[s, s']`` over iterations, with the
ground-truth entry of every row circled; the dense engine (:func:`rlstar_theory.iterate_dense`)
drives every row onto it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.dense import iterate_dense
from rlstar_theory.figures.style import (
    STEP_COLORS,
    check_axes,
    figure_of,
    integer_ticks,
    new_figure,
    styled,
)

__all__ = ["DenseExampleData", "random_policy", "compute", "new_axes", "plot"]


def random_policy(M: int, N: int, truth: np.ndarray, weight: float,
                  rng: np.random.Generator) -> np.ndarray:
    """``(1 - weight) * Dirichlet(1) rows + weight * one-hot ground truth``, shape (N, M, M)."""
    R = rng.dirichlet(np.ones(M), size=(N, M))
    G = np.zeros((N, M, M))
    for n in range(N):
        G[n, np.arange(M), truth[n]] = 1.0
    return (1 - weight) * R + weight * G


@dataclass(frozen=True)
class DenseExampleData:
    """Data of figure (g).

    Attributes
    ----------
    M, N : int
    seed : int
    weight : float
        Weight of the ground truth in the pre-trained policy.
    truth : ndarray of int, shape (N, M)
    t : ndarray of int, shape (T+1,)
    P : ndarray, shape (T+1, N, M, M)
    J : ndarray, shape (T+1,)
    delta_diag : ndarray, shape (T+1, N)
        Mean excess of the ground-truth entry over ``1/M`` (data generator's convention,
        generalised: ``mean_s P_n[s, g_n(s)] - 1/M``).
    shown : tuple of int
        The iterations drawn as heatmaps.
    """

    M: int
    N: int
    seed: int
    weight: float
    truth: np.ndarray
    t: np.ndarray
    P: np.ndarray
    J: np.ndarray
    delta_diag: np.ndarray
    shown: tuple[int, ...]

    def to_dict(self) -> dict:
        """All fields as plain values."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def table(self) -> tuple[list[str], list[list]]:
        """Long table: one row per (t, n, s, s')."""
        header = ["t", "step", "s", "s_next", "P", "is_truth"]
        rows = []
        for t in self.t:
            for n in range(self.N):
                for s in range(self.M):
                    for s2 in range(self.M):
                        rows.append([int(t), n + 1, s, s2, self.P[t, n, s, s2],
                                     int(self.truth[n, s] == s2)])
        return header, rows


def compute(quick: bool = False, M: int = 6, N: int = 3, iterations: int = 8,
            weight: float = 0.25, seed: int = 3) -> DenseExampleData:
    """Iterate the dense engine from a random non-symmetric policy.

    Parameters
    ----------
    quick : bool
        Unused (cheap); uniform interface.
    M, N, iterations : int
    weight : float
        Weight of the ground truth in ``P_0``.
    seed : int
    """
    del quick
    rng = np.random.default_rng(seed)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    P0 = random_policy(M, N, truth, weight, rng)
    run = iterate_dense(P0, iterations, truth=truth)
    shown = tuple(sorted({0, 1, 3, 5, iterations}))
    return DenseExampleData(M=M, N=N, seed=seed, weight=weight, truth=truth,
                            t=np.arange(iterations + 1), P=run.P, J=run.J,
                            delta_diag=run.delta_diag, shown=shown)


def new_axes(data: DenseExampleData) -> np.ndarray:
    """A new figure laid out for :func:`plot`: a grid of heatmaps (rows: steps, columns: the
    iterations in ``data.shown``), then the ``J`` panel and the ``delta_diag`` panel."""
    cols = len(data.shown)
    fig = new_figure(width=2.3 * cols + 4.2, height=2.3 * data.N + 0.8)
    grid = fig.add_gridspec(data.N, cols + 1, width_ratios=[1.0] * cols + [1.5])
    with styled():
        heat = [fig.add_subplot(grid[n, c]) for n in range(data.N) for c in range(cols)]
        side = [fig.add_subplot(grid[: data.N // 2 + 1, cols]),
                fig.add_subplot(grid[data.N // 2 + 1:, cols])]
    axes = np.empty(len(heat) + 2, dtype=object)
    axes[:] = heat + side
    return axes


def plot(data: DenseExampleData, ax=None) -> np.ndarray:
    """Heatmaps of ``P_{t,n}`` (rows: steps, columns: iterations), then ``J`` and ``delta_diag``.

    Parameters
    ----------
    data : DenseExampleData
    ax : sequence of N * len(shown) + 2 matplotlib Axes, optional
        The heatmaps row by row (step 1 at ``shown[0]``, ``shown[1]``, ...), then the ``J``
        panel and the ``delta_diag`` panel; :func:`new_axes` when None.

    Returns
    -------
    ndarray of Axes, shape (N * len(shown) + 2,)
    """
    cols = len(data.shown)
    axes = new_axes(data) if ax is None else check_axes(ax, data.N * cols + 2)
    image = None
    with styled():
        for n in range(data.N):
            for c, t in enumerate(data.shown):
                a = axes[n * cols + c]
                image = a.imshow(data.P[t, n], vmin=0, vmax=1, cmap="magma_r")
                a.scatter(data.truth[n], np.arange(data.M), s=60, facecolors="none",
                          edgecolors="tab:cyan", linewidths=1.2)
                a.set_xticks(range(data.M))
                a.set_yticks(range(data.M))
                a.tick_params(labelsize=6)
                a.grid(False)
                if n == 0:
                    a.set_title(f"t = {t}", fontsize=9)
                if c == 0:
                    a.set_ylabel(f"step {n + 1}\nrow: $s_{{{n}}}$", fontsize=8)
                a.set_xlabel(f"column: $s_{{{n + 1}}}$", fontsize=7, labelpad=1)
        ax_j, ax_d = axes[-2], axes[-1]
        ax_j.plot(data.t, data.J, "k-o", ms=3)
        ax_j.set_ylabel("$J(P_t)$")
        ax_j.set_title("Expected return", fontsize=9)
        ax_j.set_ylim(0, 1.05)
        for n in range(data.N):
            ax_d.plot(data.t, data.delta_diag[:, n], "-o", ms=3,
                      color=STEP_COLORS[n % len(STEP_COLORS)], label=f"step {n + 1}")
        ax_d.set_ylabel("mean $P_{t,n}[s, g_n(s)] - 1/M$\n(δ_diag, data generator's δ)",
                        fontsize=7)
        ax_d.legend(fontsize=7)
        for a in (ax_j, ax_d):
            a.set_xlabel("STaR iteration t")
            integer_ticks(a)
        fig = figure_of(axes)
        fig.colorbar(image, ax=list(axes[: data.N * cols]), shrink=0.7, pad=0.01,
                     label="$P_{t,n}[s, s']$  (circle: ground truth $g_n(s)$)")
        if ax is None:  # a figure of its own: give it a title
            fig.suptitle(f"Dense engine, non-symmetric P₀ and permuted ground truth "
                         f"(M = {data.M}, N = {data.N}, seed {data.seed})", fontsize=10)
    return axes
