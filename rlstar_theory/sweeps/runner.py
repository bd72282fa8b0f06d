"""Run a cell function over every cell of a grid, on any executor, saving and resuming as it goes.

``run_sweep(fn, grid)`` calls ``fn(rng_i, **params_i)`` for every cell ``i`` of the grid, where
``params_i`` are the cell's coordinates (without the replicate dimension ``seed``) plus the fixed
parameters and ``rng_i`` is the cell's own stream (:mod:`rlstar_theory.sweeps.streams`). The
cells are cut into chunks of consecutive indices; each chunk is one task. Tasks go to the
executor through its ``map`` method only, a wave of chunks per call, with the next wave submitted
before the results of the current one are read, in order. So any object with
``map(fn, iterable)`` works: the default process pool, the in-process :class:`SerialExecutor`, or
a ``dask.distributed`` client's ``get_executor()`` (whose futures do not support
``concurrent.futures.wait``/``as_completed``, which this module never uses).

With an output folder, each finished chunk is written to a part file at once
(:mod:`rlstar_theory.sweeps.store`); running the same sweep again computes only the cells with no
part file. Because every cell's randomness depends only on the root seed and the cell's index,
the assembled results are the same for any number of workers, chunk size, executor or
interruption.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from rlstar_theory.sweeps.cells import CellFunction, get_cell
from rlstar_theory.sweeps.deps import require
from rlstar_theory.sweeps.grid import REPLICATE_DIM, Grid
from rlstar_theory.sweeps.results import assemble, output_dim_names, save_results
from rlstar_theory.sweeps.store import Part, SweepStore, missing_ranges
from rlstar_theory.sweeps.streams import cell_rng, check_root_seed

__all__ = ["run_sweep", "run_config", "run_chunk", "ChunkTask", "SerialExecutor",
           "default_chunk_size", "MANIFEST_FORMAT"]

#: version of the manifest layout (a change makes old output folders refuse to resume)
MANIFEST_FORMAT = 1
#: default limit on the size of the assembled results
MAX_RESULT_BYTES = 4 * 2**30


class SerialExecutor:
    """Runs tasks one after another in this process: ``map`` is the built-in :func:`map`."""

    def map(self, fn: Callable, *iterables) -> Iterator:
        """``map(fn, *iterables)``, lazily, in this process."""
        return map(fn, *iterables)


@dataclass(frozen=True)
class ChunkTask:
    """Cells ``start .. stop-1`` of ``grid`` for cell function ``fn``.

    Attributes
    ----------
    fn : callable
        ``fn(rng, **params) -> {name: scalar or array}``.
    grid : Grid
    fixed : tuple of (str, value) pairs
        Parameters passed to every cell.
    root_seed : int
    start, stop : int
    """

    fn: Callable
    grid: Grid
    fixed: tuple[tuple[str, object], ...]
    root_seed: int
    start: int
    stop: int


def _clean_output(out, index: int, grid: Grid) -> dict[str, np.ndarray]:
    """A cell's outputs as float64 / int64 / bool arrays, or ValueError."""
    if not isinstance(out, Mapping) or not out:
        raise ValueError(f"cell {index}: the cell function must return a non-empty mapping "
                         f"{{name: number or array}}, got {type(out).__name__}")
    clean = {}
    for name, value in out.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"cell {index}: output names must be identifiers, got {name!r}")
        if name in grid.names:
            raise ValueError(f"cell {index}: output {name!r} has the name of a grid dimension")
        arr = np.asarray(value)
        kind = arr.dtype.kind
        if kind == "b":
            clean[name] = arr.astype(bool, copy=False)
        elif kind in "iu":
            clean[name] = arr.astype(np.int64, copy=False)
        elif kind == "f":
            clean[name] = arr.astype(np.float64, copy=False)
        else:
            raise ValueError(f"cell {index}: output {name!r} must be numbers or booleans, got "
                             f"dtype {arr.dtype}")
    return clean


def run_chunk(task: ChunkTask) -> Part:
    """Run the cells of one chunk in order and stack their outputs.

    Returns
    -------
    Part
        ``arrays[name][i - start]`` is the output ``name`` of cell ``i``.
    """
    fixed = dict(task.fixed)
    rows: list[dict[str, np.ndarray]] = []
    for index in range(task.start, task.stop):
        coords = task.grid.cell(index)
        params = {k: v for k, v in coords.items() if k != REPLICATE_DIM}
        params.update(fixed)
        try:
            out = task.fn(cell_rng(task.root_seed, index), **params)
        except ValueError as exc:
            raise ValueError(f"cell {index} {coords}: {exc}") from exc
        row = _clean_output(out, index, task.grid)
        if rows and (set(row) != set(rows[0])
                     or any(row[k].shape != rows[0][k].shape for k in row)):
            raise ValueError(f"cell {index} returns outputs "
                             f"{ {k: v.shape for k, v in row.items()} }, cell {task.start} "
                             f"{ {k: v.shape for k, v in rows[0].items()} }; every cell must "
                             "return the same names and shapes")
        rows.append(row)
    arrays = {name: np.stack([row[name] for row in rows]) for name in rows[0]}
    return Part(task.start, task.stop, arrays)


