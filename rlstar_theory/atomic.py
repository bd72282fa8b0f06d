"""Atomic file writes: a reader (or an interrupted run) never sees half a file.

Every file is written to a temporary file in the destination folder and then moved into place
with :func:`os.replace`; on any error the temporary file is removed. JSON goes through
:mod:`rlstar_theory.jsonable` (non-finite floats are written as ``null``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from rlstar_theory.jsonable import json_text

__all__ = ["write_bytes_atomic", "write_json_atomic"]


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or path-like
        Destination; its parent folder is created if needed.
    data : bytes

    Returns
    -------
    Path
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 1,
                      significant_digits: int | None = None) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically.

    Values go through :func:`rlstar_theory.jsonable.to_jsonable`: NaN and infinities become
    ``null``, numpy values plain numbers and lists, Fractions ``"p/q"``, and floats are rounded
    to ``significant_digits`` when given. ``indent=None`` writes compact JSON.

    Returns
    -------
    Path
        The destination path.
    """
    return write_bytes_atomic(path, json_text(obj, indent, significant_digits).encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
