"""Shared command-line and output helpers of the open-question modules."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["Timer", "base_parser", "command_parser", "main_wrapper", "save_axes",
           "save_summary"]


def command_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An empty parser whose usage errors are one line on stderr and exit status 2 (the
    ``rlstar`` command line's parser class)."""
    from rlstar_theory.cli import _Parser

    return _Parser(prog=prog, description=description)


def base_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A :func:`command_parser` with ``--out DIR`` (required), ``--workers N`` and
    ``--no-progress``."""
    parser = command_parser(prog, description)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder (created if needed)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of the sweeps (default: the CPUs available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def save_axes(axes, out: Path, stem: str) -> Path:
    """Save the figure holding ``axes`` as ``out/<stem>.png`` (byte-reproducible)."""
    from rlstar_theory.figures.io import save_png
    from rlstar_theory.figures.style import figure_of

    return save_png(figure_of(axes), out / f"{stem}.png", dpi=110)


def save_summary(obj, out: Path, stem: str) -> Path:
    """Save ``obj`` as ``out/<stem>.json`` (indented, floats to 12 significant digits)."""
    from rlstar_theory.figures.io import COMMITTED_DIGITS, save_json

    return save_json(obj, out / f"{stem}.json", indent=1, significant_digits=COMMITTED_DIGITS)


class Timer:
    """Wall-clock seconds of named phases (``with timer("sweep"): ...``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._name = ""
        self._start = 0.0

    def __call__(self, name: str) -> Timer:
        self._name = name
        return self

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds[self._name] = round(time.perf_counter() - self._start, 2)


def main_wrapper(run: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None,
                 prog: str) -> int:
    """Run ``run(argv)``; a ValueError becomes one line on stderr and exit status 2."""
    try:
        return run(argv)
    except ValueError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2