def default_chunk_size(n_cells: int) -> int:
    """Cells per chunk: ``min(1000, max(ceil(n / 512), min(16, ceil(n / 32))))``.

    Large sweeps get about 512 chunks (enough to keep many workers busy, at most 1000 cells
    each); small ones get at least 32 chunks of up to 16 cells, since every task costs a few
    milliseconds of scheduling and a part file.
    """
    n = max(1, int(n_cells))
    return int(min(1000, max(math.ceil(n / 512), min(16, math.ceil(n / 32)))))


def _check_count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_fixed(fixed, grid: Grid) -> dict:
    if fixed is None:
        return {}
    if not isinstance(fixed, Mapping):
        raise ValueError(f"fixed must be a mapping of parameter name -> value, got {fixed!r}")
    clean = {}
    for name, value in fixed.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"fixed parameter names must be identifiers, got {name!r}")
        if name in grid.names:
            raise ValueError(f"fixed parameter {name!r} is also a grid dimension; give it once")
        if isinstance(value, (bool, str)):
            clean[name] = value
        elif isinstance(value, Integral):
            clean[name] = int(value)
        elif isinstance(value, Real) and math.isfinite(value):
            clean[name] = float(value)
        else:
            raise ValueError(f"fixed parameter {name!r} must be a number, string or boolean, "
                             f"got {value!r}")
    return clean


def _cell_name(fn) -> str:
    if isinstance(fn, CellFunction):
        return fn.name
    module = getattr(fn, "__module__", None) or type(fn).__module__
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}"


def _default_executor(workers: int | None):
    if workers is None:
        workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    workers = _check_count(workers, "workers")
    return SerialExecutor() if workers == 1 else ProcessPoolExecutor(max_workers=workers)


def _ordered_results(executor, tasks: Sequence[ChunkTask], per_map: int) -> Iterator[Part]:
    """Results of ``tasks`` in order, through ``executor.map`` one wave of ``per_map`` tasks at a
    time; wave ``k+1`` is submitted before wave ``k`` is read, so workers never wait for the
    reader."""
    pending: deque[Iterator[Part]] = deque()
    for lo in range(0, len(tasks), per_map):
        pending.append(iter(executor.map(run_chunk, tasks[lo:lo + per_map])))
        if len(pending) == 2:
            yield from pending.popleft()
    while pending:
        yield from pending.popleft()


