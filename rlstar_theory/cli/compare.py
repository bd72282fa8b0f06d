"""``rlstar compare``: every rule from the same pre-trained policy, exact or sampled."""

from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm.auto import tqdm

from rlstar_theory.atomic import write_bytes_atomic, write_json_atomic
from rlstar_theory.cli._model_args import add_model_arguments, model_from_args, parse_ints
from rlstar_theory.cli._paths import check_out_dir
from rlstar_theory.jsonable import json_text
from rlstar_theory.rules import RULES, iterate, make_rule
from rlstar_theory.rules.iterate import DEFAULT_MAJ_KS, DEFAULT_PASS_KS

HELP = "run several training rules from the same pre-trained policy and compare them"
DEFAULT_RULES = "star,reinforce,grpo,ppo"
TARGET_J = 0.9


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", default=DEFAULT_RULES,
                        help=f"comma-separated rule names (default {DEFAULT_RULES}); known: "
                             f"{', '.join(RULES)}")
    add_model_arguments(parser)
    parser.add_argument("--iterations", type=int, default=10,
                        help="training iterations T (default 10)")
    parser.add_argument("--samples-per-question", type=int, default=None, metavar="K",
                        help="switch to sampled mode with K trajectories per training question "
                             "and iteration (default: exact mode, which counts one group of "
                             "--group-size per question as its nominal samples)")
    parser.add_argument("--group-size", type=int, default=8, metavar="G",
                        help="group size G of group rules (GRPO, RLOO, F-ISFT; default 8)")
    parser.add_argument("--lr", type=float, default=1.0,
                        help="learning rate of gradient rules (default 1.0)")
    parser.add_argument("--k", default=",".join(map(str, DEFAULT_PASS_KS)),
                        help="k values of pass@k (default %(default)s)")
    parser.add_argument("--maj-k", default=",".join(map(str, DEFAULT_MAJ_KS)),
                        help="k values of maj@k, each <= 64 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="root seed of sampled mode and of --train-fraction (default 0)")
    parser.add_argument("--json", action="store_true",
                        help="print the per-rule arrays over t = 0..T as one JSON object")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for compare.png/.pdf, compare.csv, compare.md and "
                             "compare.json")


def _rule_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not text.strip() or any(not n for n in names):
        raise ValueError(f"--rules must be a comma-separated list of rule names, got {text!r}")
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"--rules: unknown rule(s) {', '.join(unknown)}; known: "
                         f"{', '.join(RULES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--rules names a rule twice: {text!r}")
    return names


def _table(histories) -> tuple[list[str], list[list]]:
    header = ["rule", "mode", "J_final", f"samples_to_J>={TARGET_J}", "support_final"]
    first = histories[0]
    header += [f"pass@{k}" for k in first.train.pass_at_k]
    header += [f"maj@{k}" for k in first.train.maj_at_k]
    if first.test is not None:
        header.append("J_test_final")
    rows = []
    for h in histories:
        row = [h.rule, h.mode, float(h.J[-1]), h.samples_to_reach(TARGET_J),
               int(h.support[-1])]
        row += [float(v[-1]) for v in h.train.pass_at_k.values()]
        row += [float(v[-1]) for v in h.train.maj_at_k.values()]
        if h.test is not None:
            row.append(float(h.test.J[-1]))
        rows.append(row)
    return header, rows


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def _per_rule_json(h) -> dict:
    out = {
        "J": h.train.J.tolist(),
        "samples": h.samples.tolist(),
        "pass_at_k": {str(k): v.tolist() for k, v in h.train.pass_at_k.items()},
        "maj_at_k": {str(k): v.tolist() for k, v in h.train.maj_at_k.items()},
        "greedy": h.train.greedy.tolist(),
        "support": h.support.tolist(),
        "wrong_step_rate": h.wrong_step_rate.tolist(),
        "settings": h.settings,
    }
    if h.test is not None:
        out["J_test"] = h.test.J.tolist()
    return out


def run(args: argparse.Namespace) -> int:
    out = check_out_dir(args.out)
    names = _rule_names(args.rules)
    pass_ks = parse_ints(args.k, "--k")
    maj_ks = parse_ints(args.maj_k, "--maj-k")
    if max(maj_ks) > 64:
        raise ValueError(f"--maj-k values must be <= 64 (maj@k is exact up to 64), got "
                         f"{args.maj_k}")
    if args.iterations < 0:
        raise ValueError(f"--iterations must be an integer >= 0, got {args.iterations}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    P0, model = model_from_args(args)
    sampled = args.samples_per_question is not None
    G = args.group_size
    K = args.samples_per_question if sampled else G
    if G < 1 or K < 1:
        raise ValueError("--group-size and --samples-per-question must be integers >= 1")
    rules = [make_rule(n, samples_per_question=K, group_size=G, lr=args.lr) for n in names]
    streams = np.random.SeedSequence(args.seed).spawn(len(rules))  # one per rule: order-free
    histories = []
    bar = tqdm(total=len(rules), desc="rules", disable=args.json or not sys.stderr.isatty())
    for rule, stream in zip(rules, streams, strict=True):
        bar.set_postfix_str(rule.name)
        histories.append(iterate(rule, P0, model, args.iterations,
                                 mode="sampled" if sampled else "exact",
                                 rng=np.random.default_rng(stream), pass_ks=pass_ks,
                                 maj_ks=maj_ks, keep_policies=False))
        bar.update()
    bar.close()
    header, rows = _table(histories)
    result = {
        "mode": "sampled" if sampled else "exact",
        "M": model.M, "N": model.N, "iterations": args.iterations,
        "rules": {h.rule: _per_rule_json(h) for h in histories},
    }
    from rlstar_theory.figures.compare import plot_compare
    from rlstar_theory.figures.io import save_csv, save_figure
    from rlstar_theory.figures.style import figure_of

    save_figure(figure_of(plot_compare(histories)), out, "compare")
    save_csv(header, rows, out / "compare.csv")
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    write_bytes_atomic(out / "compare.md", ("\n".join(md) + "\n").encode())
    write_json_atomic(out / "compare.json", result)
    if args.json:
        sys.stdout.write(json_text(result))
    else:
        print("\n".join(md))
        print(f"\nwrote {out}/compare.png, compare.csv, compare.md, compare.json")
    return 0
