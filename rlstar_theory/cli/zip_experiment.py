"""``rlstar zip-experiment``: RL-STaR with a small GPT-2 on the zip task, checked against theory.

Examples
--------
``rlstar zip-experiment --preset smoke --out runs/smoke``
``rlstar zip-experiment --preset paper --delta0 0.2 --out runs/paper_d02``
``rlstar zip-experiment --preset paper --delta0 0.1 --out runs/paper_d01``

Needs the ``gpt2`` extra (torch, transformers, tqdm). Re-running the same command with the same
``--out`` resumes after the last finished iteration.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HELP = "RL-STaR with a small GPT-2 on the zip task; learned matrices against the exact theory"

INSTALL = ('rlstar zip-experiment needs torch and transformers: pip install '
           '"rlstar_theory[gpt2]" (or pip install -e ".[gpt2]" in a checkout)')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rlstar zip-experiment`` (unset options take the preset's value)."""
    parser.add_argument("--out", type=Path, required=True, help="run folder (resumed if present)")
    parser.add_argument("--preset", choices=("paper", "smoke"), default="paper",
                        help="paper: M=64, N=3, 4096 samples/question, tau=0.5 (default); "
                             "smoke: M=16, N=2, 256 samples/question, under a minute")
    parser.add_argument("--bits", type=int, dest="n_bits",
                        help="digits per number n: M = 4**n questions, N = n steps")
    parser.add_argument("--delta0", metavar="D[,D...]",
                        help="pre-training diagonal excess delta_diag (data generator's "
                             "convention: correct with probability 1/M + delta_diag), one value "
                             "or one per step")
    parser.add_argument("--warm-delta", dest="warm_delta_diag", metavar="D|none",
                        help="curriculum: pre-train at this delta_diag first (default 0.9), "
                             "then move the data linearly to --delta0; 'none' switches it off")
    parser.add_argument("--iterations", type=int, help="maximum RL-STaR iterations T")
    parser.add_argument("--samples", type=int, dest="samples_per_question",
                        help="trajectories sampled per question per iteration")
    parser.add_argument("--temperature", type=float, help="sampling temperature tau")
    parser.add_argument("--data", choices=("sampled", "exact"),
                        help="train on kept sampled trajectories (default) or on the exact "
                             "expected filtered data")
    parser.add_argument("--restart", choices=("pretrained", "last"),
                        help="retrain from the pre-trained model (default) or the last one")
    parser.add_argument("--layers", type=int, dest="n_layer", help="GPT-2 layers")
    parser.add_argument("--width", type=int, dest="n_embd", help="GPT-2 width (n_embd)")
    parser.add_argument("--heads", type=int, dest="n_head", help="attention heads")
    parser.add_argument("--warm-steps", type=int, dest="pretrain_warm_steps",
                        help="pre-training steps at --warm-delta")
    parser.add_argument("--ramp-steps", type=int, dest="pretrain_ramp_steps",
                        help="pre-training steps moving the data from --warm-delta to --delta0")
    parser.add_argument("--pretrain-steps", type=int, dest="pretrain_steps",
                        help="pre-training steps at --delta0 (learning rate decaying)")
    parser.add_argument("--pretrain-lr", type=float, dest="pretrain_lr",
                        help="peak pre-training learning rate")
    parser.add_argument("--train-steps", type=int, dest="train_steps",
                        help="retraining steps per iteration")
    parser.add_argument("--train-lr", type=float, dest="train_lr",
                        help="retraining learning rate (keep <= 1e-3)")
    parser.add_argument("--stop-J", type=float, dest="stop_J",
                        help="stop once the learned J reaches this")
    parser.add_argument("--init-from", dest="init_from", metavar="DIR",
                        help="local directory of GPT-2 weights to start from (no download)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--threads", type=int,
                        help="torch threads (default 1: a 0.1M-parameter model runs slower "
                             "on 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.add_argument("--json", action="store_true", help="print results.json to stdout")


def _parse_delta(text: str | None):
    if text is None:
        return None
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--delta0 must be numbers separated by commas, got {text!r}") from None
    return vals[0] if len(vals) == 1 else vals


def make_config_from_args(args: argparse.Namespace):
    """The :class:`~rlstar_theory.zip.config.ZipConfig` the options describe."""
    from rlstar_theory.zip.config import make_config

    names = ("n_bits", "warm_delta_diag", "iterations", "samples_per_question", "temperature",
             "data", "restart", "n_layer", "n_embd", "n_head", "pretrain_steps", "pretrain_lr",
             "pretrain_warm_steps", "pretrain_ramp_steps", "train_steps", "train_lr", "stop_J",
             "init_from", "seed", "threads")
    over = {k: getattr(args, k, None) for k in names}
    over["delta0_diag"] = _parse_delta(getattr(args, "delta0", None))
    warm = over["warm_delta_diag"]
    if warm is not None and warm.lower() != "none":
        try:
            over["warm_delta_diag"] = float(warm)
        except ValueError:
            raise ValueError(f"--warm-delta must be a number or 'none', got {warm!r}") from None
    elif warm is not None:
        over["warm_delta_diag"] = "none"
    if over["init_from"] is not None:
        over["init_from"] = str(Path(over["init_from"]).resolve())
    return make_config(args.preset, **over)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the experiment; print the per-iteration table. Returns 0, or 2 without
    the ``gpt2`` extra."""
    cfg = make_config_from_args(args)
    for mod in ("torch", "transformers", "tqdm"):
        if importlib.util.find_spec(mod) is None:
            sys.stderr.write(INSTALL + "\n")
            return 2
    from rlstar_theory.zip.loop import run_experiment
    from rlstar_theory.zip.report import summary_lines, write_figures

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")

    res = run_experiment(cfg, args.out, progress=not args.no_progress, log=log)
    if not args.no_figures:
        write_figures(args.out)
    if args.json:
        print(json.dumps(res.results, indent=1))
    else:
        print("\n".join(summary_lines(args.out)))
        print(f"results, matrices and figures in {args.out}")
    return 0
