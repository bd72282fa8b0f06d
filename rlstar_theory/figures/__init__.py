"""The figures of ``rlstar reproduce``: one module per figure family.

Each module exposes ``compute(quick=False)`` returning a frozen dataclass of plain arrays (with
``to_dict()`` for the raw JSON and ``table()`` for the CSV) and ``plot(data, ax=None)``, which
draws into the given axes (or a new :class:`matplotlib.figure.Figure`) and returns the axes;
computing never plots and plotting never computes. No module selects a matplotlib backend.
:func:`make_figure` runs both and writes ``<stem>.png``, ``<stem>.pdf``, ``<stem>.json`` (all
the data) and, for the figures whose data are a small table, ``<stem>.csv``, atomically and
byte-reproducibly (fixed figure metadata, floats rounded to
:data:`rlstar_theory.figures.io.COMMITTED_DIGITS` significant digits).

======  =================  ====================================================================
key     module             content
======  =================  ====================================================================
a       ``authors``        J and lam against t, the authors' setting M = 64, lam_0 in {0.2, 0.1}
b       ``criteria``       pre-trained criteria: all positive / one zero / two zeros / negative
c       ``robustness``     Pr(some wrong step | success) and per-step wrong probability
d       ``phase``          iterations to reach J >= 0.99 over (lam_1, lam_2) starts
e       ``rate``           log(1 - lam_t): slow phase, then quadratic phase
f       ``finite_sample``  exact vs finite-sample STaR over seeds, several K
g       ``dense_example``  non-symmetric example through the dense engine (heatmaps)
======  =================  ====================================================================
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlstar_theory.figures import io
from rlstar_theory.figures.style import figure_of

__all__ = ["FigureSpec", "FigureOutput", "FIGURES", "figure_spec", "make_figure"]

#: PNG resolution of the full and the quick run
FULL_DPI, QUICK_DPI = 130, 60


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the reproduction.

    Attributes
    ----------
    key : str
        Letter of the figure in issue 3 (``"a"`` ... ``"g"``).
    stem : str
        Output file name without extension.
    module : str
        Module inside :mod:`rlstar_theory.figures` with ``compute`` and ``plot``.
    title : str
        One-line description.
    """

    key: str
    stem: str
    module: str
    title: str


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("a", "fig_a_authors_setting", "authors",
               "J(P_t) and lam_t, authors' setting M = 64, N = 3, lam_0 in {0.2, 0.1}"),
    FigureSpec("b", "fig_b_pretrained_criteria", "criteria",
               "pre-trained criteria: all positive, one zero (delay), two zeros (freeze), "
               "negative"),
    FigureSpec("c", "fig_c_robustness", "robustness",
               "robustness: wrong steps in the kept data D_t"),
    FigureSpec("d", "fig_d_phase_diagram", "phase",
               "phase diagram: iterations to reach J >= 0.99"),
    FigureSpec("e", "fig_e_convergence_rate", "rate",
               "convergence rate: slow phase then quadratic phase"),
    FigureSpec("f", "fig_f_finite_sample", "finite_sample",
               "exact vs finite-sample STaR (K trajectories per question)"),
    FigureSpec("g", "fig_g_dense_example", "dense_example",
               "non-symmetric example through the dense engine"),
)


def figure_spec(key: str) -> FigureSpec:
    """The :class:`FigureSpec` with this key (``ValueError`` if unknown)."""
    for spec in FIGURES:
        if spec.key == key:
            return spec
    raise ValueError(f"unknown figure {key!r}; known: {', '.join(s.key for s in FIGURES)}")


@dataclass(frozen=True)
class FigureOutput:
    """What :func:`make_figure` produced.

    Attributes
    ----------
    spec : FigureSpec
    data : object
        The figure's data (a frozen dataclass of the module).
    files : tuple of Path
        PNG, PDF, JSON and (where the data are a small table) CSV paths.
    seconds : float
        Wall time of computing, plotting and writing (reported in ``timings.json``, never in
        the committed files).
    """

    spec: FigureSpec
    data: Any
    files: tuple[Path, ...]
    seconds: float


def make_figure(spec: FigureSpec, out_dir: str | Path, quick: bool = False) -> FigureOutput:
    """Compute, plot and write one figure with its raw numbers.

    Parameters
    ----------
    spec : FigureSpec
    out_dir : str or Path
        Destination folder (created if needed).
    quick : bool
        Reduced grids and a low-resolution PNG (for tests).

    Returns
    -------
    FigureOutput
    """
    start = time.perf_counter()
    module = importlib.import_module(f"{__name__}.{spec.module}")
    data = module.compute(quick=quick)
    fig = figure_of(module.plot(data))
    files = io.save_figure(fig, out_dir, spec.stem, dpi=QUICK_DPI if quick else FULL_DPI)
    meta = {"figure": spec.key, "title": spec.title, "quick": quick,
            "conventions": {
                "lam": "mixing weight of P(lam) = lam I + (1-lam)/M 11^T (theory script's delta)",
                "delta_diag": "diagonal excess (M-1) lam / M (data generator's delta)"},
            "data": data.to_dict()}
    digits = io.COMMITTED_DIGITS
    files.append(io.save_json(meta, Path(out_dir) / f"{spec.stem}.json",
                              significant_digits=digits))
    table = data.table() if hasattr(data, "table") else None
    if table is not None:
        files.append(io.save_csv(*table, Path(out_dir) / f"{spec.stem}.csv",
                                 significant_digits=digits))
    return FigureOutput(spec, data, tuple(files), time.perf_counter() - start)
