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

from rlstar_theory.figures.style import STEP_COLORS, new_figure
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


def plot(data: RobustnessData):
    """Left: ``Pr(some wrong | success)``; right: ``Pr(step n wrong | success)`` (log scale)."""
    fig, (ax_a, ax_b) = new_figure(1, 2, width=11, height=4.2)
    for s in range(len(data.lam0)):
        name = "λ₀ = (" + ", ".join(f"{v:g}" for v in data.lam0[s]) + ")"
        ax_a.semilogy(data.t, _positive(data.some_wrong[s]), marker="o", label=name)
    ax_a.set_xlabel("STaR iteration t (data set D_t sampled from P_t)")
    ax_a.set_ylabel("Pr(some step wrong | final answer correct)")
    ax_a.set_title(f"Kept trajectories with a wrong step, M = {data.M}")
    ax_a.legend()
    last = len(data.lam0) - 1
    N = data.lam0.shape[-1]
    for n in range(N):
        ax_b.semilogy(data.t, _positive(data.step_wrong[last, :, n]),
                      marker=("o", "s", "^", "v", "D")[n % 5], ms=7 - 1.5 * n,
                      linestyle=("-", "--", ":")[n % 3], color=STEP_COLORS[n],
                      label=f"step {n + 1} (λ₀,{n + 1} = {data.lam0[last, n]:g})")
    ax_b.semilogy(data.t, _positive(data.step_wrong[0, :, 0]), "k--", lw=1,
                  label="any step, λ₀ = (0.2, 0.2, 0.2)")
    ax_b.set_xlabel("STaR iteration t (data set D_t sampled from P_t)")
    ax_b.set_ylabel("Pr(step n wrong | success) = 1 − p′_n")
    ax_b.set_title("Per-step wrong probability in D_t (the steps coincide)")
    for ax in (ax_a, ax_b):
        ax.set_ylim(top=2.0)
    ax_b.legend()
    fig.tight_layout()
    return fig
