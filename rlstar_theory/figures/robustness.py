"""Figure (c): robustness of the filtered data ``D_t`` (``M = 64``, ``N = 3``).

The data set kept at iteration ``t`` holds trajectories whose final answer is right but whose
intermediate steps may be wrong. The theory says both

* ``Pr(some step wrong | success) = 1 - prod_n p_n / J`` and
* ``Pr(step n wrong | success) = 1 - p'_n``

tend to 0. The package's :class:`rlstar_theory.SymmetricRun` gives the second directly (from
the refitted error, full relative precision) and ``Pr(all correct | success)`` for the first,
whose complement ``1 - Pr(all correct | success)`` cancels catastrophically once it is below
about ``1e-16``. This module therefore also computes ``Pr(some wrong | success)`` without any
subtraction (:func:`some_wrong_given_success`), by a three-state chain: "on the true path, no
error yet", "back on the true path after an error", "off the true path".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.ticker import LogLocator

from rlstar_theory.figures.style import STEP_COLORS, axes_row, integer_ticks, styled
from rlstar_theory.symmetric import iterate_symmetric

__all__ = ["STARTS", "RobustnessData", "some_wrong_given_success", "compute", "plot"]

#: starting mixing weights (theory script's convention), N = 3
STARTS: tuple[tuple[float, float, float], ...] = (
    (0.2, 0.2, 0.2),
    (0.1, 0.1, 0.1),
    (0.3, 0.1, 0.2),
)


def some_wrong_given_success(err: np.ndarray, M: int) -> np.ndarray:
    """``Pr(some step wrong | success)`` of the symmetric family, free of cancellation.

    Parameters
    ----------
    err : ndarray, shape (..., N)
        Errors ``1 - lam_n`` of the sampling policy, ``0 <= err_n <= 1`` (``lam_n >= 0``).
    M : int

    Returns
    -------
    ndarray, shape (...)
        ``b_N / (a_N + b_N)`` where ``a`` is the probability of being on the true path with no
        error so far, ``b`` on the true path after an error and ``w`` off it:
        ``a' = a p``, ``b' = b p + w err/M``, ``w' = (a + b)(1 - p) + w (1 - err/M)``, with
        ``1 - p = (M-1) err/M`` (a wrong state returns to the true path with probability
        ``(1 - lam)/M``). Every term is non-negative, so no precision is lost.
    """
    err = np.asarray(err, dtype=float)
    if np.any(err < 0) or np.any(err > 1):
        raise ValueError("some_wrong_given_success needs 0 <= err <= 1 (lam in [0, 1])")
    a = np.ones(err.shape[:-1])
    b = np.zeros_like(a)
    w = np.zeros_like(a)
    for n in range(err.shape[-1]):
        e = err[..., n]
        miss = (M - 1) * e / M
        a, b, w = a * (1 - miss), b * (1 - miss) + w * e / M, (a + b) * miss + w * (1 - e / M)
    with np.errstate(invalid="ignore", divide="ignore"):
        return b / (a + b)


@dataclass(frozen=True)
class RobustnessData:
    """Curves of figure (c).

    Attributes
    ----------
    M : int
    lam0 : ndarray, shape (S, N)
    t : ndarray of int, shape (T+1,)
    J : ndarray, shape (S, T+1)
    some_wrong : ndarray, shape (S, T+1)
        ``Pr(some step wrong | success)`` of ``D_t`` (sampled from ``P_t``), cancellation-free.
    some_wrong_core : ndarray, shape (S, T+1)
        ``1 - Pr(all correct | success)`` from the core's field (cancels below ~1e-16).
    step_wrong : ndarray, shape (S, T+1, N)
        ``Pr(step n wrong | success) = 1 - p'_{t,n}``.
    """

    M: int
    lam0: np.ndarray
    t: np.ndarray
    J: np.ndarray
    some_wrong: np.ndarray
    some_wrong_core: np.ndarray
    step_wrong: np.ndarray

    def to_dict(self) -> dict:
        """All fields as plain values (for the raw JSON)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def table(self) -> tuple[list[str], list[list]]:
        """Long table: one row per (start, t)."""
        N = self.lam0.shape[-1]
        header = ["lam0", "t", "J", "p_some_wrong_given_success",
                  *[f"p_step{n + 1}_wrong_given_success" for n in range(N)]]
        rows = []
        for s in range(len(self.lam0)):
            for j, t in enumerate(self.t):
                rows.append([" ".join(f"{v:g}" for v in self.lam0[s]), int(t), self.J[s, j],
                             self.some_wrong[s, j], *self.step_wrong[s, j].tolist()])
        return header, rows


