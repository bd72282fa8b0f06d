"""Provenance of a result: which code, which libraries and which machine produced it.

:func:`provenance` is recorded in every result file the library writes (``report.json``, the
zip experiment's ``results.json``, sweep datasets), so that two runs that differ in the 4th
decimal can be told apart by what differed between them.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["provenance"]

#: distributions whose versions are recorded when they are installed
_PACKAGES = ("rlstar_theory", "numpy", "scipy", "sympy", "matplotlib", "torch", "transformers",
             "dask", "distributed", "xarray", "array-api-compat")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _git_commit() -> str | None:
    """The checkout's commit (with ``-dirty`` for uncommitted changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "") if commit else None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance() -> dict:
    """What produced a result: package versions, Python, git commit, CPU and platform.

    Returns
    -------
    dict
        ``{"packages": {name: version}, "python": str, "git_commit": str | None,
        "cpu": str, "platform": str}``; packages that are not installed are left out.
    """
    packages = {name: v for name in _PACKAGES if (v := _version(name)) is not None}
    return {
        "packages": packages,
        "python": sys.version.split()[0],
        "git_commit": _git_commit(),
        "cpu": _cpu(),
        "platform": platform.platform(),
    }
