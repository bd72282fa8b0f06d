"""Batched exact STaR step (``star_step_batched``) against one model per call.

* B = 10^4 models at M = 8, N = 6 (per-model truth and start): time per model vs one
  unbatched ``star_step`` call per model (target >= 8x less) and vs brute-force enumeration
  (target >= 2000x less). Both baselines are timed on a subsample of models and scaled
  linearly, as one long run each like the batch (the best of many short calls would dodge a
  busy machine's contention that a long batched call cannot);
* M = 256, N = 8, B = 8: the batched call vs B separate calls (target ratio <= 1.3).
"""

from __future__ import annotations

import numpy as np

from rlstar_theory import star_step
from rlstar_theory.bruteforce import brute_force_star_step
from rlstar_theory.mdp.batched import star_step_batched
from rlstar_theory.validation import check_memory

try:
    from benchmarks._timing import best_time
except ImportError:  # run as a script from benchmarks/
    from _timing import best_time

SMALL_TARGET = 8.0
BRUTE_TARGET = 2000.0
LARGE_TARGET = 1.3


def random_batch(B: int, N: int, M: int, seed: int = 0):
    """``B`` random policies with per-model permutation truths and starts (memory checked)."""
    # P, the result, the tempered copy's worth of slack and the truths
    check_memory(3 * B * N * M * M * 8 + B * N * M * 8, f"bench_batched: a batch of {B:,} "
                 f"models of shape ({N}, {M}, {M})", "B")
    rng = np.random.default_rng(seed)
    P = rng.random((B, N, M, M))
    P /= P.sum(axis=-1, keepdims=True)
    truth = np.argsort(rng.random((B, N, M)), axis=-1)  # a random permutation per step
    start = rng.dirichlet(np.ones(M), B)
    return P, truth, start


def interleaved_best(funcs, repeat: int, number: int = 1) -> list[float]:
    """Best time of each function, timed in turns (a noisy machine slows them alike)."""
    best = [float("inf")] * len(funcs)
    for _ in range(repeat):
        for i, f in enumerate(funcs):
            best[i] = min(best[i], best_time(f, 1, number))
    return best


def small_rows(B: int = 10_000, N: int = 6, M: int = 8, sample: int = 3,
               calls: int = 300) -> list[dict]:
    P, truth, start = random_batch(B, N, M)
    batched = star_step_batched(P, truth, start)
    for b in range(sample):  # same answers, or the timing means nothing
        assert np.abs(batched[b] - star_step(P[b], truth[b], start[b])).max() <= 1e-12
        assert np.abs(batched[b] - brute_force_star_step(P[b], truth[b], start[b])).max() <= 1e-12

    def separate_calls():  # one call per model, on a subsample: as long-running as a batch,
        for b in range(calls):  # so that a busy machine slows both sides alike
            star_step(P[b], truth[b], start[b])

    def brute():
        for b in range(sample):
            brute_force_star_step(P[b], truth[b], start[b])

    def batch():
        star_step_batched(P, truth, start)

    t_batch, t_calls, t_brute = interleaved_best([batch, separate_calls, brute], repeat=5)
    per_model, t_one, t_brute = t_batch / B, t_calls / calls, t_brute / sample
    return [{
        "benchmark": f"batched star_step, B={B:,}, M={M}, N={N}",
        "baseline": f"one star_step call per model ({calls} models, scaled)",
        "target": f"speed-up per model >= {SMALL_TARGET:g}x",
        "measured": t_one / per_model,
        "detail": f"{per_model * 1e6:.3g} us/model vs {t_one * 1e6:.3g} us",
        "passed": t_one / per_model >= SMALL_TARGET,
    }, {
        "benchmark": f"batched star_step vs brute force, B={B:,}, M={M}, N={N}",
        "baseline": f"brute_force_star_step ({sample} models, scaled)",
        "target": f"speed-up per model >= {BRUTE_TARGET:g}x",
        "measured": t_brute / per_model,
        "detail": f"{per_model * 1e6:.3g} us/model vs {t_brute * 1e3:.3g} ms",
        "passed": t_brute / per_model >= BRUTE_TARGET,
    }]


def large_row(B: int = 8, N: int = 8, M: int = 256) -> dict:
    P, truth, start = random_batch(B, N, M, seed=1)

    def batch():
        star_step_batched(P, truth, start)

    def separate():
        for b in range(B):
            star_step(P[b], truth[b], start[b])

    batch()  # warm-up (BLAS threads, pages)
    separate()
    t_batch, t_sep = interleaved_best([batch, separate], repeat=7)
    ratio = t_batch / t_sep
    return {
        "benchmark": f"batched star_step, B={B}, M={M}, N={N}",
        "baseline": f"{B} separate star_step calls",
        "target": f"ratio <= {LARGE_TARGET}",
        "measured": ratio,
        "detail": f"{t_batch * 1e3:.3g} ms vs {t_sep * 1e3:.3g} ms",
        "passed": ratio <= LARGE_TARGET,
    }


def run() -> list[dict]:
    return small_rows() + [large_row()]


if __name__ == "__main__":
    for row in run():
        print(row)
