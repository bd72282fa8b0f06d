"""Atomic, byte-reproducible writing of figures (PNG + PDF) and of their numbers (JSON + CSV).

Every file is first written to a temporary file in the destination folder and then moved into
place with :func:`os.replace`, so a reader (or an interrupted run) never sees half a file.

The same inputs give the same bytes: figures are saved without the date and software metadata
that matplotlib writes by default (:data:`FIGURE_METADATA`), and the committed text files round
floats to :data:`COMMITTED_DIGITS` significant digits, so that last-bit differences between BLAS
builds or summation orders do not show up as changes.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic
from rlstar_theory.jsonable import json_text, round_significant, to_jsonable

__all__ = [
    "COMMITTED_DIGITS",
    "FIGURE_METADATA",
    "write_bytes_atomic",
    "round_significant",
    "to_jsonable",
    "save_json",
    "save_csv",
    "save_figure",
    "save_png",
]

#: significant digits of the floats in the committed JSON/CSV files
COMMITTED_DIGITS = 12

#: metadata written into saved figures: none that changes from run to run or between
#: matplotlib versions (``None`` removes a key matplotlib would otherwise fill in)
FIGURE_METADATA: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def save_json(obj: Any, path: str | os.PathLike, indent: int | None = None,
              significant_digits: int | None = None) -> Path:
    """Write ``obj`` (after :func:`~rlstar_theory.jsonable.to_jsonable`) as strict JSON,
    atomically (compact by default); floats optionally rounded to ``significant_digits``."""
    return write_bytes_atomic(path, json_text(obj, indent, significant_digits).encode("utf-8"))


def save_csv(header: Sequence[str], rows: Iterable[Sequence[Any]],
             path: str | os.PathLike, significant_digits: int | None = None) -> Path:
    """Write a table as CSV, atomically; floats as ``repr`` of the (optionally rounded) value,
    non-finite floats as empty cells."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_cell(v, significant_digits) for v in row])
    return write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


def _cell(value: Any, digits: int | None) -> Any:
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return repr(round_significant(value, digits)) if math.isfinite(value) else ""
    if isinstance(value, np.integer):
        return int(value)
    return value


def save_figure(fig, out_dir: str | os.PathLike, stem: str, dpi: int = 130) -> list[Path]:
    """Save a matplotlib figure as ``<stem>.png`` and ``<stem>.pdf`` atomically.

    The layout is computed once and frozen, so both files show the same layout; no date or
    software version is written into them (:data:`FIGURE_METADATA`), so the same figure gives
    the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    out_dir : str or path-like
    stem : str
        File name without extension.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    list of Path
        The PNG and PDF paths.
    """
    out = Path(out_dir)
    tight = _freeze_layout(fig)
    return [write_bytes_atomic(out / f"{stem}.{ext}", _figure_bytes(fig, ext, dpi, tight))
            for ext in ("png", "pdf")]


def save_png(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure as one PNG file, atomically and without varying metadata."""
    tight = _freeze_layout(fig)
    return write_bytes_atomic(path, _figure_bytes(fig, "png", dpi, tight))


def _freeze_layout(fig) -> bool:
    """Lay out a figure with a layout engine once and keep the positions (each save would lay
    it out again, at its own resolution); True when it has no engine (save with a tight box)."""
    if fig.get_layout_engine() is None:
        return True
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return False


def _figure_bytes(fig, ext: str, dpi: int, tight: bool) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=ext, dpi=dpi, bbox_inches="tight" if tight else None,
                metadata=FIGURE_METADATA[ext])
    return buf.getvalue()
