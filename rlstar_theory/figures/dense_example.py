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
    DELTA_DIAG_LABEL,
    STEP_COLORS,
    integer_xticks,
    new_blank_figure,
)

__all__ = ["DenseExampleData", "random_policy", "compute", "plot"]


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


def plot(data: DenseExampleData):
    """Heatmaps of ``P_{t,n}`` (rows: steps, columns: iterations) and ``J``, ``delta_diag``."""
    cols = len(data.shown)
    fig = new_blank_figure(width=2.3 * cols + 4.2, height=2.3 * data.N + 0.8)
    grid = fig.add_gridspec(data.N, cols + 1, width_ratios=[1.0] * cols + [1.5])
    image = None
    for n in range(data.N):
        for c, t in enumerate(data.shown):
            ax = fig.add_subplot(grid[n, c])
            image = ax.imshow(data.P[t, n], vmin=0, vmax=1, cmap="magma_r")
            ax.scatter(data.truth[n], np.arange(data.M), s=60, facecolors="none",
                       edgecolors="tab:cyan", linewidths=1.2)
            ax.set_xticks(range(data.M))
            ax.set_yticks(range(data.M))
            ax.tick_params(labelsize=6)
            ax.grid(False)
            if n == 0:
                ax.set_title(f"t = {t}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"step {n + 1}\nrow: s_{n}", fontsize=8)
            ax.set_xlabel(f"column: s_{n + 1}", fontsize=7, labelpad=1)
    ax_j = fig.add_subplot(grid[: data.N // 2 + 1, cols])
    ax_j.plot(data.t, data.J, "k-o", ms=3)
    ax_j.set_ylabel("J(P_t)")
    ax_j.set_xlabel("STaR iteration t")
    ax_j.set_title("Expected return", fontsize=9)
    ax_j.set_ylim(0, 1.05)
    integer_xticks(ax_j)
    ax_d = fig.add_subplot(grid[data.N // 2 + 1:, cols])
    for n in range(data.N):
        ax_d.plot(data.t, data.delta_diag[:, n], "-o", ms=3, color=STEP_COLORS[n],
                  label=f"step {n + 1}")
    ax_d.set_ylabel(DELTA_DIAG_LABEL.replace("= (M−1)λ/M ", "\n"), fontsize=7)
    ax_d.set_xlabel("STaR iteration t")
    ax_d.legend(fontsize=7)
    integer_xticks(ax_d)
    fig.colorbar(image, ax=fig.get_axes()[: data.N * cols], shrink=0.7, pad=0.01,
                 label="P_{t,n}[s, s′]  (circle: ground truth g_n(s))")
    fig.suptitle(f"Dense engine, non-symmetric P₀ and permuted ground truth (M = {data.M}, "
                 f"N = {data.N}, seed {data.seed})", fontsize=10)
    return fig
