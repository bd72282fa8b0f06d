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
from rlstar_theory.figures.style import (
    STEP_COLORS,
    check_axes,
    integer_ticks,
    lam_label,
    new_figure,
    styled,
)
from rlstar_theory.symmetric import iterate_symmetric

__all__ = ["CASES", "CriteriaData", "compute", "new_axes", "plot"]

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


def new_axes(data: CriteriaData) -> np.ndarray:
    """A new figure laid out for :func:`plot`: one panel per case on top, ``J`` below."""
    C = len(data.names)
    fig = new_figure(width=12, height=6.6)
    grid = fig.add_gridspec(2, C, height_ratios=[1.0, 0.8])
    axes = np.empty(C + 1, dtype=object)
    with styled():
        axes[:C] = [fig.add_subplot(grid[0, c]) for c in range(C)]
        axes[C] = fig.add_subplot(grid[1, :])
    return axes


def plot(data: CriteriaData, ax=None) -> np.ndarray:
    """Top row: ``lam_{t,n}`` of each step for each case; bottom: ``J`` of all cases.

    Parameters
    ----------
    data : CriteriaData
    ax : sequence of C + 1 matplotlib Axes, optional
        One per case (``C = len(data.names)``), then the ``J`` panel; :func:`new_axes` when
        None.

    Returns
    -------
    ndarray of Axes, shape (C + 1,)
    """
    C = len(data.names)
    axes = new_axes(data) if ax is None else check_axes(ax, C + 1)
    N = data.lam.shape[-1]
    with styled():
        for c, name in enumerate(data.names):
            a = axes[c]
            for n in range(N):
                a.plot(data.t, data.lam[c, :, n], marker="o", markersize=3,
                       color=STEP_COLORS[n % len(STEP_COLORS)], label=f"step {n + 1}",
                       linestyle=("-", "--", ":")[n % 3])
            a.axhline(0, color="k", lw=0.6)
            start = ", ".join(f"{v:g}" for v in data.lam0[c])
            a.set_title(f"{name}\nλ₀ = ({start})  [{data.kinds[c]}]", fontsize=8.5)
            a.set_xlabel("STaR iteration t")
            if c == 0:
                a.set_ylabel(lam_label("t,n"))
                a.legend(loc="lower right")
            a.set_ylim(min(-0.15, data.lam.min() - 0.03), 1.05)
            integer_ticks(a)
        a = axes[C]
        for c, name in enumerate(data.names):
            a.plot(data.t, data.J[c], marker="o", markersize=3, label=name)
        a.axhline(1 / data.M, color="grey", lw=0.8, ls=":", label="1/M (random guessing)")
        a.set_xlabel("STaR iteration t")
        a.set_ylabel("J(Pₜ)")
        a.set_title(f"Expected return, M = {data.M}, N = {N}")
        a.legend(loc="center right")
        integer_ticks(a)
    return axes
