# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Sweeps: when does sampled STaR stall?
#
# The exact theory says RL-STaR started from the symmetric model `P(λ₀)` with `λ₀ > 0` on every
# step improves at every iteration and converges to the ground truth. With finitely many samples
# per question, `K`, it can instead **stall**:
#
# * some question gets none of its `K` trajectories right, so its first-step row learns nothing
#   that iteration; or
# * some row loses its correct (gold) transition: none of the kept trajectories through that state
#   took it, so the refit gives it probability 0, and no later sample can bring it back.
#
# Where that happens is a question about a grid, `λ₀ × K × M` with many seeds per point. This
# notebook runs such a grid with `rlstar_theory.sweeps` on a local **Dask** cluster, reads the
# labelled results back from netCDF, and draws the phase diagram. The same sweep runs from the
# command line, locally or on a cluster:
#
# ```
# rlstar sweep examples/sweeps/stall_small.toml --out runs/stall_small
# rlstar sweep examples/sweeps/stall_phase.toml --out runs/stall_phase --scheduler tcp://HOST:8786
# ```

# %%
import sys
from importlib.util import find_spec
from pathlib import Path

if find_spec("rlstar_theory") is None:  # running from a checkout, not installed
    sys.path.insert(0, str(Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))

import io
import shutil
import tempfile
import time

import numpy as np
from distributed import Client, LocalCluster
from IPython.display import Image, display
from matplotlib.figure import Figure

from rlstar_theory.sweeps import load_config, load_results, plot_phase, run_config

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
np.set_printoptions(precision=4, linewidth=100)


def show(fig, dpi=70):
    """Display a matplotlib figure as a PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    display(Image(data=buf.getvalue()))


# %% [markdown]
# ## The sweep, as a config file
#
# A sweep names a registered **cell function**, the **grid** (the last dimension varies
# fastest), the **fixed** parameters and a **root seed**. Cell `i` of the grid draws from its
# own stream, `SeedSequence(root_seed).spawn(n_cells)[i]`, so the results do not depend on how
# many workers there are or in which order the cells run. The dimension `seed` only labels
# replicates.

# %%
config_path = ROOT / "examples" / "sweeps" / "stall_small.toml"
print(config_path.read_text())
config = load_config(config_path)
sizes = dict(zip(config.grid.names, config.grid.shape, strict=True))
print(f"{config.grid.n_cells} cells over {sizes}")
print(config.cell.fn.__doc__.split("\n\n")[0])

# %% [markdown]
# ## Run it on a local Dask cluster
#
# Any executor with a `.map` method works; a `dask.distributed` client's `get_executor()` sends
# the chunks of cells to the cluster's workers. Each finished chunk is saved under `out/parts/`
# at once, and the assembled Dataset goes to `out/results.nc`.

# %%
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None)
client = Client(cluster)
out = Path(tempfile.mkdtemp()) / "stall_small"
start = time.perf_counter()
ds = run_config(config, out=out, executor=client.get_executor(), progress=False)
print(f"{config.grid.n_cells} cells on {len(cluster.workers)} Dask workers in "
      f"{time.perf_counter() - start:.1f} s")
print(sorted(p.name for p in out.iterdir()), len(list((out / "parts").iterdir())), "part files")

# %% [markdown]
# ## The labelled results
#
# One variable per output of the cell, over the grid's dimensions (and the cell's own, here
# `iteration`); the grid values are the coordinates. netCDF3 (scipy engine) needs no HDF5.

# %%
results = load_results(out / "results.nc")
display(results)

# %%
# stall probability per (M, lam0, K): the mean of a boolean over the seeds
print(results["stalled"].mean("seed").sel(M=8).to_pandas().round(2))

# %% [markdown]
# ## The phase diagram
#
# Top: the probability that sampled STaR stalls, against `λ₀` and `K`; the white line is where it
# is 1/2. Bottom: the mean `J` after the last iteration. With few samples it stalls whatever
# `λ₀`; with many it behaves like the exact iteration, which converges for every `λ₀ > 0` (and
# never moves from `λ₀ = 0`, where two or more steps sit at the fixed point). Between the two, a
# stalled run usually converges to a policy that is right on some questions only.

# %%
Ms = results["M"].values
fig = Figure(figsize=(4.6 * len(Ms), 6.6), layout="constrained")
axes = fig.subplots(2, len(Ms), squeeze=False)
for k, M in enumerate(Ms):
    plot_phase(results.sel(M=M), var="stalled", ax=axes[0, k])
    plot_phase(results.sel(M=M).isel(iteration=-1), var="J", ax=axes[1, k], level=None)
    axes[1, k].set_title(f"M = {M}: J after {results.sizes['iteration'] - 1} iterations")
show(fig)

# %% [markdown]
# ## Resuming, and the same numbers everywhere
#
# Running the same sweep into the same folder computes only what is missing: here nothing. The
# results equal those of a local process pool with a different chunk size, cell for cell.

# %%
start = time.perf_counter()
again = run_config(config, out=out, executor=client.get_executor(), progress=False)
print(f"second run: {time.perf_counter() - start:.1f} s (nothing recomputed)")
local = run_config(config, workers=2, progress=False, chunk_size=7)
print("Dask == process pool:", local.identical(results), "| resumed == first:",
      again.identical(results))

# %%
client.close()
cluster.close()
shutil.rmtree(out.parent)  # the temporary output folder

# %% [markdown]
# ## The full grid: 10⁵ cells
#
# `examples/sweeps/stall_phase.toml` sweeps `M ∈ {4, 8, 16, 32}`, 25 values of `λ₀` in
# `[0, 0.6]`, `K` from 1 to 262,144 (powers of 4) and 100 seeds: 100,000 cells. The cell draws
# the kept transition counts with the K-independent count sampler, so `K = 262,144` costs the same
# as `K = 1`. On one machine:
#
# ```
# rlstar sweep examples/sweeps/stall_phase.toml --out runs/stall_phase --workers 2
# ```
#
# On a Dask cluster (each worker needs `rlstar_theory` installed):
#
# ```
# dask scheduler                      # prints the address, e.g. tcp://10.0.0.5:8786
# dask worker tcp://10.0.0.5:8786     # on every worker machine
# rlstar sweep examples/sweeps/stall_phase.toml --out runs/stall_phase \
#     --scheduler tcp://10.0.0.5:8786
# ```
#
# Then `load_results("runs/stall_phase/results.nc")` and the cells above draw the full phase
# diagram. An interrupted run resumes from its part files when the same command is run again.
