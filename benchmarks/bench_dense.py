"""Dense ``star_step`` (N = 8) vs the time of 3N plain M x M numpy matmuls (target <= 1.5),
and its peak memory vs the size of its own result (target <= 1.5)."""

from __future__ import annotations

import numpy as np

from rlstar_theory import star_step

try:
    from benchmarks._timing import best_time
except ImportError:  # run as a script from benchmarks/
    from _timing import best_time

TARGET = 1.5
MEMORY_TARGET = 1.5
N = 8


def random_policy(M: int, N: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    P = rng.random((N, M, M))
    return P / P.sum(axis=-1, keepdims=True)


def run(sizes=(64, 256, 1024)) -> list[dict]:
    rows = []
    for M in sizes:
        P = random_policy(M, N)
        truth = np.array([np.random.default_rng(n).permutation(M) for n in range(N)])
        A, B = P[0].copy(), P[1].copy()
        repeat = 7 if M <= 256 else 4
        # small sizes: the mean of a batch of calls, so one timer call and one OS hiccup do
        # not dominate a sub-millisecond measurement (same batching for both sides)
        number = 20 if M <= 64 else 5 if M <= 256 else 1

        def matmuls(A=A, B=B):
            for _ in range(3 * N):
                A @ B

        def step(P=P, truth=truth):
            star_step(P, truth)

        step()  # warm-up (BLAS threads, caches)
        matmuls()
        t_mm = best_time(matmuls, repeat, number)
        t_step = best_time(step, repeat, number)
        ratio = t_step / t_mm
        rows.append({
            "benchmark": f"dense star_step, M={M}, N={N}",
            "baseline": f"{3 * N} numpy {M}x{M} matmuls",
            "target": f"ratio <= {TARGET}",
            "measured": ratio,
            "detail": f"{t_step * 1e3:.3g} ms vs {t_mm * 1e3:.3g} ms",
            "passed": ratio <= TARGET,
        })
    rows.append(peak_memory_row())
    return rows


def peak_memory_row(M: int = 512) -> dict:
    """Peak bytes numpy allocates inside one ``star_step`` (``tracemalloc`` sees numpy's
    allocations), as a multiple of the ``N M^2`` float64 result it must return."""
    import tracemalloc

    P = random_policy(M, N)
    truth = np.array([np.random.default_rng(n).permutation(M) for n in range(N)])
    star_step(P, truth)
    tracemalloc.start()
    star_step(P, truth)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ratio = peak / P.nbytes
    return {
        "benchmark": f"dense star_step peak memory, M={M}, N={N}",
        "baseline": f"its (N, M, M) float64 result, {P.nbytes / 2**20:.0f} MiB",
        "target": f"ratio <= {MEMORY_TARGET}",
        "measured": ratio,
        "detail": f"peak {peak / 2**20:.1f} MiB",
        "passed": ratio <= MEMORY_TARGET,
    }


if __name__ == "__main__":
    for row in run():
        print(row)
