"""Shared matplotlib helpers: the Agg backend, one style, and the axis labels that name the
"delta" convention.

Every axis that shows a mixing weight or a diagonal excess uses one of the label constants
below, so the convention is always spelled out (never a bare "delta").
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

__all__ = [
    "LAM_LABEL",
    "DELTA_DIAG_LABEL",
    "lam_label",
    "new_figure",
    "new_blank_figure",
    "add_delta_diag_axis",
    "close",
    "integer_xticks",
    "STEP_COLORS",
]

#: label for an axis showing the mixing weight lam
LAM_LABEL = "λ (mixing weight; theory script's δ)"
#: label for an axis showing the diagonal excess delta_diag
DELTA_DIAG_LABEL = "δ_diag = (M−1)λ/M (data generator's δ)"
#: one colour per reasoning step
STEP_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")

_RC = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
}


def lam_label(sub: str = "") -> str:
    """Mixing-weight axis label with a subscript, e.g. ``lam_label("t,n")``."""
    return f"λ{('_' + sub) if sub else ''} (mixing weight; theory script's δ)"


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 4.0,
               **kwargs):
    """A figure and axes with the package style applied (``plt.subplots`` arguments)."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
    for ax in fig.get_axes():
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
    return fig, axes


def new_blank_figure(width: float, height: float):
    """An empty figure with constrained layout, for hand-made grids of axes."""
    with plt.rc_context(_RC):
        return plt.figure(figsize=(width, height), layout="constrained")


def add_delta_diag_axis(ax, M: int, side: str = "right"):
    """Secondary y axis converting lam to the data generator's ``delta_diag = (M-1) lam / M``."""
    sec = ax.secondary_yaxis(side, functions=(lambda lam: lam * (M - 1) / M,
                                              lambda dd: dd * M / (M - 1)))
    sec.set_ylabel(DELTA_DIAG_LABEL)
    return sec


def integer_xticks(ax) -> None:
    """Integer-only ticks on the x axis (iteration counts)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def close(fig) -> None:
    """Release a figure's memory (pyplot keeps a reference otherwise)."""
    plt.close(fig)
