"""``rlstar sweep``: run a sweep from a TOML config, locally or on a Dask cluster, resumably.

Examples
--------
``rlstar sweep examples/sweeps/stall_small.toml --out runs/stall_small``
``rlstar sweep examples/sweeps/stall_phase.toml --out runs/stall --workers 2``
``rlstar sweep examples/sweeps/stall_phase.toml --out runs/stall --scheduler tcp://host:8786``

The results go to ``DIR/results.nc`` (an xarray Dataset in netCDF3); each finished chunk of cells
is saved in ``DIR/parts/`` as it completes, so running the same command again after an
interruption computes only the missing cells. Needs the ``sweep`` extra (xarray, tqdm, and
dask.distributed for ``--scheduler``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rlstar_theory.sweeps.config import load_config
from rlstar_theory.sweeps.deps import require
from rlstar_theory.sweeps.runner import run_config
from rlstar_theory.sweeps.store import SweepStore, missing_ranges

HELP = ("run a grid of cells from a TOML config (local processes or a Dask cluster); results "
        "as netCDF, resumable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rlstar sweep``."""
    parser.add_argument("config", metavar="CONFIG.toml", type=Path,
                        help="sweep config: cell, [grid], [fixed], root_seed (see "
                             "rlstar_theory.sweeps.config)")
    parser.add_argument("--out", metavar="DIR", type=Path, required=True,
                        help="output folder (sweep.json, parts/, results.nc); running again "
                             "resumes the same sweep")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="local worker processes (>= 1; default: the CPUs available; 1 runs "
                            "in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a running Dask cluster, e.g. tcp://127.0.0.1:8786 (start "
                            "one with `dask scheduler` and `dask worker ADDRESS`)")
    parser.add_argument("--connect-timeout", metavar="SECONDS", type=float, default=20.0,
                        help="how long to try reaching --scheduler (default 20)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="cells per task (>= 1; default: the config's, else about 1/512 of "
                             "the grid); does not change the results")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _done_before(config, out: Path) -> int:
    """Cells already finished in ``out`` (0 for a new folder)."""
    store = SweepStore(out)
    n = config.grid.n_cells
    if not store.manifest_path.exists():
        return 0
    return n - sum(b - a for a, b in missing_ranges(n, store.finished()))


def run(args: argparse.Namespace) -> int:
    """Run ``rlstar sweep``; returns 0."""
    config = load_config(args.config)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    if not args.connect_timeout > 0:
        raise ValueError(f"--connect-timeout must be > 0 seconds, got {args.connect_timeout}")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be an integer >= 1, got {args.chunk_size}")
    before = _done_before(config, args.out)
    start = time.perf_counter()
    client = None
    executor = None
    if args.scheduler is not None:
        distributed = require("distributed", "--scheduler")
        try:
            client = distributed.Client(args.scheduler, timeout=args.connect_timeout)
        except OSError as exc:
            raise ValueError(f"--scheduler: cannot connect to {args.scheduler} ({exc})") from None
        executor = client.get_executor()
    try:
        ds = run_config(config, out=args.out, executor=executor, workers=args.workers,
                        progress=not args.no_progress, chunk_size=args.chunk_size)
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - start
    n = config.grid.n_cells
    where = f"Dask cluster {args.scheduler}" if client is not None else "local processes"
    print(f"sweep {config.cell.name}: {n} cells ({before} already done, {n - before} computed "
          f"on {where}) in {seconds:.1f} s")
    dims = ", ".join(f"{d}={s}" for d, s in ds.sizes.items())
    print(f"dimensions: {dims}")
    print(f"variables: {', '.join(ds.data_vars)}")
    print(f"results: {SweepStore(args.out).results_path}")
    return 0
