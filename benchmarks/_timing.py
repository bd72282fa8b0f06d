"""Best-of-several wall-clock timing shared by the benchmarks."""

from __future__ import annotations

import time


def best_time(func, repeat: int = 5, number: int = 1) -> float:
    """Smallest mean time per call over ``repeat`` runs of ``number`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
