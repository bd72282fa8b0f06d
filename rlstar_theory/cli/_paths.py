"""Output-folder checks shared by every command (and the APIs that write run folders).

:func:`check_out_dir` runs before any work starts, so a bad ``--out`` gives one line and exit
status 2 instead of a traceback after minutes of computing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["check_out_dir"]


def check_out_dir(path: str | os.PathLike | None, name: str = "--out") -> Path:
    """The output folder ``path``, checked to be a folder this process can write into.

    The folder itself need not exist yet (it is not created here): then its nearest existing
    ancestor must be a folder that accepts a new file. Writability is probed by creating and
    removing a temporary file, which also catches read-only file systems and, unlike
    :func:`os.access`, does not pass everything for the root user.

    Parameters
    ----------
    path : str or path-like
        The folder.
    name : str
        How the message names it (``"--out"`` on the command line, ``"out"`` in the API).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        Empty path; ``path`` or an ancestor exists and is not a folder; the folder (or the
        ancestor it would be created in) does not accept new files.
    """
    if path is None or not str(os.fspath(path)).strip():
        raise ValueError(f"{name} must name a folder, got {path!r}")
    out = Path(path).expanduser()
    probe = out
    while not probe.exists():
        if probe.is_symlink():  # a dangling link: creating the folder would fail
            raise ValueError(f"{name} {out}: {probe} is a broken symbolic link")
        parent = probe.parent
        if parent == probe:  # pragma: no cover - the root always exists
            break
        probe = parent
    if not probe.is_dir():
        if probe == out:
            raise ValueError(f"{name} {out} exists and is not a folder")
        raise ValueError(f"{name} {out} cannot be created: {probe} is not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".rlstar-write-test-")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        target = "" if probe == out else f" (it would be created in {probe})"
        raise ValueError(f"{name} {out} is not writable{target}: {reason}") from None
    os.close(fd)
    os.unlink(tmp)
    return out
