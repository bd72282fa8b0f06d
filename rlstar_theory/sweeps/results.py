"""Labelled results: the part files of a sweep as one xarray Dataset, saved as netCDF3.

Each output ``v`` of the cell function becomes a data variable over the grid's dimensions followed
by the output's own dimensions: ``v[d_1, ..., d_k, e_1, ...] = output v of the cell at
(d_1, ..., d_k)``, entry ``(e_1, ...)``. The grid's values are the coordinates.

The file is written with ``engine="scipy"`` (netCDF3, no netCDF4/HDF5 library needed). netCDF3
stores float64, float32, int32, int16, int8 and characters: xarray writes booleans as int8 and
reads them back as booleans, int64 as int32 (an integer output outside the int32 range is refused
with a ValueError), and strings (e.g. a ``rule`` dimension) as characters.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from rlstar_theory.sweeps.deps import require
from rlstar_theory.sweeps.grid import Grid
from rlstar_theory.sweeps.store import Part

__all__ = ["output_dim_names", "assemble", "save_results", "load_results"]

_INT32 = np.iinfo(np.int32)


def output_dim_names(name: str, ndim: int, output_dims: Mapping[str, tuple[str, ...]],
                     grid: Grid) -> tuple[str, ...]:
    """Dimension names of output ``name``'s own axes: ``output_dims[name]`` or ``name_dim<k>``."""
    dims = tuple(output_dims.get(name, ())) or tuple(f"{name}_dim{k}" for k in range(ndim))
    if len(dims) != ndim:
        raise ValueError(f"output_dims[{name!r}] names {len(dims)} dimension(s) {dims}, but the "
                         f"cell's output {name!r} has {ndim}")
    clash = set(dims) & set(grid.names)
    if clash:
        raise ValueError(f"output {name!r} uses dimension(s) {sorted(clash)}, which are grid "
                         "dimensions; rename them in output_dims")
    return dims


def assemble(grid: Grid, parts: Iterable[Part],
             output_dims: Mapping[str, tuple[str, ...]] | None = None,
             attrs: Mapping[str, object] | None = None):
    """One Dataset from the parts covering every cell of ``grid``.

    Parameters
    ----------
    grid : Grid
    parts : iterable of Part
        Disjoint parts that together cover cells ``0 .. n_cells - 1``.
    output_dims : mapping, optional
        ``{output name: dimension names}`` for array outputs (default ``<name>_dim<k>``).
    attrs : mapping, optional
        Dataset attributes (strings or numbers).

    Returns
    -------
    xarray.Dataset
        ``ds[v]`` of shape ``grid.shape + output shape``; coordinates are the grid values.
    """
    xr = require("xarray", "sweep results")
    output_dims = dict(output_dims or {})
    n = grid.n_cells
    flat: dict[str, np.ndarray] = {}
    covered = np.zeros(n, dtype=bool)
    for part in parts:
        if not flat:
            flat = {name: np.empty((n, *a.shape[1:]), dtype=a.dtype)
                    for name, a in part.arrays.items()}
        if set(part.arrays) != set(flat):
            raise ValueError(f"cells {part.start}..{part.stop - 1} return outputs "
                             f"{sorted(part.arrays)}, others {sorted(flat)}")
        for name, a in part.arrays.items():
            if a.shape[1:] != flat[name].shape[1:]:
                raise ValueError(f"output {name!r} has shape {a.shape[1:]} in cells "
                                 f"{part.start}..{part.stop - 1} and {flat[name].shape[1:]} "
                                 "elsewhere; every cell must return the same shapes")
            dtype = np.result_type(flat[name].dtype, a.dtype)
            if dtype != flat[name].dtype:
                flat[name] = flat[name].astype(dtype)
            flat[name][part.start:part.stop] = a
        covered[part.start:part.stop] = True
    if not covered.all():
        first = int(np.flatnonzero(~covered)[0])
        raise ValueError(f"cannot assemble: {int((~covered).sum())} of {n} cells have no result "
                         f"(first missing: cell {first})")
    coords = {name: np.array(values) for name, values in grid.dims}
    data_vars = {}
    for name, a in flat.items():
        dims = grid.names + output_dim_names(name, a.ndim - 1, output_dims, grid)
        data_vars[name] = (dims, a.reshape(grid.shape + a.shape[1:]))
    try:
        return xr.Dataset(data_vars, coords=coords, attrs=dict(attrs or {}))
    except ValueError as exc:  # e.g. two outputs giving one dimension different lengths
        raise ValueError(f"cannot label the sweep's outputs: {exc}") from None


def save_results(ds, path) -> Path:
    """Write ``ds`` to ``path`` as netCDF3 (scipy engine), atomically; returns the path.

    Integer variables must fit in int32 (netCDF3 has no 64-bit integers).
    """
    path = Path(path)
    for name, var in ds.variables.items():
        if var.dtype.kind in "iu" and var.size and (var.values.min() < _INT32.min
                                                    or var.values.max() > _INT32.max):
            raise ValueError(f"output {name!r} has integers outside the int32 range, which "
                             "netCDF3 cannot store; return them as floats")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_results(path):
    """Read a sweep's netCDF file into memory (scipy engine), integers as int64.

    ``json.loads(ds.attrs["sweep"])`` gives the sweep's manifest (cell, grid, fixed parameters,
    root seed).
    """
    xr = require("xarray", "sweep results")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"results file not found: {path}")
    with xr.open_dataset(path, engine="scipy") as ds:
        ds = ds.load()
    # netCDF3 stores integers as int32; give them back as the int64 the sweep produced
    return ds.assign({name: var.astype(np.int64) for name, var in ds.data_vars.items()
                      if var.dtype == np.int32}).assign_coords(
        {name: ds[name].astype(np.int64) for name in ds.coords if ds[name].dtype == np.int32})
