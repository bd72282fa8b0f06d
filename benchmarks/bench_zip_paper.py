"""Benchmark: the zip experiment's paper preset (M=64, N=3, 64 x 4096 samples, tau=0.5).

Prints the total wall time, each phase's share, and per-iteration J learned vs theory.
Not a test. Usage::

    python benchmarks/bench_zip_paper.py [--delta0 0.2] [--threads 2] [--out DIR]

A fresh run folder is used (``--out`` is deleted first unless ``--resume``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delta0", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the preset's, 1)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_zip_paper"))
    parser.add_argument("--pretrain-steps", type=int, default=None,
                        help="override the preset's final pre-training steps")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    from rlstar_theory.zip.config import make_config
    from rlstar_theory.zip.loop import run_experiment
    from rlstar_theory.zip.report import summary_lines, write_figures

    cfg = make_config("paper", delta0_diag=args.delta0, threads=args.threads,
                      pretrain_steps=args.pretrain_steps, seed=args.seed)
    if args.out.exists() and not args.resume:
        shutil.rmtree(args.out)
    start = time.perf_counter()
    res = run_experiment(cfg, args.out, progress=not args.no_progress,
                         log=lambda line: print(line, file=sys.stderr, flush=True))
    total = time.perf_counter() - start
    r = res.results
    phases = {"pretrain: training": r["pretrain"]["timing"]["train_s"],
              "pretrain: scoring": r["pretrain"]["timing"]["score_s"]}
    for e in r["iterations"]:
        for key, name in (("sample_s", "sampling"), ("train_s", "RL retraining"),
                          ("score_s", "scoring"), ("theory_s", "theory"), ("io_s", "saving")):
            phases[name] = phases.get(name, 0.0) + e["timing"][key]
    phases["other (setup, loading)"] = total - sum(phases.values())
    print(f"total {total:.1f} s ({total / 60:.2f} min), threads={cfg.threads}, "
          f"{len(r['iterations'])} iteration(s)")
    for name, sec in phases.items():
        print(f"  {name:24s} {sec:8.1f} s  {100 * sec / total:5.1f} %")
    print("\n".join(summary_lines(args.out)))
    write_figures(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
