"""On-disk state of a sweep: a manifest naming the sweep, and one part file per finished chunk.

Layout of the output folder ``DIR``::

    DIR/sweep.json                         what is being swept (cell, grid, fixed, root seed)
    DIR/parts/cells_<start>-<stop>.npz     outputs of cells start..stop-1, one array per output
    DIR/results.nc                         the assembled xarray Dataset (netCDF3)

Every file is written to a temporary name and then renamed, so a part file is either complete or
absent, whatever interrupts the sweep. The part files are the record of which cells are done; a
re-run of the same sweep reads them and computes only the missing cells. The manifest guards
against resuming a *different* sweep into the same folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SweepStore", "Part", "missing_ranges", "MANIFEST_NAME", "RESULTS_NAME"]

MANIFEST_NAME = "sweep.json"
RESULTS_NAME = "results.nc"
_PART = re.compile(r"^cells_(\d+)-(\d+)\.npz$")


@dataclass(frozen=True)
class Part:
    """Outputs of cells ``start .. stop-1``: ``arrays[name]`` has shape ``(stop - start, ...)``."""

    start: int
    stop: int
    arrays: dict[str, np.ndarray]


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _differences(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


class SweepStore:
    """The folder of one sweep: its manifest, part files and final results.

    Parameters
    ----------
    root : path
        The output folder ``DIR`` (created when missing).
    """

    def __init__(self, root) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"out must be a folder, got the file {self.root}")
        self.parts_dir = self.root / "parts"

    @property
    def results_path(self) -> Path:
        """``DIR/results.nc``."""
        return self.root / RESULTS_NAME

    @property
    def manifest_path(self) -> Path:
        """``DIR/sweep.json``."""
        return self.root / MANIFEST_NAME

    def open(self, manifest: dict) -> None:
        """Start or resume the sweep described by ``manifest`` (a JSON-serialisable dict).

        Raises ValueError when the folder already holds a different sweep, naming the keys that
        differ.
        """
        text = json.dumps(manifest, indent=1, sort_keys=True)
        if self.manifest_path.exists():
            try:
                old = json.loads(self.manifest_path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"out: cannot read {self.manifest_path} ({exc})") from None
            # compare through JSON so tuples and lists (and float reprs) compare alike
            new = json.loads(text)
            if old != new:
                raise ValueError(f"out: {self.root} holds a different sweep (differs in "
                                 f"{', '.join(_differences(old, new))}); choose another output "
                                 "folder or delete this one")
            return
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.manifest_path, lambda fh: fh.write(text.encode()))

    def finished(self) -> list[tuple[int, int]]:
        """Sorted ``(start, stop)`` ranges of the part files present."""
        if not self.parts_dir.is_dir():
            return []
        ranges = []
        for path in self.parts_dir.iterdir():
            match = _PART.match(path.name)
            if match:
                ranges.append((int(match.group(1)), int(match.group(2))))
        ranges.sort()
        for (_, a1), (b0, _) in zip(ranges, ranges[1:], strict=False):
            if b0 < a1:
                raise ValueError(f"out: part files overlap at cells {b0}..{a1 - 1} in "
                                 f"{self.parts_dir}; delete the folder and run again")
        return ranges

    def write_part(self, part: Part) -> None:
        """Save ``part`` as ``parts/cells_<start>-<stop>.npz`` (atomically)."""
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        path = self.parts_dir / f"cells_{part.start:010d}-{part.stop:010d}.npz"
        _atomic_write(path, lambda fh: np.savez(fh, **part.arrays))

    def read_part(self, start: int, stop: int) -> Part:
        """Load the part file of cells ``start .. stop-1``."""
        path = self.parts_dir / f"cells_{start:010d}-{stop:010d}.npz"
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        return Part(start, stop, arrays)

    def parts(self) -> Iterator[Part]:
        """Every finished part, in cell order."""
        for start, stop in self.finished():
            yield self.read_part(start, stop)


def missing_ranges(n_cells: int, finished: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The gaps ``[(start, stop), ...]`` of ``range(n_cells)`` not covered by ``finished``."""
    gaps, pos = [], 0
    for start, stop in finished:
        if stop > n_cells:
            raise ValueError(f"out: a part file covers cells up to {stop - 1}, beyond the grid's "
                             f"{n_cells} cells")
        if start > pos:
            gaps.append((pos, start))
        pos = max(pos, stop)
    if pos < n_cells:
        gaps.append((pos, n_cells))
    return gaps
