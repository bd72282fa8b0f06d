"""Atomic writing of figures (PNG + PDF) and of the raw numbers beside them (JSON + CSV).

Every file is first written to a temporary file in the destination folder and then moved into
place with :func:`os.replace`, so a reader (or an interrupted run) never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic

__all__ = ["write_bytes_atomic", "to_jsonable", "save_json", "save_csv", "save_figure"]


def to_jsonable(obj: Any) -> Any:
    """Convert numpy arrays/scalars, tuples and Fractions to plain JSON values.

    Non-finite floats become ``None`` (JSON has no NaN); Fractions become ``"p/q"`` strings.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "numerator") and hasattr(obj, "denominator"):
        return f"{obj.numerator}/{obj.denominator}"
    if hasattr(obj, "value") and isinstance(obj.value, str):  # Enum members
        return obj.value
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


def save_json(obj: Any, path: str | os.PathLike, indent: int | None = None) -> Path:
    """Write ``obj`` (after :func:`to_jsonable`) as JSON, atomically (compact by default)."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(to_jsonable(obj), indent=indent, separators=separators,
                      allow_nan=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def save_csv(header: Sequence[str], rows: Iterable[Sequence[Any]],
             path: str | os.PathLike) -> Path:
    """Write a table as CSV, atomically; floats are written with ``repr`` precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


def _cell(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return repr(float(value)) if math.isfinite(value) else ""
    if isinstance(value, np.integer):
        return int(value)
    return value


def save_figure(fig, out_dir: str | os.PathLike, stem: str, dpi: int = 130) -> list[Path]:
    """Save a matplotlib figure as ``<stem>.png`` and ``<stem>.pdf`` atomically.

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
    paths = []
    engine = fig.get_layout_engine()
    tight = engine is None
    if engine is not None:  # lay out once, then freeze the positions (each save re-lays out)
        fig.canvas.draw()
        fig.set_layout_engine("none")
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi, bbox_inches="tight" if tight else None,
                    metadata={"CreationDate": None} if ext == "pdf" else None)
        paths.append(write_bytes_atomic(out / f"{stem}.{ext}", buf.getvalue()))
    return paths
