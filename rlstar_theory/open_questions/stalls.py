"""Q3: when does sampled STaR stall? Many replicate runs at once, and the stall phase sweep.

From the paper's symmetric model ``P_0 = P(lam0)`` on every step (identity truth, all ``M``
questions for training), sampled STaR draws ``K`` trajectories per question from the tempered
policy, keeps the successful ones and refits every row from their transition counts (a row
without data keeps its previous row). A run **stalls** when, within ``T`` iterations,

* some question gets none of its ``K`` trajectories right (*question without success*: its
  first-step row learns nothing that iteration), or
* some row loses its gold transition, ``P_t[n, s, s] = 0`` (*lost gold*: permanent, since no
  later sample can take that transition and a row without data keeps its zero).

These are the events of the ``star_stall`` sweep cell (:func:`rlstar_theory.sweeps.star_stall`).
That cell runs one replicate per call; :func:`simulate_star_runs` runs ``R`` replicates as one
batch of policies ``(R, N, M, M)``, which is what makes ``>= 1000`` seeds per grid point
affordable (10 to 60 times faster per replicate at ``M = 8``, ``N = 3``, see
benchmarks/bench_stalls.py). It draws the kept transition counts exactly as the count sampler
does (:mod:`rlstar_theory.mdp.count_sampler`, ALGORITHMS.md §12), vectorised over the
replicates:

1. backward success ``h_N = e_q``, ``h_{n-1} = P^tau_n h_n`` per replicate and question ``q``
   (``p(q) = h_0(q)``);
2. ``S_q ~ Binomial(K, p(q))`` successes per question;
3. the ``S_q`` successful paths move with the conditioned kernel
   ``Q_n[i, j] = P^tau_n[i, j] h_n(j) / h_{n-1}(i)``: one multinomial per (replicate,
   question, occupied state) and step, ``T_n[i, :] ~ Mult(c_{n-1}[i], Q_n[i, :])``;
4. ``P_t[n, i, j] = sum_q T_n[i, j] / sum_{q, j} T_n[i, j]`` where the row has data.

Only the successful paths are drawn (STaR never uses the failed ones). The law of every output
is that of the ``star_stall`` cell (tests/open_questions check it against that cell). A replicate
whose policy has become deterministic (every entry 0 or 1) is a fixed point of sampled STaR
(every sample of a question follows the same path, so the refit reproduces the rows) and is not
sampled again; its later ``J`` repeat. Per iteration the cost is ``O(R N M^3)`` whatever ``K``.

:func:`stall_cell` summarises one grid point (counts of each event, histograms of the stall
iteration and of the first iteration with ``J >= target``, the mean ``J`` per iteration) for
:func:`rlstar_theory.sweeps.run_sweep`; :data:`GRIDS` are the sweeps this project runs and
:func:`run_stall_sweep` runs one of them. Command line::

    python -m rlstar_theory.open_questions.stalls --out figures/open_questions
    python -m rlstar_theory.open_questions.stalls --grid full --out runs/stalls_full \\
        --scheduler tcp://HOST:8786
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlstar_theory.open_questions._io import command_parser, main_wrapper
from rlstar_theory.sweeps.cells import CellFunction
from rlstar_theory.symmetric import symmetric_matrix
from rlstar_theory.tempering import temper
from rlstar_theory.validation import (
    check_int,
    check_iterations,
    check_M,
    check_memory,
    check_N,
    check_rng,
    check_temperature,
)

__all__ = [
    "GRIDS",
    "MAX_K",
    "STALL_CELL",
    "StallRuns",
    "check_target",
    "run_stall_sweep",
    "simulate_star_runs",
    "stall_cell",
    "main",
]

#: largest number of samples per question (all counts stay exact in float64 sums)
MAX_K = 2**40
#: working memory of one block of replicates (conditioned kernels of the occupied rows)
_BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class StallRuns:
    """Outcome of ``R`` independent sampled STaR runs from ``P(lam0)``.

    Attributes
    ----------
    stalled : ndarray of bool, shape (R,)
        ``question_without_success | lost_gold``.
    question_without_success : ndarray of bool, shape (R,)
        Some iteration ``t in 1..T`` had a question with no successful trajectory.
    lost_gold : ndarray of bool, shape (R,)
        Some ``P_t[n, s, s] = 0``, ``t in 0..T``.
    stall_iteration : ndarray of int64, shape (R,)
        First ``t`` with an event (``0`` when ``P_0`` already lacks a gold transition; ``-1``
        if none).
    hit_iteration : ndarray of int64, shape (R,)
        First ``t`` with ``J(P_t) >= target`` (``-1`` if none within ``T``).
    J : ndarray, shape (R, T+1)
        Exact ``J(P_t) = (1/M) sum_q Pr_{P_t}(S_N = q | S_0 = q)`` (at temperature 1).
    target : float
        The ``J`` threshold of ``hit_iteration``.
    """

    stalled: np.ndarray
    question_without_success: np.ndarray
    lost_gold: np.ndarray
    stall_iteration: np.ndarray
    hit_iteration: np.ndarray
    J: np.ndarray
    target: float

    @property
    def replicates(self) -> int:
        """Number of runs ``R``."""
        return int(self.stalled.size)


def check_target(target) -> float:
    """``target`` as a float in ``(0, 1]``, else ValueError."""
    try:
        value = float(target)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(target, bool) or not 0.0 < value <= 1.0:
        raise ValueError(f"target (a J threshold) must be a number in (0, 1], got {target!r}")
    return value


def _expected_return(P: np.ndarray) -> np.ndarray:
    """``J = (1/M) trace(P_1 ... P_N)`` for each policy of a batch ``(B, N, M, M)``."""
    F = P[:, 0]
    for n in range(1, P.shape[1]):
        F = F @ P[:, n]
    return np.trace(F, axis1=1, axis2=2) / P.shape[-1]


def _multinomial(gen: np.random.Generator, counts: np.ndarray, pvals: np.ndarray) -> np.ndarray:
    """``gen.multinomial`` row by row, never putting the rounding leftover (numpy gives it to the
    last category) on a category of probability 0: it goes to the row's most likely entry."""
    draws = gen.multinomial(counts, pvals)
    leak = (draws[:, -1] > 0) & (pvals[:, -1] == 0)
    if leak.any():
        rows = np.flatnonzero(leak)
        best = pvals[rows].argmax(axis=1)
        draws[rows, best] += draws[rows, -1]
        draws[rows, -1] = 0
    return draws


