"""Sweep configuration files (TOML).

Example::

    description = "stall probability of sampled STaR"   # optional
    cell = "star_stall"          # a registered cell (rlstar_theory.sweeps.cells.CELLS)
    root_seed = 2024             # optional, default 0
    chunk_size = 200             # optional, cells per task

    [grid]                       # dimension = list of values, or a range
    M = [4, 8]
    lam0 = { linspace = [0.0, 0.5, 11] }     # start, stop (included), number of values
    K = [1, 4, 16]
    seed = { range = [0, 10] }               # start, stop (excluded)[, step]: integers

    [fixed]                      # parameters passed to every cell
    N = 3
    iterations = 10

Grid dimensions are swept in the order written (the last one varies fastest). A dimension named
``seed`` only labels replicates; it is not passed to the cell. ``linspace`` values are rounded to
12 decimals so that ``0.1`` stays ``0.1``. Any mistake raises one ValueError naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlstar_theory.sweeps.cells import CellFunction, get_cell
from rlstar_theory.sweeps.grid import REPLICATE_DIM, Grid
from rlstar_theory.sweeps.streams import check_root_seed

__all__ = ["SweepConfig", "load_config", "parse_config"]

_KEYS = {"description", "cell", "root_seed", "chunk_size", "grid", "fixed"}
_REQUIRED = ("cell", "grid")


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ValueError("reading TOML on Python 3.10 needs tomli: pip install tomli (or "
                             "pip install -e '.[sweep]')") from None
    return tomllib


@dataclass(frozen=True)
class SweepConfig:
    """A parsed sweep configuration.

    Attributes
    ----------
    cell : CellFunction
        The registered cell function.
    grid : Grid
    root_seed : int
    fixed : dict
        Parameters passed to every cell.
    chunk_size : int or None
        Cells per task (None: the runner's default).
    description : str
    """

    cell: CellFunction
    grid: Grid
    root_seed: int = 0
    fixed: dict = field(default_factory=dict)
    chunk_size: int | None = None
    description: str = ""


def _expand(spec, key: str) -> list:
    """Values of one grid dimension: a list, ``{linspace = [a, b, n]}`` or ``{range = [a, b]}``."""
    if isinstance(spec, list):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(f"{key} must be a list of values, {{ linspace = [start, stop, num] }} "
                         f"or {{ range = [start, stop] }}, got {spec!r}")
    if len(spec) != 1 or next(iter(spec)) not in ("linspace", "range"):
        raise ValueError(f"{key} must have exactly one of the keys 'linspace' or 'range', got "
                         f"{sorted(spec)}")
    kind, args = next(iter(spec.items()))
    if kind == "linspace":
        ok = (isinstance(args, list) and len(args) == 3
              and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
              and all(math.isfinite(a) for a in args[:2]) and isinstance(args[2], int)
              and args[2] >= 1)
        if not ok:
            raise ValueError(f"{key}.linspace must be [start, stop, num] with finite numbers "
                             f"and an integer num >= 1, got {args!r}")
        return [round(float(v), 12) + 0.0 for v in np.linspace(args[0], args[1], args[2])]
    ok = (isinstance(args, list) and len(args) in (2, 3)
          and all(isinstance(a, int) and not isinstance(a, bool) for a in args)
          and (len(args) == 2 or args[2] != 0))
    if not ok:
        raise ValueError(f"{key}.range must be [start, stop] or [start, stop, step] with "
                         f"integers (step != 0), got {args!r}")
    values = list(range(*args))
    if not values:
        raise ValueError(f"{key}.range {args!r} is empty")
    return values


def parse_config(data: Mapping, source: str = "config") -> SweepConfig:
    """Check a config mapping (as read from TOML) and build a :class:`SweepConfig`.

    Parameters
    ----------
    data : mapping
        The TOML document.
    source : str
        Name used in error messages (the file path).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: a sweep config must be a table, got {type(data).__name__}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown key {unknown[0]!r}; allowed keys are "
                         f"{sorted(_KEYS)}")
    for key in _REQUIRED:
        if key not in data:
            raise ValueError(f"{source}: missing key {key!r}")
    try:
        cell = get_cell(data["cell"])
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    grid_spec = data["grid"]
    if not isinstance(grid_spec, Mapping) or not grid_spec:
        raise ValueError(f"{source}: [grid] must be a table with at least one dimension")
    dims = {}
    for name, spec in grid_spec.items():
        try:
            dims[name] = _expand(spec, f"grid.{name}")
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
    try:
        grid = Grid.from_mapping(dims)
    except ValueError as exc:
        raise ValueError(f"{source}: [grid]: {exc}") from None
    fixed = data.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise ValueError(f"{source}: [fixed] must be a table of parameter = value")
    for name, value in fixed.items():
        if name in grid.names:
            raise ValueError(f"{source}: fixed.{name} is also a grid dimension; give it once")
        if not isinstance(value, (int, float, str, bool)):
            raise ValueError(f"{source}: fixed.{name} must be a number, string or boolean, got "
                             f"{value!r}")
    cell.check_params([n for n in grid.names if n != REPLICATE_DIM] + list(fixed),
                      where=f"{source}: [grid] and [fixed]")
    try:
        root_seed = check_root_seed(data.get("root_seed", 0))
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    chunk_size = data.get("chunk_size")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise ValueError(f"{source}: chunk_size must be an integer >= 1, got {chunk_size!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{source}: description must be a string, got {description!r}")
    return SweepConfig(cell=cell, grid=grid, root_seed=root_seed, fixed=dict(fixed),
                       chunk_size=chunk_size, description=description)


def load_config(path) -> SweepConfig:
    """Read and check a TOML sweep config (see the module docstring for the format)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    tomllib = _toml()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, str(path))
