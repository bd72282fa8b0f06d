"""Sweeps: run a cell function over a grid, locally or on a Dask cluster, as labelled arrays.

Main entry points
-----------------
run_sweep(fn, grid, executor=None, out=None, root_seed=0, progress=True, ...)
    every cell of the grid through any executor with ``.map`` (default: a local process pool);
    returns an xarray Dataset, saves part files as it goes and resumes an interrupted sweep.
load_config, run_config
    the TOML config read by ``rlstar sweep CONFIG.toml --out DIR``.
CELLS, get_cell
    the ready-made cell functions (``symmetric_J``, ``star_stall``).
load_results, plot_phase
    read ``DIR/results.nc``; a phase diagram of a stall probability.

xarray, tqdm and dask.distributed come with the ``sweep`` extra:
``pip install "rlstar_theory[sweep]"``.
"""

from rlstar_theory.sweeps.cells import CELLS, CellFunction, get_cell, star_stall, symmetric_J
from rlstar_theory.sweeps.config import SweepConfig, load_config, parse_config
from rlstar_theory.sweeps.grid import Grid
from rlstar_theory.sweeps.plot import plot_phase
from rlstar_theory.sweeps.results import load_results, save_results
from rlstar_theory.sweeps.runner import SerialExecutor, run_config, run_sweep
from rlstar_theory.sweeps.streams import cell_rng, cell_seed_sequence

__all__ = [
    "CELLS",
    "CellFunction",
    "Grid",
    "SerialExecutor",
    "SweepConfig",
    "cell_rng",
    "cell_seed_sequence",
    "get_cell",
    "load_config",
    "load_results",
    "parse_config",
    "plot_phase",
    "run_config",
    "run_sweep",
    "save_results",
    "star_stall",
    "symmetric_J",
]
