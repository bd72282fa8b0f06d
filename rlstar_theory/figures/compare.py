"""Rules side by side: J, pass@k and maj@k against the samples drawn (one line per rule)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rlstar_theory.figures.style import check_axes, new_figure, styled
from rlstar_theory.rules.history import History

__all__ = ["metric_panels", "plot_compare"]


def metric_panels(history: History) -> list[tuple[str, str, int | None]]:
    """The panels of :func:`plot_compare`: ``(title, metric, k)`` for J, each pass@k, each maj@k.
    """
    panels: list[tuple[str, str, int | None]] = [("J (train)", "J", None)]
    panels += [(f"pass@{k}", "pass_at_k", k) for k in history.train.pass_at_k]
    panels += [(f"maj@{k}", "maj_at_k", k) for k in history.train.maj_at_k if k > 1]
    return panels


def _values(h: History, metric: str, k: int | None) -> np.ndarray:
    if metric == "J":
        return h.train.J
    return getattr(h.train, metric)[k]


def plot_compare(histories: Sequence[History], ax=None, columns: int = 4):
    """Draw every rule's metrics against cumulative samples (symmetric-log x axis).

    Parameters
    ----------
    histories : sequence of History
        One per rule, all with the same ``pass_ks`` and ``maj_ks``.
    ax : array of Axes, optional
        As many axes as :func:`metric_panels` gives; a new figure when omitted.
    columns : int
        Panels per row of a new figure.

    Returns
    -------
    ndarray of Axes
    """
    if not histories:
        raise ValueError("histories must hold at least one History")
    panels = metric_panels(histories[0])
    if ax is None:
        rows = -(-len(panels) // columns)
        fig = new_figure(3.2 * min(columns, len(panels)), 2.6 * rows)
        with styled():
            grid = fig.subplots(rows, min(columns, len(panels)), squeeze=False).ravel()
        for extra in grid[len(panels):]:
            extra.set_visible(False)
        axes = np.empty(len(panels), dtype=object)
        axes[:] = list(grid[: len(panels)])
    else:
        axes = check_axes(ax, len(panels))
    first = min(int(h.samples[1]) for h in histories if len(h.samples) > 1) \
        if any(len(h.samples) > 1 for h in histories) else 1
    with styled():
        for a, (title, metric, k) in zip(axes, panels, strict=True):
            for h in histories:
                a.plot(h.samples, _values(h, metric, k), marker=".", label=h.rule)
            a.set_xscale("symlog", linthresh=max(first, 1))
            a.set_title(title)
            a.set_xlabel("samples drawn")
            a.set_ylim(-0.02, 1.02)
        axes[0].set_ylabel("probability")
        axes[0].legend(fontsize="small")
    return axes
