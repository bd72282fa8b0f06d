"""Batched stall runs (``rlstar_theory.open_questions.stalls``) vs the ``star_stall`` cell.

Target (issue 13): ``simulate_star_runs`` with R = 1000 replicates costs at least 5x less per
replicate than calling the one-replicate ``star_stall`` sweep cell R times, at the grid points of
the committed stall sweep (M = 8, N = 3, 10 iterations; one K just below the boundary, one far
above it). Both draw the same law (tests/open_questions/test_stalls.py); the baseline is timed on
fewer replicates and compared per replicate.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.open_questions.stalls import simulate_star_runs
from rlstar_theory.sweeps.cells import star_stall

try:
    from benchmarks._timing import best_time
except ImportError:  # run as a script from benchmarks/
    from _timing import best_time

SPEEDUP_TARGET = 5.0
#: (M, N, lam0, K): below and far above the stall boundary of P(0.3)
POINTS = ((8, 3, 0.3, 32), (8, 3, 0.3, 4096))
REPLICATES = 1000
BASELINE_REPLICATES = 50


def run(points=POINTS) -> list[dict]:
    rows = []
    for M, N, lam0, K in points:
        def batched(M=M, N=N, lam0=lam0, K=K):
            simulate_star_runs(M, N, lam0, K, 10, REPLICATES, rng=1)

        def one_by_one(M=M, N=N, lam0=lam0, K=K):
            for seed in range(BASELINE_REPLICATES):
                star_stall(np.random.default_rng(seed), M=M, N=N, lam0=lam0, K=K, iterations=10)

        t_batch = best_time(batched, repeat=3) / REPLICATES
        t_cell = best_time(one_by_one, repeat=3) / BASELINE_REPLICATES
        speedup = t_cell / t_batch
        rows.append({
            "benchmark": f"stall runs, M={M}, N={N}, lam0={lam0}, K={K}, 10 iterations",
            "baseline": f"star_stall cell per replicate (timed on {BASELINE_REPLICATES})",
            "target": f"speed-up per replicate >= {SPEEDUP_TARGET:g}x",
            "measured": speedup,
            "detail": f"{t_batch * 1e3:.3g} ms vs {t_cell * 1e3:.3g} ms per replicate",
            "passed": speedup >= SPEEDUP_TARGET,
        })
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