def compute(quick: bool = False, M: int = 64, iterations: int = 5) -> RobustnessData:
    """Robustness curves for :data:`STARTS`.

    Parameters
    ----------
    quick : bool
        Unused (cheap); uniform interface.
    M : int
    iterations : int
    """
    del quick
    lam0 = np.array(STARTS)
    run = iterate_symmetric(lam0, M, iterations)
    some_wrong = some_wrong_given_success(run.err, M)
    return RobustnessData(
        M=M,
        lam0=lam0,
        t=np.arange(iterations + 1),
        J=run.J.T,
        some_wrong=some_wrong.T,
        some_wrong_core=(1 - run.p_all_correct_given_success).T,
        step_wrong=np.moveaxis(run.p_step_wrong_given_success, 0, 1),
    )


def _positive(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, y, np.nan)


def _start_name(lam0: np.ndarray) -> str:
    return "λ₀ = (" + ", ".join(f"{v:g}" for v in lam0) + ")"


def plot(data: RobustnessData, ax=None) -> np.ndarray:
    """Left: ``Pr(some wrong | success)`` (log scale, with a linear inset for the first
    iterations); right: ``Pr(step n wrong | success)`` of the last start, log scale.

    Parameters
    ----------
    data : RobustnessData
    ax : sequence of 2 matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    axes = axes_row(ax, 2, width=5.5, height=4.4)
    ax_a, ax_b = axes
    last = len(data.lam0) - 1
    N = data.lam0.shape[-1]
    with styled():
        inset = ax_a.inset_axes([0.1, 0.3, 0.36, 0.3])  # the empty lower left
        early = data.t <= min(3, int(data.t[-1]))
        for s in range(len(data.lam0)):
            line, = ax_a.semilogy(data.t, _positive(data.some_wrong[s]), marker="o",
                                  label=_start_name(data.lam0[s]))
            inset.plot(data.t[early], data.some_wrong[s, early], marker="o", ms=3,
                       color=line.get_color())
        ax_a.set_ylabel("Pr(some step wrong | final answer correct)")
        ax_a.set_title(f"Kept trajectories with a wrong step, M = {data.M}")
        ax_a.legend(loc="lower left")
        inset.set_ylim(0, 1)
        inset.set_title("linear scale", fontsize=7)
        inset.tick_params(labelsize=6)
        integer_ticks(inset)
        for n in range(N):
            ax_b.semilogy(data.t, _positive(data.step_wrong[last, :, n]),
                          marker=("o", "s", "^", "v", "D")[n % 5], ms=7 - 1.5 * (n % 3),
                          linestyle=("-", "--", ":")[n % 3],
                          color=STEP_COLORS[n % len(STEP_COLORS)],
                          label=f"step {n + 1} (λ₀ = {data.lam0[last, n]:g})")
        ax_b.semilogy(data.t, _positive(data.step_wrong[0, :, 0]), "k--", lw=1,
                      label=f"every step, {_start_name(data.lam0[0])}")
        ax_b.set_ylabel("Pr(step n wrong | success) = 1 − p′ₙ")
        spread = data.step_wrong[last].max(axis=-1) / data.step_wrong[last].min(axis=-1)
        ax_b.set_title(f"Per-step wrong probability, {_start_name(data.lam0[last])}\n"
                       f"largest / smallest step: {spread[0]:.2f} at t = {data.t[0]}, "
                       f"{spread[-1]:.2f} at t = {data.t[-1]}", fontsize=9)
        ax_b.legend(loc="lower left")
        for a in axes:
            a.set_xlabel("STaR iteration t (data set Dₜ sampled from Pₜ)")
            a.set_ylim(top=10.0)  # a decade above 1: the first points are not cut off
            a.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0,), numticks=12))
            integer_ticks(a)
    return axes
