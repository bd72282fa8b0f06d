"""The grid of a sweep: named dimensions, their values, and the cell <-> index map.

A grid with dimensions ``d_1, ..., d_k`` of sizes ``n_1, ..., n_k`` has ``n_1 n_2 ... n_k`` cells,
numbered in C (row-major) order: cell ``i`` has the multi-index
``(i_1, ..., i_k) = unravel_index(i, (n_1, ..., n_k))``, i.e. the last dimension varies fastest.
That number is the cell's identity everywhere (its random stream, its place in the part files
and in the final array), so the results do not depend on how cells are scheduled.

A dimension named ``seed`` (:data:`REPLICATE_DIM`) is a replicate index: its values label the
results but are *not* passed to the cell function, whose randomness comes from the cell's own
stream.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = ["Grid", "REPLICATE_DIM", "MAX_CELLS"]

#: a grid dimension with this name labels replicates and is not passed to the cell function
REPLICATE_DIM = "seed"
#: largest number of cells a grid may have (the index arrays and results must fit in memory)
MAX_CELLS = 10**9


def _check_value(value, dim: str):
    """A grid value must be an int, a finite float or a string; returns its plain Python form."""
    if isinstance(value, bool) or not isinstance(value, (Integral, Real, str)):
        raise ValueError(f"grid dimension {dim!r}: values must be integers, floats or strings, "
                         f"got {value!r}")
    if isinstance(value, str):
        return value
    if isinstance(value, Integral):
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"grid dimension {dim!r}: values must be finite, got {value!r}")
    return value


def _check_values(values, dim: str) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ValueError(f"grid dimension {dim!r} must be a list of values, got {values!r}")
    items = values.ravel().tolist() if isinstance(values, np.ndarray) else list(values)
    out = tuple(_check_value(v, dim) for v in items)
    if not out:
        raise ValueError(f"grid dimension {dim!r} must have at least one value")
    kinds = {type(v) for v in out}
    if str in kinds and len(kinds) > 1:
        raise ValueError(f"grid dimension {dim!r} mixes strings and numbers: {list(out)!r}")
    if kinds == {int, float}:  # a numeric dimension with some integer entries: all floats
        out = tuple(float(v) for v in out)
    if len(set(out)) != len(out):
        raise ValueError(f"grid dimension {dim!r} has repeated values: {list(out)!r}")
    return out


@dataclass(frozen=True)
class Grid:
    """Named dimensions of a sweep and their values (cells in C order, last dimension fastest).

    Parameters
    ----------
    dims : tuple of (str, tuple) pairs
        Dimension names (Python identifiers, unique) and their values (ints, floats or strings,
        non-empty, no repeats). Build it with :meth:`from_mapping`.

    Attributes
    ----------
    names : tuple of str
    shape : tuple of int
    n_cells : int
        ``prod(shape)``.
    """

    dims: tuple[tuple[str, tuple], ...]

    def __post_init__(self) -> None:
        if not self.dims:
            raise ValueError("grid must have at least one dimension")
        names = [name for name, _ in self.dims]
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"grid dimension names must be identifiers, got {name!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"grid dimension names must be unique, got {names}")
        sizes = [len(v) for _, v in self.dims if hasattr(v, "__len__")]
        if len(sizes) == len(self.dims) and math.prod(sizes) > MAX_CELLS:  # before any copying
            raise ValueError(f"grid has {math.prod(sizes)} cells; at most MAX_CELLS = "
                             f"{MAX_CELLS} are allowed")
        clean = tuple((name, _check_values(values, name)) for name, values in self.dims)
        object.__setattr__(self, "dims", clean)
        n = math.prod(len(v) for _, v in clean)
        if n > MAX_CELLS:
            raise ValueError(f"grid has {n} cells; at most MAX_CELLS = {MAX_CELLS} are allowed")

    @classmethod
    def from_mapping(cls, dims: Mapping[str, Sequence]) -> Grid:
        """Grid from ``{name: values}`` (insertion order is the dimension order)."""
        if not isinstance(dims, Mapping):
            raise ValueError(f"grid must be a mapping of dimension name -> values, got {dims!r}")
        return cls(tuple((name, values) for name, values in dims.items()))

    @property
    def names(self) -> tuple[str, ...]:
        """Dimension names in order."""
        return tuple(name for name, _ in self.dims)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values per dimension."""
        return tuple(len(v) for _, v in self.dims)

    @property
    def n_cells(self) -> int:
        """Number of cells ``prod(shape)``."""
        return math.prod(self.shape)

    def values(self, name: str) -> tuple:
        """The values of dimension ``name``."""
        for dim, vals in self.dims:
            if dim == name:
                return vals
        raise ValueError(f"grid has no dimension {name!r}; it has {list(self.names)}")

    def cell(self, index: int) -> dict:
        """Coordinates ``{name: value}`` of cell ``index`` (``0 <= index < n_cells``)."""
        if isinstance(index, bool) or not isinstance(index, (Integral, np.integer)):
            raise ValueError(f"index must be an integer, got {index!r}")
        if not 0 <= index < self.n_cells:
            raise ValueError(f"index must lie in [0, {self.n_cells}), got {index}")
        multi = np.unravel_index(int(index), self.shape)
        return {name: vals[int(k)] for (name, vals), k in zip(self.dims, multi, strict=True)}

    def cells(self, start: int = 0, stop: int | None = None) -> Iterator[dict]:
        """Coordinates of cells ``start, ..., stop - 1`` in order."""
        stop = self.n_cells if stop is None else stop
        for i in range(start, stop):
            yield self.cell(i)

    def to_json(self) -> dict:
        """``{name: [values...]}`` in dimension order (JSON-serialisable)."""
        return {name: list(vals) for name, vals in self.dims}