def run_sweep(fn, grid, executor=None, out=None, root_seed: int = 0, progress: bool = True, *,
              workers: int | None = None, fixed: Mapping[str, object] | None = None,
              output_dims: Mapping[str, Sequence[str]] | None = None,
              chunk_size: int | None = None, chunks_per_map: int = 64,
              max_result_bytes: int = MAX_RESULT_BYTES):
    """Evaluate ``fn`` on every cell of ``grid``; return the results as an xarray Dataset.

    Cell ``i`` (C order over the grid's dimensions) computes
    ``fn(default_rng(SeedSequence(root_seed).spawn(n_cells)[i]), **coords_i, **fixed)``, where
    ``coords_i`` are its grid coordinates without the replicate dimension ``seed``.

    Parameters
    ----------
    fn : callable, CellFunction or str
        The cell function ``fn(rng, **params) -> {name: number or array}`` (same names and
        shapes in every cell), or the name of a registered cell
        (:data:`rlstar_theory.sweeps.cells.CELLS`). With a process pool or a cluster it must be
        picklable (a module-level function).
    grid : Grid or mapping
        ``{dimension: values}``; cells in C order (last dimension fastest).
    executor : object with ``map(fn, iterable)``, optional
        Where the chunks run, e.g. ``dask.distributed.Client(...).get_executor()``. Default: a
        local :class:`concurrent.futures.ProcessPoolExecutor` with ``workers`` processes (created
        and shut down here), or :class:`SerialExecutor` when ``workers == 1``.
    out : path, optional
        Output folder: ``sweep.json``, ``parts/`` (one file per finished chunk) and
        ``results.nc``. Running the same sweep into the same folder again skips the finished
        cells; a different sweep there is refused. Without it nothing is written.
    root_seed : int
        Root of every cell's random stream (``>= 0``).
    progress : bool
        Show a tqdm progress bar (cells) on stderr.
    workers : int, optional
        Processes of the default pool (default: the CPUs available). Not with ``executor``.
    fixed : mapping, optional
        Parameters passed to every cell (numbers, strings, booleans).
    output_dims : mapping, optional
        ``{output name: dimension names}`` for array outputs; a :class:`CellFunction` brings its
        own. Unnamed axes are called ``<name>_dim<k>``.
    chunk_size : int, optional
        Cells per task (default :func:`default_chunk_size`). Does not change the results.
    chunks_per_map : int
        Tasks per ``executor.map`` call (two calls are in flight at a time).
    max_result_bytes : int
        Refuse (ValueError, after the first chunk) a sweep whose assembled results would exceed
        this size.

    Returns
    -------
    xarray.Dataset
        One variable per output over ``grid.names + output dims``; the grid values are the
        coordinates; ``attrs["sweep"]`` is the manifest as JSON. Also saved as ``out/results.nc``.
    """
    cell = get_cell(fn) if isinstance(fn, str) else fn
    if not callable(cell):
        raise ValueError(f"fn must be a callable or a registered cell name, got {fn!r}")
    grid = grid if isinstance(grid, Grid) else Grid.from_mapping(grid)
    root_seed = check_root_seed(root_seed)
    fixed = _check_fixed(fixed, grid)
    if isinstance(cell, CellFunction):
        params = [name for name in grid.names if name != REPLICATE_DIM] + list(fixed)
        cell.check_params(params)
    dims_out = {k: tuple(v) for k, v in getattr(cell, "output_dims", {}).items()}
    dims_out.update({k: tuple(v) for k, v in (output_dims or {}).items()})
    per_map = _check_count(chunks_per_map, "chunks_per_map")
    max_bytes = _check_count(max_result_bytes, "max_result_bytes")
    if executor is not None and workers is not None:
        raise ValueError("give either executor or workers, not both (workers sizes the default "
                         "process pool)")
    if workers is not None:
        workers = _check_count(workers, "workers")
    if executor is not None and not callable(getattr(executor, "map", None)):
        raise ValueError(f"executor must have a map(fn, iterable) method, got {executor!r}")
    require("xarray", "sweep results")
    tqdm = require("tqdm", "the sweep progress bar").tqdm if progress else None

    name = _cell_name(cell)
    manifest = {"format": MANIFEST_FORMAT, "cell": name, "grid": grid.to_json(),
                "fixed": fixed, "root_seed": root_seed,
                "output_dims": {k: list(v) for k, v in sorted(dims_out.items())}}
    n = grid.n_cells
    store = None if out is None else SweepStore(Path(out))
    finished = []
    if store is not None:
        store.open(manifest)
        finished = store.finished()
    todo = missing_ranges(n, finished)
    size = default_chunk_size(n) if chunk_size is None else _check_count(chunk_size, "chunk_size")
    fixed_items = tuple(sorted(fixed.items()))
    tasks = [ChunkTask(cell, grid, fixed_items, root_seed, a, min(a + size, stop))
             for start, stop in todo for a in range(start, stop, size)]

    fresh: list[Part] = []
    schema: dict[str, tuple] | None = None
    n_done = n - sum(stop - start for start, stop in todo)
    own = executor is None and bool(tasks)
    if own:
        executor = _default_executor(workers)
    bar = tqdm(total=n, initial=n_done, unit="cell", desc=f"sweep {name}", smoothing=0.05,
               dynamic_ncols=True) if tqdm is not None else None
    try:
        for part in _ordered_results(executor, tasks, per_map):
            shapes = {k: a.shape[1:] for k, a in part.arrays.items()}
            if schema is None:
                schema = shapes
                per_cell = sum(a[0].nbytes for a in part.arrays.values())
                if n * per_cell > max_bytes:
                    raise ValueError(f"the results would take {n * per_cell / 2**30:.2f} GiB "
                                     f"({n} cells x {per_cell} bytes), over max_result_bytes = "
                                     f"{max_bytes}; sweep fewer cells or raise the limit")
                for key, shape in shapes.items():
                    output_dim_names(key, len(shape), dims_out, grid)
            elif shapes != schema:
                raise ValueError(f"cells {part.start}..{part.stop - 1} return outputs {shapes}, "
                                 f"earlier cells {schema}; every cell must return the same "
                                 "names and shapes")
            if store is not None:
                store.write_part(part)
            else:
                fresh.append(part)
            if bar is not None:
                bar.update(part.stop - part.start)
    finally:
        if bar is not None:
            bar.close()
        if own and hasattr(executor, "shutdown"):
            executor.shutdown(wait=True, cancel_futures=True)

    attrs = {"cell": name, "sweep": json.dumps(manifest, sort_keys=True)}
    ds = assemble(grid, store.parts() if store is not None else fresh, dims_out, attrs)
    if store is not None:
        save_results(ds, store.results_path)
    return ds


def run_config(config, out=None, executor=None, *, workers: int | None = None,
               progress: bool = True, chunk_size: int | None = None):
    """:func:`run_sweep` for a :class:`~rlstar_theory.sweeps.config.SweepConfig`.

    ``chunk_size`` overrides the config's; the other arguments are as in :func:`run_sweep`.
    """
    return run_sweep(config.cell, config.grid, executor=executor, out=out,
                     root_seed=config.root_seed, progress=progress, workers=workers,
                     fixed=config.fixed,
                     chunk_size=config.chunk_size if chunk_size is None else chunk_size)
