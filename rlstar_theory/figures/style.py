"""Shared matplotlib helpers: one style, axes handling, and the labels that name the "delta"
convention.

Nothing here (nor anywhere in the package) selects a matplotlib backend or imports
``matplotlib.pyplot``: figures are plain :class:`matplotlib.figure.Figure` objects, which save to
PNG and PDF without a GUI, and a user's backend choice is left alone.

Every plot function of :mod:`rlstar_theory.figures` follows one convention: ``plot(data,
ax=None)`` draws into the given axes (a sequence of the documented length) or, when ``ax`` is
None, into a new figure laid out for it, and returns the axes as a 1-D object array;
:func:`figure_of` gives the figure back.

Every axis that shows a mixing weight or a diagonal excess uses one of the label constants
below, so the convention is always spelled out (never a bare "delta").
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rlstar_theory.conventions import delta_diag_to_lam, lam_to_delta_diag

__all__ = [
    "LAM_LABEL",
    "DELTA_DIAG_LABEL",
    "STEP_COLORS",
    "lam_label",
    "subscript",
    "styled",
    "new_figure",
    "axes_row",
    "check_axes",
    "figure_of",
    "integer_ticks",
    "add_delta_diag_axis",
]

#: label for an axis showing the mixing weight lam
LAM_LABEL = "λ (mixing weight; theory script's δ)"
#: label for an axis showing the diagonal excess delta_diag
DELTA_DIAG_LABEL = "δ_diag = (M−1)λ/M (data generator's δ)"
#: one colour per reasoning step
STEP_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")

_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
}

_SUBSCRIPTS = str.maketrans("0123456789+−-=()aehijklmnoprstuvx",
                            "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")


def subscript(text: str) -> str:
    """``text`` in Unicode subscript characters (digits, signs and most lower-case letters)."""
    return str(text).translate(_SUBSCRIPTS)


def lam_label(sub: str = "", when: str = "") -> str:
    """Mixing-weight axis label, e.g. ``lam_label("1", "t = 0")`` is
    ``"λ₁ at t = 0 (mixing weight; theory script's δ)"``."""
    at = f" at {when}" if when else ""
    return f"λ{subscript(sub)}{at} (mixing weight; theory script's δ)"


def styled() -> AbstractContextManager:
    """Context in which the package's plot style applies (``matplotlib.rc_context``)."""
    return rc_context(_RC)


def new_figure(width: float, height: float) -> Figure:
    """A new figure (constrained layout, package style), not registered with pyplot."""
    with styled():
        return Figure(figsize=(width, height), layout="constrained")


def check_axes(ax: Any, count: int) -> np.ndarray:
    """``ax`` as a 1-D object array of exactly ``count`` matplotlib axes.

    Raises
    ------
    ValueError
        If ``ax`` is not an Axes or a sequence of ``count`` Axes.
    """
    items = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).ravel())
    axes = np.empty(len(items), dtype=object)
    axes[:] = items
    if len(axes) != count or not all(isinstance(a, Axes) for a in axes):
        raise ValueError(f"ax must be None or a sequence of {count} matplotlib Axes, got "
                         f"{type(ax).__name__} of length {len(axes)}")
    return axes


def axes_row(ax: Any, count: int, width: float, height: float) -> np.ndarray:
    """The axes to draw into: ``ax`` checked (:func:`check_axes`), or a new one-row figure of
    ``count`` panels of ``width x height`` inches each."""
    if ax is not None:
        return check_axes(ax, count)
    fig = new_figure(width * count, height)
    with styled():
        made = fig.subplots(1, count, squeeze=False)[0]
    out = np.empty(count, dtype=object)
    out[:] = list(made)
    return out


def figure_of(axes: Any) -> Figure:
    """The figure holding ``axes`` (an Axes or an array/sequence of them)."""
    first = axes if isinstance(axes, Axes) else np.asarray(axes, dtype=object).ravel()[0]
    return first.figure


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    """Integer-only ticks (iteration counts) on the ``"x"`` or ``"y"`` axis."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))


def add_delta_diag_axis(ax: Axes, M: int, side: str = "right"):
    """Secondary y axis converting lam to the data generator's ``delta_diag = (M-1) lam / M``."""
    sec = ax.secondary_yaxis(side, functions=(
        partial(lam_to_delta_diag, M=M, check_range=False),
        partial(delta_diag_to_lam, M=M, check_range=False)))
    sec.set_ylabel(DELTA_DIAG_LABEL)
    return sec
