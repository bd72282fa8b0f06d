"""Figure (e): the convergence rate, ``log10(1 - lam_t)`` against ``t``.

From ``1 - lam'_n = (1 - lam_n)(1 - Lam_{-n}) / (1 + (M-1) Lam)``: while ``lam`` is small,
``Lam_{-n} ~ 0`` and the error barely moves (the slow phase); near ``lam = 1`` with equal steps,
``1 - Lam_{-n} ~ (N-1) err`` and the denominator is ``~ M``, so
``err' ~ (N-1) err^2 / M`` (the quadratic phase: the number of correct digits doubles).
The right panel plots ``err_{t+1}`` against ``err_t`` on log-log axes: slope 1 in the slow
phase, slope 2 in the quadratic one, where it meets the line ``(N-1) err^2 / M``.
The package carries ``err = 1 - lam`` itself, so these values keep full relative precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.figures.style import axes_row, integer_ticks, styled
from rlstar_theory.symmetric import iterate_symmetric

__all__ = ["LAM0", "RateData", "local_order", "compute", "plot"]

#: equal starting mixing weights (theory script's convention)
LAM0: tuple[float, ...] = (0.3, 0.2, 0.1, 0.05)


def local_order(err: np.ndarray) -> np.ndarray:
    """Local order of convergence ``log(err_{t+1}) / log(err_t)`` along axis 0 (NaN where
    undefined: ``err = 0`` or ``err = 1``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_e = np.log(err)
        out = log_e[1:] / log_e[:-1]
    return np.where(np.isfinite(out) & (err[:-1] > 0) & (err[1:] > 0) & (err[:-1] < 1),
                    out, np.nan)


@dataclass(frozen=True)
class RateData:
    """Curves of figure (e).

    Attributes
    ----------
    M, N : int
    lam0 : ndarray, shape (S,)
        Equal starting weight of every step.
    t : ndarray of int, shape (T+1,)
    err : ndarray, shape (S, T+1)
        ``1 - lam_t`` (equal for every step).
    log10_err : ndarray, shape (S, T+1)
        ``log10(1 - lam_t)``; NaN once it underflows to 0.
    order : ndarray, shape (S, T)
        Local order ``log err_{t+1} / log err_t`` (tends to 2).
    quadratic_constant : ndarray, shape (S, T)
        ``err_{t+1} / err_t^2`` (tends to ``(N-1)/M``).
    """

    M: int
    N: int
    lam0: np.ndarray
    t: np.ndarray
    err: np.ndarray
    log10_err: np.ndarray
    order: np.ndarray
    quadratic_constant: np.ndarray

    def to_dict(self) -> dict:
        """All fields as plain values."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def table(self) -> tuple[list[str], list[list]]:
        """Long table: one row per (start, t)."""
        header = ["lam0", "t", "err", "log10_err", "order_next", "err_next_over_err_sq"]
        rows = []
        T = len(self.t) - 1
        for s in range(len(self.lam0)):
            for j, t in enumerate(self.t):
                nxt = (self.order[s, j], self.quadratic_constant[s, j]) if j < T else \
                    (float("nan"), float("nan"))
                rows.append([self.lam0[s], int(t), self.err[s, j], self.log10_err[s, j], *nxt])
        return header, rows


def compute(quick: bool = False, M: int = 64, N: int = 3, iterations: int = 15) -> RateData:
    """Error curves for :data:`LAM0`, all steps equal.

    Parameters
    ----------
    quick : bool
        Unused (cheap); uniform interface.
    M, N : int
    iterations : int
    """
    del quick
    lam0 = np.array(LAM0)
    run = iterate_symmetric(np.repeat(lam0[:, None], N, axis=1), M, iterations)
    err = run.err[..., 0].T  # (S, T+1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log10_err = np.where(err > 0, np.log10(np.where(err > 0, err, 1.0)), np.nan)
        quad = np.where(err[:, :-1] > 0, err[:, 1:] / err[:, :-1] ** 2, np.nan)
    quad = np.where(err[:, 1:] > 0, quad, np.nan)
    return RateData(M=M, N=N, lam0=lam0, t=np.arange(iterations + 1), err=err,
                    log10_err=log10_err, order=local_order(err.T).T,
                    quadratic_constant=quad)


def plot(data: RateData, ax=None) -> np.ndarray:
    """Left: ``log10(1 - lam_t)`` vs ``t``; right: correct digits ``-log10(1 - lam_t)`` on a
    log axis, where the quadratic phase is a straight line (digits double every iteration).

    Parameters
    ----------
    data : RateData
    ax : sequence of 2 matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    axes = axes_row(ax, 2, width=5.5, height=4.3)
    ax_t, ax_q = axes
    with styled():
        for s, lam0 in enumerate(data.lam0):
            ax_t.plot(data.t, data.log10_err[s], marker="o", label=f"λ₀ = {lam0:g}")
            ax_q.semilogy(data.t, -data.log10_err[s], marker="o", label=f"λ₀ = {lam0:g}")
        ax_t.set_ylabel("log₁₀(1 − λₜ)   (λ: mixing weight; theory script's δ)")
        ax_t.set_title(f"Error of every step, M = {data.M}, N = {data.N} equal steps")
        ax_t.legend()
        # guide: digits double every iteration, anchored on the fastest curve's last finite point
        row = data.log10_err[0]
        last = int(np.flatnonzero(np.isfinite(row))[-1])
        guide_t = np.arange(max(0, last - 5), last + 1)
        ax_q.semilogy(guide_t, -row[last] * 2.0 ** (guide_t - last), "k--", lw=1,
                      label="×2 per iteration (quadratic)")
        ax_q.set_ylabel("correct digits  −log₁₀(1 − λₜ)")
        ax_q.set_title("Slow phase (flat) then quadratic phase (digits double)")
        ax_q.legend(fontsize=7)
        for a in axes:
            a.set_xlabel("STaR iteration t")
            integer_ticks(a)
    return axes
