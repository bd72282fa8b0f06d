"""Dense forward/backward step vs brute-force enumeration at M = 8, N = 6 (target >= 1000x)."""

from __future__ import annotations

import numpy as np

from rlstar_theory import star_step
from rlstar_theory.bruteforce import brute_force_star_step

try:
    from benchmarks._timing import best_time
except ImportError:  # run as a script from benchmarks/
    from _timing import best_time

TARGET = 1000.0
M, N = 8, 6


def run() -> list[dict]:
    rng = np.random.default_rng(0)
    P = rng.random((N, M, M))
    P /= P.sum(axis=-1, keepdims=True)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    dense = star_step(P, truth)
    brute = brute_force_star_step(P, truth)
    assert np.abs(dense - brute).max() <= 1e-12  # same answer, or the timing means nothing
    t_dense = best_time(lambda: star_step(P, truth), repeat=7, number=20)
    t_brute = best_time(lambda: brute_force_star_step(P, truth), repeat=3)
    ratio = t_brute / t_dense
    return [{
        "benchmark": f"dense vs brute force, M={M}, N={N} ({M ** (N + 1):,} paths)",
        "baseline": "rlstar_theory.bruteforce.brute_force_star_step",
        "target": f"speed-up >= {TARGET:g}x",
        "measured": ratio,
        "detail": f"{t_dense * 1e6:.3g} us vs {t_brute * 1e3:.3g} ms",
        "passed": ratio >= TARGET,
    }]


if __name__ == "__main__":
    for row in run():
        print(row)
