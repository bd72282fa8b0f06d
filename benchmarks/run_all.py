"""Run every benchmark of issue 2 side by side and print a Markdown table.

Usage: ``python -m benchmarks.run_all`` (or ``python benchmarks/run_all.py``) from the repo root.
Ratios, not absolute times, are the result: each benchmark times the engine and its baseline
in the same run on the same machine (best of several runs).
"""

from __future__ import annotations

import io
import os
import platform
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (  # noqa: E402
    bench_batched,
    bench_bruteforce,
    bench_count_sampler,
    bench_dense,
    bench_stalls,
    bench_symmetric_sweep,
)


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        buf = io.StringIO()
        with redirect_stdout(buf):
            np.show_config()
        text = buf.getvalue()
        names = [line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.strip().startswith("name:")]
        return "numpy.show_config: " + (", ".join(dict.fromkeys(names)) or "unknown")
    pools = threadpool_info()
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} "
                     f"({p.get('num_threads')} threads)" for p in pools) or "none found"


def machine_info() -> list[str]:
    return [
        f"- machine: {platform.machine()}, {platform.processor() or 'unknown CPU'}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, numpy {np.__version__}",
        f"- BLAS: {blas_info()}",
    ]


def main() -> int:
    rows = []
    for module in (bench_dense, bench_symmetric_sweep, bench_bruteforce, bench_count_sampler,
                   bench_batched, bench_stalls):
        rows.extend(module.run())
    print("| benchmark | baseline | target | measured | times | result |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['benchmark']} | {r['baseline']} | {r['target']} | {r['measured']:.3g} | "
              f"{r['detail']} | {'pass' if r['passed'] else 'FAIL'} |")
    print()
    print("\n".join(machine_info()))
    print("- the Python-loop baseline of the sweep is timed on a subsample and scaled linearly")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
