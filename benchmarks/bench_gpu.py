"""GPU speed-up of the batched exact STaR step: torch on CUDA vs numpy on the CPU.

Informational (not one of run_all's pass/fail rows): the same ``star_step_batched`` runs on a
numpy batch and on the same batch as a torch CUDA tensor (through array-api-compat), at
M = 1024, N = 16, in float64 and in float32. Prints ``no CUDA device: skipped`` where torch,
array-api-compat or a CUDA device is missing.

Usage: ``python -m benchmarks.bench_gpu [--batch B] [--states M] [--steps N] [--device cuda]``
(``--device cpu`` runs the torch path on the CPU, a check of the script itself).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

import numpy as np

from rlstar_theory.mdp.batched import star_step_batched
from rlstar_theory.validation import check_memory

try:
    from benchmarks._timing import best_time
except ImportError:  # run as a script from benchmarks/
    from _timing import best_time

B, M, N = 4, 1024, 16


def available(device: str) -> str | None:
    """Why the benchmark cannot run on ``device`` (None when it can)."""
    for module in ("torch", "array_api_compat"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        return "no CUDA device"
    return None


def run(batch: int = B, states: int = M, steps: int = N, device: str = "cuda",
        repeat: int = 3) -> list[dict]:
    """Rows of timings (empty when the device is not available)."""
    why = available(device)
    if why is not None:
        print(f"{why}: skipped (bench_gpu, batched star_step at M={states}, N={steps})")
        return []
    import torch

    shape = (batch, steps, states, states)
    nbytes = 8 * np.prod(shape)
    check_memory(3 * nbytes, f"bench_gpu: numpy batch of shape {shape}", "--batch or --states")
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info()
        if 4 * nbytes > free:
            raise ValueError(f"bench_gpu: the batch needs about {4 * nbytes / 2**30:.1f} GiB of "
                             f"device memory, {free / 2**30:.1f} GiB free; reduce --batch")
    rng = np.random.default_rng(0)
    P = rng.random(shape)
    P /= P.sum(axis=-1, keepdims=True)
    truth = np.argsort(rng.random((batch, steps, states)), axis=-1)
    start = rng.dirichlet(np.ones(states), batch)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    reference = star_step_batched(P, truth, start)  # also the warm-up
    t_cpu = best_time(lambda: star_step_batched(P, truth, start), repeat)
    rows = []
    for dtype in (torch.float64, torch.float32):
        Pt = torch.as_tensor(P, device=device).to(dtype)
        Pt = Pt / Pt.sum(dim=-1, keepdim=True)  # rows normalised in this dtype
        out = star_step_batched(Pt, truth, start)  # warm-up (kernels, cuBLAS handles)
        sync()
        err = float(np.abs(out.double().cpu().numpy() - reference).max())

        def step(Pt=Pt):
            star_step_batched(Pt, truth, start)
            sync()

        t_dev = best_time(step, repeat)
        name = str(dtype).removeprefix("torch.")
        rows.append({
            "benchmark": f"batched star_step on torch {device}, {name}, B={batch}, "
                         f"M={states}, N={steps}",
            "baseline": "numpy float64 on the CPU",
            "target": "informational",
            "measured": t_cpu / t_dev,
            "detail": f"{t_dev * 1e3:.3g} ms vs {t_cpu * 1e3:.3g} ms; max |diff| {err:.1e}",
            "passed": True,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=B)
    parser.add_argument("--states", type=int, default=M)
    parser.add_argument("--steps", type=int, default=N)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    for row in run(args.batch, args.states, args.steps, args.device):
        print(f"{row['benchmark']}: speed-up {row['measured']:.3g}x ({row['detail']})")
    print(f"(total {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
