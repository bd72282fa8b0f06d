"""Figure (b): the paper's criteria on the pre-trained model, ``N = 3`` steps.

Four starting points, one per class of :func:`rlstar_theory.classify_start`: every step positive
(convergence), one step at ``lam = 0`` (that step moves first, the others wait one iteration),
two steps at 0 (a fixed point, ``J = 1/M`` forever) and a negative step (the other steps
degrade at first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.criteria import classify_start
from rlstar_theory.figures.style import STEP_COLORS, integer_xticks, lam_label, new_blank_figure
from rlstar_theory.symmetric import iterate_symmetric

__all__ = ["CASES", "CriteriaData", "compute", "plot"]

#: (name, lam_0 per step) for M = 8; the negative value is allowed since lam >= -1/(M-1)
CASES: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("all steps positive", (0.3, 0.2, 0.25)),
    ("one step at zero (delay)", (0.3, 0.0, 0.25)),
    ("two steps at zero (freeze)", (0.3, 0.0, 0.0)),
    ("a negative step", (0.3, 0.25, -0.1)),
)


@dataclass(frozen=True)
class CriteriaData:
    """Trajectories of figure (b).

    Attributes
    ----------
    M : int
    names : tuple of str
        Case names, in the order of the first axis.
    kinds : tuple of str
        :class:`rlstar_theory.StartClass` value of each start.
    lam0 : ndarray, shape (C, N)
    t : ndarray of int, shape (T+1,)
    lam : ndarray, shape (C, T+1, N)
    J : ndarray, shape (C, T+1)
    """

    M: int
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    lam0: np.ndarray
    t: np.ndarray
    lam: np.ndarray
    J: np.ndarray

    def to_dict(self) -> dict:
        """All fields as plain values (for the raw JSON)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def table(self) -> tuple[list[str], list[list]]:
        """Long table: one row per (case, t) with every step's ``lam`` and ``J``."""
        N = self.lam.shape[-1]
        header = ["case", "kind", "t", *[f"lam_{n + 1}" for n in range(N)], "J"]
        rows = []
        for c, name in enumerate(self.names):
            for j, t in enumerate(self.t):
                rows.append([name, self.kinds[c], int(t), *self.lam[c, j].tolist(),
                             self.J[c, j]])
        return header, rows


def compute(quick: bool = False, M: int = 8, iterations: int = 16) -> CriteriaData:
    """Run the four starting points of :data:`CASES` for ``iterations`` steps.

    Parameters
    ----------
    quick : bool
        Unused (cheap); uniform interface.
    M : int
    iterations : int
    """
    del quick
    lam0 = np.array([c[1] for c in CASES])
    run = iterate_symmetric(lam0, M, iterations)
    return CriteriaData(
        M=M,
        names=tuple(c[0] for c in CASES),
        kinds=tuple(classify_start(x, M).kind.value for x in lam0),
        lam0=lam0,
        t=np.arange(iterations + 1),
        lam=np.moveaxis(run.lam, 0, 1),
        J=run.J.T,
    )


def plot(data: CriteriaData):
    """Top row: ``lam_{t,n}`` of each step for each case; bottom: ``J`` of all cases."""
    fig = new_blank_figure(width=12, height=6.6)
    grid = fig.add_gridspec(2, len(data.names), height_ratios=[1.0, 0.8])
    N = data.lam.shape[-1]
    for c, name in enumerate(data.names):
        ax = fig.add_subplot(grid[0, c])
        for n in range(N):
            ax.plot(data.t, data.lam[c, :, n], marker="o", markersize=3,
                    color=STEP_COLORS[n], label=f"step {n + 1}",
                    linestyle=("-", "--", ":")[n % 3])
        ax.axhline(0, color="k", lw=0.6)
        start = ", ".join(f"{v:g}" for v in data.lam0[c])
        ax.set_title(f"{name}\nλ₀ = ({start})  [{data.kinds[c]}]", fontsize=8.5)
        ax.set_xlabel("STaR iteration t")
        if c == 0:
            ax.set_ylabel(lam_label("t,n"))
            ax.legend(loc="lower right")
        ax.set_ylim(min(-0.15, data.lam.min() - 0.03), 1.05)
        ax.grid(True, alpha=0.3)
        integer_xticks(ax)
    ax = fig.add_subplot(grid[1, :])
    for c, name in enumerate(data.names):
        ax.plot(data.t, data.J[c], marker="o", markersize=3, label=name)
    ax.axhline(1 / data.M, color="grey", lw=0.8, ls=":", label="1/M (random guessing)")
    ax.set_xlabel("STaR iteration t")
    ax.set_ylabel("J(P_t)")
    ax.set_title(f"Expected return, M = {data.M}, N = {N}")
    ax.legend(loc="center right")
    ax.grid(True, alpha=0.3)
    return fig