def _sampled_star_step(P: np.ndarray, K: int, temperature: float,
                       gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One sampled STaR iteration for a batch ``(A, N, M, M)``; identity truth, all questions.

    Returns the refitted policies and the successes per question, shape ``(A, M)``.
    """
    A, N, M = P.shape[0], P.shape[1], P.shape[-1]
    Ps = temper(P, temperature)
    # H[n][a, s, q] = Pr(S_N = q | S_n = s) under replicate a's sampling policy
    H = np.empty((N + 1, A, M, M))
    H[N] = np.eye(M)
    for n in range(N, 0, -1):
        np.matmul(Ps[:, n - 1], H[n], out=H[n - 1])
    diag = np.arange(M)
    p = np.clip(H[0][:, diag, diag], 0.0, 1.0)
    successes = gen.binomial(K, p)
    # the occupied rows (replicate a, question q, state i) with c paths, sorted by (a, q, i)
    a, q = np.nonzero(successes)
    i, c = q.copy(), successes[a, q]
    counts = np.zeros((A, N, M, M))
    for n in range(1, N + 1):
        kernel = Ps[a, n - 1, i, :] * H[n][a, :, q]  # P_n[i, j] h_n(j) for question q
        mass = kernel.sum(axis=1)
        if (mass <= 0).any():
            raise ValueError("a successful path reached a state with no successful "
                             "continuation; the policy batch is not row-stochastic")
        kernel /= mass[:, None]
        draws = _multinomial(gen, c, kernel)
        cell = a * M + i
        for j in range(M):  # sum over questions: counts[a, n-1, i, j]
            counts[:, n - 1, :, j] = np.bincount(cell, weights=draws[:, j],
                                                 minlength=A * M).reshape(A, M)
        if n == N:
            break
        key = a * M + q  # rows of one (a, q) are contiguous
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        nxt = np.add.reduceat(draws, starts, axis=0)  # (groups, M): paths of (a, q) in state j
        g, j = np.nonzero(nxt)
        a, q, i, c = a[starts][g], q[starts][g], j, nxt[g, j]
    total = counts.sum(axis=-1, keepdims=True)
    refit = np.where(total > 0, counts / np.where(total > 0, total, 1.0), P)
    return refit, successes


def _block_size(M: int, R: int) -> int:
    """Replicates per block: the conditioned kernels of one step (at most ``M^2`` occupied rows
    of ``M`` entries per replicate) and the policies stay within ``_BLOCK_BYTES``."""
    return int(max(1, min(R, _BLOCK_BYTES // (8 * 6 * M**3))))


def _simulate_block(P0: np.ndarray, K: int, T: int, R: int, temperature: float, target: float,
                    gen: np.random.Generator) -> dict[str, np.ndarray]:
    N, M = P0.shape[0], P0.shape[-1]
    diag = np.arange(M)
    P = np.broadcast_to(P0, (R, N, M, M)).copy()
    lost = np.full(R, bool((P0[:, diag, diag] == 0).any()))
    without = np.zeros(R, dtype=bool)
    stall_t = np.where(lost, 0, -1).astype(np.int64)
    J = np.empty((R, T + 1))
    J[:, 0] = _expected_return(P0[None])[0]
    hit_t = np.where(J[:, 0] >= target, 0, -1).astype(np.int64)
    active = np.arange(R)
    for t in range(1, T + 1):
        Pa = P[active]
        frozen = ((Pa == 0) | (Pa == 1)).all(axis=(1, 2, 3))
        if frozen.any():  # deterministic policies are fixed points of sampled STaR
            J[active[frozen], t:] = J[active[frozen], t - 1][:, None]
            active, Pa = active[~frozen], Pa[~frozen]
        if active.size == 0:
            break
        Pa, successes = _sampled_star_step(Pa, K, temperature, gen)
        P[active] = Pa
        J[active, t] = _expected_return(Pa)
        no_success = (successes == 0).any(axis=1)
        no_gold = (Pa[:, :, diag, diag] == 0).any(axis=(1, 2))
        without[active[no_success]] = True
        lost[active[no_gold]] = True
        first = (no_success | no_gold) & (stall_t[active] < 0)
        stall_t[active[first]] = t
        reached = (J[active, t] >= target) & (hit_t[active] < 0)
        hit_t[active[reached]] = t
    return {"stalled": without | lost, "question_without_success": without, "lost_gold": lost,
            "stall_iteration": stall_t, "hit_iteration": hit_t, "J": J}


def simulate_star_runs(M: int, N: int, lam0: float, K: int, iterations: int, replicates: int,
                       temperature: float = 1.0, target: float = 0.99, rng=None) -> StallRuns:
    """``R`` independent runs of sampled STaR from ``P(lam0)``, vectorised over the runs.

    Each run follows the ``star_stall`` cell (module docstring): ``T`` iterations of sampled
    STaR with ``K`` trajectories per question at temperature ``tau``, recording the stall events
    and the exact ``J(P_t)`` of every iterate.

    Parameters
    ----------
    M, N : int
        States per step (``>= 2``) and steps (``>= 1``).
    lam0 : float
        Starting mixing weight of every step, in ``[-1/(M-1), 1]``.
    K : int
        Trajectories per question and iteration, ``1 <= K <= 2**40``.
    iterations : int
        ``T >= 0``.
    replicates : int
        ``R >= 1`` independent runs.
    temperature : float
        Sampling temperature ``tau > 0`` (``J`` is always measured at ``tau = 1``).
    target : float
        ``J`` threshold in ``(0, 1]`` for :attr:`StallRuns.hit_iteration`.
    rng : None, int or numpy.random.Generator
        One stream for all runs. The runs are processed in blocks of a size fixed by ``M`` and
        ``R``, so a seed fixes the result.

    Returns
    -------
    StallRuns
    """
    M, N = check_M(M), check_N(N)
    T = check_iterations(iterations)
    K = check_int(K, "K", 1, MAX_K, "samples per question")
    R = check_int(replicates, "replicates", 1, 10**7, "independent runs")
    tau = check_temperature(temperature)
    target = check_target(target)
    gen = check_rng(rng)
    check_memory(8.0 * R * (T + 6), f"simulate_star_runs: J of shape ({R}, {T + 1})",
                 "replicates or iterations")
    P0 = symmetric_matrix(np.full(N, float(lam0)), M)
    size = _block_size(M, R)
    parts = [_simulate_block(P0, K, T, min(size, R - lo), tau, target, gen)
             for lo in range(0, R, size)]
    joined = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    return StallRuns(target=target, **joined)


def _histogram(first: np.ndarray, T: int) -> np.ndarray:
    """Counts of ``first`` over ``-1, 0, ..., T`` (index ``k`` is ``t = k - 1``)."""
    return np.bincount(first + 1, minlength=T + 2).astype(np.int64)


def stall_cell(rng: np.random.Generator, *, M: int, N: int, lam0: float, K: int,
               iterations: int, replicates: int, temperature: float = 1.0,
               target: float = 0.99) -> dict[str, np.ndarray]:
    """One grid point of the stall sweep: ``R`` runs summarised (:func:`simulate_star_runs`).

    Returns
    -------
    dict
        ``runs`` (``R``); ``stalled``, ``question_without_success``, ``lost_gold`` (number of
        runs with the event); ``stall_iteration_count`` and ``hit_iteration_count`` (shape
        ``(T+2,)`` over ``first_iteration``: runs whose first event, resp. first
        ``J >= target``, is at ``t = k - 1`` for index ``k``, so index 0 counts "never");
        ``J_mean`` (shape ``(T+1,)`` over ``iteration``: ``(1/R) sum_r J_r(P_t)``).
    """
    runs = simulate_star_runs(M, N, lam0, K, iterations, replicates, temperature, target, rng)
    T = runs.J.shape[1] - 1
    return {"runs": np.int64(runs.replicates), "stalled": np.int64(runs.stalled.sum()),
            "question_without_success": np.int64(runs.question_without_success.sum()),
            "lost_gold": np.int64(runs.lost_gold.sum()),
            "stall_iteration_count": _histogram(runs.stall_iteration, T),
            "hit_iteration_count": _histogram(runs.hit_iteration, T),
            "J_mean": runs.J.mean(axis=0)}


#: the batched stall cell, for :func:`rlstar_theory.sweeps.run_sweep`
STALL_CELL = CellFunction(
    "star_stall_batch", stall_cell,
    params=("M", "N", "lam0", "K", "iterations", "replicates"),
    defaults=(("temperature", 1.0), ("target", 0.99)),
    output_dims={"stall_iteration_count": ("first_iteration",),
                 "hit_iteration_count": ("first_iteration",), "J_mean": ("iteration",)})

_POWERS_OF_TWO_K = [2**e for e in range(14)]

#: the sweeps: grid (swept in this order) and fixed parameters, each with its output file name
GRIDS: dict[str, dict] = {
    # the committed phase diagram: 504 grid points x 1000 runs (the boundary is fitted on it)
    "committed": {"file": "stalls.nc", "root_seed": 13_001,
                  "grid": {"M": [4, 8], "N": [2, 3, 4],
                           "lam0": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "K": _POWERS_OF_TWO_K},
                  "fixed": {"iterations": 10, "replicates": 1000}},
    # held-out cells for the fitted boundary: other M, N and lam0 than the committed grid
    "heldout": {"file": "stalls_heldout.nc", "root_seed": 13_002,
                "grid": {"M": [6, 12], "N": [3, 5], "lam0": [0.25, 0.45],
                         "K": _POWERS_OF_TWO_K},
                "fixed": {"iterations": 10, "replicates": 1000}},
    # the bigger grid (documented, for a cluster): 3264 grid points x 1000 runs
    "full": {"file": "stalls_full.nc", "root_seed": 13_003,
             "grid": {"M": [4, 8, 16, 32], "N": [2, 3, 4, 5],
                      "lam0": [round(0.05 * k, 2) for k in range(1, 13)],
                      "K": [2**e for e in range(17)]},
             "fixed": {"iterations": 10, "replicates": 1000}},
}


def _grid_spec(name: str) -> dict:
    if name not in GRIDS:
        raise ValueError(f"grid must be one of {sorted(GRIDS)}, got {name!r}")
    return GRIDS[name]


def run_stall_sweep(grid: str | Mapping = "committed", out=None, work=None, executor=None,
                    workers: int | None = None, progress: bool = True,
                    replicates: int | None = None, fixed: Mapping | None = None,
                    root_seed: int | None = None):
    """Run a stall sweep with :func:`rlstar_theory.sweeps.run_sweep` and save its results.

    Parameters
    ----------
    grid : str or mapping
        A name of :data:`GRIDS` or a grid ``{dimension: values}`` over ``M, N, lam0, K`` (and
        optionally ``temperature``).
    out : path, optional
        Folder for the netCDF file (``GRIDS[grid]["file"]``, or ``stalls_custom.nc``).
    work : path, optional
        Folder of the sweep's part files (resumable); default ``runs/open_questions/<grid>``
        in the current folder (git ignores ``runs/``), or none (nothing resumable) without
        ``out``.
    executor, workers, progress
        As in :func:`rlstar_theory.sweeps.run_sweep`.
    replicates : int, optional
        Runs per grid point (overrides the grid's fixed value).
    fixed : mapping, optional
        Further fixed parameters (``iterations``, ``temperature``, ``target``).
    root_seed : int, optional
        Root of the random streams (default: the named grid's).

    Returns
    -------
    xarray.Dataset
        The sweep's results (:func:`stall_cell` outputs over the grid).
    """
    from rlstar_theory.sweeps.results import save_results
    from rlstar_theory.sweeps.runner import run_sweep

    if isinstance(grid, str):
        spec, name = _grid_spec(grid), grid
    else:
        spec, name = {"file": "stalls_custom.nc", "root_seed": 13_000, "grid": dict(grid),
                      "fixed": {"iterations": 10, "replicates": 1000}}, "custom"
    params = dict(spec["fixed"])
    params.update(fixed or {})
    if replicates is not None:
        params["replicates"] = check_int(replicates, "replicates", 1, 10**7)
    seed = spec["root_seed"] if root_seed is None else root_seed
    if work is None and out is not None:
        work = Path("runs") / "open_questions" / name
    ds = run_sweep(STALL_CELL, spec["grid"], executor=executor, out=work, root_seed=seed,
                   progress=progress, workers=workers, fixed=params)
    ds = ds.assign_coords(first_iteration=np.arange(-1, ds.sizes["first_iteration"] - 1),
                          iteration=np.arange(ds.sizes["iteration"]))
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        save_results(ds, Path(out) / spec["file"])
    return ds


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        prog="python -m rlstar_theory.open_questions.stalls",
        description="Stall phase diagram of sampled STaR (RL-STaR open question Q3): run a grid "
                    "of (M, N, lam0, K) with many runs each, save it as netCDF, fit the 50% "
                    "boundary and draw the figures.")
    parser.add_argument("--out", type=Path, required=True, help="folder for data and figures")
    parser.add_argument("--grid", default="committed", choices=sorted(GRIDS),
                        help="which sweep (default: committed; 'heldout' is run with it)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the resumable part files (default runs/open_questions)")
    parser.add_argument("--replicates", type=int, default=None,
                        help="runs per grid point (default 1000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local processes")
    where.add_argument("--scheduler", default=None, help="address of a Dask scheduler")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from rlstar_theory.cli._paths import check_out_dir

    out = check_out_dir(args.out)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    client = executor = None
    if args.scheduler is not None:
        from rlstar_theory.sweeps.deps import require

        distributed = require("distributed", "--scheduler")
        try:
            client = distributed.Client(args.scheduler, timeout=20)
        except OSError as exc:
            raise ValueError(f"--scheduler: cannot connect to {args.scheduler} "
                             f"({exc})") from None
        executor = client.get_executor()
    names = ["committed", "heldout"] if args.grid == "committed" else [args.grid]
    try:
        for name in names:
            start = time.perf_counter()
            work = args.work / name if args.work is not None else None
            run_stall_sweep(name, out=out, work=work, executor=executor,
                            workers=args.workers, progress=not args.no_progress,
                            replicates=args.replicates)
            print(f"stall sweep {name!r}: {time.perf_counter() - start:.1f} s -> "
                  f"{out / GRIDS[name]['file']}")
    finally:
        if client is not None:
            client.close()
    if args.grid == "committed":
        from rlstar_theory.open_questions.stall_boundary import write_boundary_outputs

        for path in write_boundary_outputs(out):
            print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the sweep(s), fit the boundary, write data and figures; exit status."""
    return main_wrapper(_run, argv, "stalls")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
