"""Count sampler (Doob h-transform) vs trajectory sampling plus counting, and its cost in K.

Targets (issue 12): at K = 10^6 samples per question the count sampler is >= 1000x faster than
``rlstar_theory.sampling.sample_trajectories`` followed by counting the success and failure
transitions; from K = 10^3 to K = 10^9 its time grows by less than 2x. The trajectory side is
linear in K, so it is timed at a smaller K and scaled linearly (the row says so).
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.mdp.count_sampler import sample_counts
from rlstar_theory.sampling import sample_trajectories

try:
    from benchmarks._timing import best_time
except ImportError:  # run as a script from benchmarks/
    from _timing import best_time

SPEEDUP_TARGET = 1000.0
GROWTH_TARGET = 2.0
K_TARGET = 10**6
#: (M, N, K at which the trajectory side is timed)
SIZES = ((8, 6, 10**5), (64, 8, 10**4))


def random_model(M: int, N: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    P = rng.random((N, M, M))
    P /= P.sum(axis=-1, keepdims=True)
    return P, rng.permutation(M)


def trajectory_counts(P: np.ndarray, answers: np.ndarray, K: int, seed: int) -> np.ndarray:
    """The baseline: sample ``K`` trajectories per question, then count success and failure
    transitions per question and step, ``[outcome, q, n-1, i, j]``."""
    N, M = P.shape[0], P.shape[1]
    paths = sample_trajectories(P, K, rng=seed)
    outcome = (paths[:, N] != answers[paths[:, 0]]).astype(np.int64)
    base = (outcome * M + paths[:, 0]) * N
    out = np.zeros(2 * M * N * M * M, dtype=np.int64)
    for n in range(N):
        out += np.bincount(((base + n) * M + paths[:, n]) * M + paths[:, n + 1],
                           minlength=out.size)
    return out.reshape(2, M, N, M, M)


def run(sizes=SIZES) -> list[dict]:
    rows = []
    for M, N, K_traj in sizes:
        P, answers = random_model(M, N)
        # the two sides agree in expectation (a sanity check, or the timing means nothing)
        traj = trajectory_counts(P, answers, K_traj, seed=1)
        fast = sample_counts(P, answers, K_traj, rng=2)
        # total successes: two independent sums of M binomials, sd <= sqrt(2 M K / 4)
        gap = int(traj[0, :, 0].sum()) - int(fast.successes.sum())
        assert abs(gap) < 6 * np.sqrt(M * K_traj / 2), gap
        number, repeat = (20, 7) if M <= 8 else (1, 5)

        def count_side(K, P=P, answers=answers):
            return lambda: sample_counts(P, answers, K, rng=3)

        t_counts = {K: best_time(count_side(K), repeat=repeat, number=number)
                    for K in (10**3, K_TARGET, 10**9)}
        t_traj = best_time(lambda P=P, answers=answers, K=K_traj:
                           trajectory_counts(P, answers, K, seed=4), repeat=3)
        scale = K_TARGET / K_traj
        speedup = t_traj * scale / t_counts[K_TARGET]
        rows.append({
            "benchmark": f"count sampler, M={M}, N={N}, K=1e6 per question ({M} questions)",
            "baseline": f"sample_trajectories + counting, timed at K={K_traj:.0e} and scaled "
                        f"x{scale:g}",
            "target": f"speed-up >= {SPEEDUP_TARGET:g}x",
            "measured": speedup,
            "detail": f"{t_counts[K_TARGET] * 1e3:.3g} ms vs {t_traj * scale:.3g} s",
            "passed": speedup >= SPEEDUP_TARGET,
        })
        growth = t_counts[10**9] / t_counts[10**3]
        rows.append({
            "benchmark": f"count sampler time in K, M={M}, N={N}",
            "baseline": "the same call at K=1e3",
            "target": f"K=1e9 / K=1e3 < {GROWTH_TARGET:g}",
            "measured": growth,
            "detail": f"{t_counts[10**9] * 1e3:.3g} ms vs {t_counts[10**3] * 1e3:.3g} ms "
                      f"(K=1e6: {t_counts[K_TARGET] * 1e3:.3g} ms)",
            "passed": growth < GROWTH_TARGET,
        })
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
