"""Figure (a): the authors' setting, ``M = 64``, ``N = 3`` equal steps, ``lam_0 in {0.2, 0.1}``.

Besides the package's closed form (:func:`rlstar_theory.iterate_symmetric`) this module carries
an independent re-implementation of the authors' *theory script* recurrence, which only covers
``N = 3`` equal steps::

    lam' = ((M - 2) lam^3 + lam^2 + lam) / ((M - 1) lam^3 + 1)
    J    = alpha^3 + 3 (M - 1) alpha beta^2 + (M - 1)(M - 2) beta^3

with ``alpha = 1/M + (M-1) lam/M`` the diagonal and ``beta = (1 - lam)/M`` each off-diagonal
entry. The theory script's "delta" is ``lam``; the dashed curves start from the data
generator's convention instead (``delta_diag_0 = 0.2``, i.e. ``lam_0 = 0.2032`` for ``M = 64``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.conventions import delta_diag_to_lam
from rlstar_theory.figures.style import (
    STEP_COLORS,
    add_delta_diag_axis,
    axes_row,
    integer_ticks,
    lam_label,
    styled,
)
from rlstar_theory.symmetric import iterate_symmetric

__all__ = [
    "PUBLISHED_J_LAM02",
    "PUBLISHED_TOLERANCE",
    "AuthorsData",
    "theory_script_curve",
    "compute",
    "plot",
]

#: J(P_t), t = 0..4, published by the authors for M = 64, N = 3, lam_0 = 0.2 (six decimals)
PUBLISHED_J_LAM02 = (0.023500, 0.130984, 0.869432, 0.999777, 1.000000)
#: the published values are rounded to six decimals: half a unit in the last place
PUBLISHED_TOLERANCE = 5e-7


def theory_script_curve(lam0: float, M: int, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """The authors' ``N = 3`` equal-step recurrence, re-implemented from its formulas.

    Parameters
    ----------
    lam0 : float
        Starting mixing weight (the theory script's "delta").
    M : int
        States per step.
    iterations : int
        Number of iterations ``T``.

    Returns
    -------
    lam, J : ndarray, shape (T+1,)
    """
    lam = np.empty(iterations + 1)
    J = np.empty(iterations + 1)
    x = float(lam0)
    for t in range(iterations + 1):
        alpha = 1.0 / M + (M - 1) * x / M
        beta = (1.0 - x) / M
        lam[t] = x
        J[t] = alpha**3 + 3 * (M - 1) * alpha * beta**2 + (M - 1) * (M - 2) * beta**3
        x = ((M - 2) * x**3 + x**2 + x) / ((M - 1) * x**3 + 1)
    return lam, J


@dataclass(frozen=True)
class AuthorsData:
    """Curves of figure (a).

    Attributes
    ----------
    M, N : int
    t : ndarray of int, shape (T+1,)
    lam0 : ndarray, shape (S,)
        Starting mixing weights (theory script's convention); the last ones may come from a
        ``delta_diag`` start (see ``start_convention``).
    start_convention : tuple of str, length S
        ``"lam"`` or ``"delta_diag"``: which convention the start value was given in.
    start_value : ndarray, shape (S,)
        The start value in that convention.
    lam, delta_diag, J : ndarray, shape (S, T+1)
        Package closed form (equal steps, so one column per start).
    J_theory_script, lam_theory_script : ndarray, shape (S, T+1)
        The authors' ``N = 3`` recurrence, independently implemented.
    published_J : ndarray, shape (5,)
        Published ``J`` for ``lam_0 = 0.2`` (t = 0..4).
    """

    M: int
    N: int
    t: np.ndarray
    lam0: np.ndarray
    start_convention: tuple[str, ...]
    start_value: np.ndarray
    lam: np.ndarray
    delta_diag: np.ndarray
    J: np.ndarray
    J_theory_script: np.ndarray
    lam_theory_script: np.ndarray
    published_J: np.ndarray

    def to_dict(self) -> dict:
        """All fields as plain values (for the raw JSON)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def table(self) -> tuple[list[str], list[list]]:
        """Long table: one row per (start, t)."""
        header = ["start_convention", "start_value", "lam0", "t", "lam", "delta_diag", "J",
                  "J_theory_script"]
        rows = []
        for i in range(len(self.lam0)):
            for j, t in enumerate(self.t):
                rows.append([self.start_convention[i], self.start_value[i], self.lam0[i], int(t),
                             self.lam[i, j], self.delta_diag[i, j], self.J[i, j],
                             self.J_theory_script[i, j]])
        return header, rows


def compute(quick: bool = False, M: int = 64, iterations: int = 9) -> AuthorsData:
    """Curves for ``lam_0 in {0.2, 0.1}`` and ``delta_diag_0 in {0.2, 0.1}`` (N = 3).

    Parameters
    ----------
    quick : bool
        Unused (the figure is already cheap); kept for a uniform interface.
    M : int
    iterations : int
    """
    del quick
    N = 3
    conventions = ("lam", "lam", "delta_diag", "delta_diag")
    values = np.array([0.2, 0.1, 0.2, 0.1])
    lam0 = np.array([v if c == "lam" else delta_diag_to_lam(v, M)
                     for c, v in zip(conventions, values, strict=True)])
    run = iterate_symmetric(np.repeat(lam0[:, None], N, axis=1), M, iterations)
    lam = run.lam[..., 0].T  # (S, T+1)
    script = [theory_script_curve(x, M, iterations) for x in lam0]
    return AuthorsData(
        M=M,
        N=N,
        t=np.arange(iterations + 1),
        lam0=lam0,
        start_convention=conventions,
        start_value=values,
        lam=lam,
        delta_diag=run.delta_diag[..., 0].T,
        J=run.J.T,
        J_theory_script=np.array([s[1] for s in script]),
        lam_theory_script=np.array([s[0] for s in script]),
        published_J=np.array(PUBLISHED_J_LAM02),
    )


def _start_name(conv: str, value: float, lam0: float) -> str:
    if conv == "lam":
        return f"λ₀ = {value:g}"
    return f"δ_diag,₀ = {value:g} (λ₀ = {lam0:.4f})"


def plot(data: AuthorsData, ax=None) -> np.ndarray:
    """Two panels: ``J(P_t)`` and ``lam_t`` against ``t``; published points as markers.

    Parameters
    ----------
    data : AuthorsData
    ax : sequence of 2 matplotlib Axes, optional
        Where to draw (``J`` panel, ``lam`` panel); a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    axes = axes_row(ax, 2, width=5.5, height=4.2)
    ax_j, ax_l = axes
    with styled():
        for i in range(len(data.lam0)):
            solid = data.start_convention[i] == "lam"
            color = STEP_COLORS[i % 2]
            style = "-" if solid else "--"
            name = _start_name(data.start_convention[i], data.start_value[i], data.lam0[i])
            for a, y in ((ax_j, data.J[i]), (ax_l, data.lam[i])):
                a.plot(data.t, y, style, marker="o" if solid else None, color=color, label=name)
        tp = np.arange(len(data.published_J))
        ax_j.plot(tp, data.published_J, "kx", markersize=8, mew=1.5,
                  label="published (λ₀ = 0.2)")
        ax_j.set_ylabel("J(Pₜ) = Pr(final answer correct)")
        ax_j.set_title(f"Expected return, M = {data.M}, N = {data.N} equal steps")
        ax_l.set_ylabel(lam_label("t"))
        ax_l.set_title("Mixing weight of every step")
        add_delta_diag_axis(ax_l, data.M)
        for a in axes:
            a.set_xlabel("STaR iteration t")
            a.set_ylim(-0.02, 1.05)
            a.legend(loc="lower right")
            integer_ticks(a)
    return axes
