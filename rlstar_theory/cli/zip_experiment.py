"""``rlstar zip-experiment``: RL-STaR with a small GPT-2 on the zip task, checked against theory.

Examples
--------
``rlstar zip-experiment --preset smoke --out runs/smoke``
``rlstar zip-experiment --preset paper --delta0 0.2 --out runs/paper_d02``
``rlstar zip-experiment --config runs/paper_d02/config.json --seed 1 --out runs/paper_d02_s1``
``rlstar zip-experiment --preset smoke --rule grpo --rule-option lr=100 --out runs/smoke_grpo``
``rlstar zip-experiment --rules star,grpo,fisft+-,fisft- --rule-option lr=1000 --out runs/cmp``

Needs the ``gpt2`` extra (torch, transformers, tqdm). Re-running the same command with the same
``--out`` resumes after the last finished iteration.

The options that set the configuration are derived from the fields of
:class:`~rlstar_theory.zip.config.ZipConfig` (flag, help text and type live beside each field);
an option left unset takes the value of ``--preset`` or of the ``--config`` file.
``--rule NAME`` picks the training rule; ``--rule-option NAME=VALUE`` (repeatable) sets one of
its hyper-parameters (the fields of the rule's dataclass, see
:func:`rlstar_theory.rules.rule_options`). ``--rules A,B,...`` compares several rules from one
shared pre-training (:mod:`rlstar_theory.zip.compare`); each rule then takes the options it has.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path

HELP = "RL-STaR with a small GPT-2 on the zip task; learned matrices against the exact theory"

#: packages the command needs beyond the core install (the ``gpt2`` extra)
NEEDS = ("torch", "transformers", "tqdm")


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be numbers separated by commas, got {text!r}") from None


def _float_or_none(text: str) -> float | str:
    if text.strip().lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or 'none', got {text!r}") from None


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


#: metavar of an option, by the field's type (where the field names none)
_METAVARS = {int: "INT", float: "X", str: "TEXT", str | None: "TEXT"}

#: how a field's command-line text is read, by the field's type
_PARSERS = {int: int, float: float, str: _nonempty, tuple[float, ...]: _float_list,
            float | None: _float_or_none, str | None: _nonempty}


def _show(value) -> str:
    if value is None or value == ():
        return "none"
    if isinstance(value, tuple) and isinstance(value[0], tuple):  # (name, value) pairs
        return " ".join(f"{k}={v}" for k, v in value)
    if isinstance(value, tuple):
        if len(set(value)) == 1:
            return f"{value[0]:g} for every step"
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_options() -> list[tuple[dataclasses.Field, type]]:
    """``(field, type)`` of every :class:`ZipConfig` field, in declaration order."""
    from rlstar_theory.zip.config import ZipConfig

    hints = typing.get_type_hints(ZipConfig)
    return [(f, hints[f.name]) for f in dataclasses.fields(ZipConfig)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rlstar zip-experiment``: one per :class:`ZipConfig` field, plus the run's
    own (``--out``, ``--preset`` or ``--config``, output switches)."""
    from rlstar_theory.zip.config import make_config

    presets = {name: make_config(name) for name in ("paper", "smoke")}
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="run folder (resumed if it holds a run of the same configuration)")
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--preset", choices=tuple(presets), default=None,
                      help="paper: M=64, N=3, 4096 samples/question, tau=0.5; smoke: M=16, "
                           "N=2, 256 samples/question, under a minute (default: paper)")
    base.add_argument("--config", type=_nonempty, metavar="FILE",
                      help="start from a recorded configuration (a run's config.json, or the "
                           "run folder); options given as well override its values")
    for f, kind in config_options():
        meta = f.metadata
        values = {name: _show(getattr(cfg, f.name)) for name, cfg in presets.items()}
        default = (values["paper"] if values["paper"] == values["smoke"]
                   else f"{values['paper']}; smoke preset: {values['smoke']}")
        choices = meta.get("choices")
        if callable(choices):
            choices = choices()
        action = meta.get("action", "store")
        parser.add_argument(meta["flag"], dest=f.name,
                            type=_nonempty if action == "append" else _PARSERS[kind],
                            default=None, action=action,
                            metavar=meta.get("metavar", None if choices
                                             else _METAVARS.get(kind)),
                            choices=choices,
                            help=f"{meta['help']} (default: {default})")
    parser.add_argument("--rules", type=_nonempty, metavar="A,B,...",
                        help="compare these rules from one shared pre-training: writes "
                             "OUT/pretrain, OUT/<rule>, compare.png, compare.md and "
                             "compare.json (not with --rule)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.add_argument("--json", action="store_true", help="print results.json to stdout")


def make_config_from_args(args: argparse.Namespace, compare: bool = False):
    """The :class:`~rlstar_theory.zip.config.ZipConfig` the options describe: the preset (or
    the ``--config`` file) with every option that was given. ``compare=True`` leaves the rule
    options out (a comparison gives each rule the options it has)."""
    from rlstar_theory.zip.config import load_config, make_config, override_config

    over = {}
    for f, _ in config_options():
        if compare and f.name == "rule_options":
            continue
        value = getattr(args, f.name, None)
        if value is not None and f.metadata.get("path"):
            value = str(Path(value).expanduser().resolve())
        over[f.name] = value
    config = getattr(args, "config", None)
    if config is not None:
        return override_config(load_config(config), **over)
    return make_config(getattr(args, "preset", None) or "paper", **over)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the experiment; print the per-iteration table. Returns 0; 2 for bad
    options or without the ``gpt2`` extra."""
    from rlstar_theory.cli import require_modules
    from rlstar_theory.cli._paths import check_out_dir
    from rlstar_theory.jsonable import json_text
    from rlstar_theory.zip.loop import check_resources

    rules = getattr(args, "rules", None)
    if rules is not None:
        return _run_comparison(args, rules)
    cfg = make_config_from_args(args)
    out = check_out_dir(args.out, "--out")
    check_resources(cfg)
    require_modules("zip-experiment", NEEDS)
    from rlstar_theory.zip.loop import run_experiment
    from rlstar_theory.zip.report import summary_lines, write_figures

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")

    res = run_experiment(cfg, out, progress=not args.no_progress, log=log)
    if not args.no_figures:
        write_figures(out)
    if args.json:
        sys.stdout.write(json_text(res.results, indent=1))
    else:
        print("\n".join(summary_lines(out)))
        print(f"results, matrices and figures in {out}")
    return 0


def _run_comparison(args: argparse.Namespace, rules: str) -> int:
    """``--rules``: one shared pre-training, one run per rule, one figure and one table."""
    from rlstar_theory.cli import UsageError, require_modules
    from rlstar_theory.cli._paths import check_out_dir
    from rlstar_theory.zip.compare import parse_rules, rule_configs
    from rlstar_theory.zip.loop import check_resources

    if getattr(args, "rule", None) is not None:
        raise UsageError("--rules compares several rules; do not give --rule as well")
    names = parse_rules(rules)
    base = make_config_from_args(args, compare=True)
    options = getattr(args, "rule_options", None) or []
    for cfg in rule_configs(base, names, options).values():
        check_resources(cfg)
    out = check_out_dir(args.out, "--out")
    require_modules("zip-experiment", NEEDS)
    from rlstar_theory.zip.compare import run_comparison

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")

    result = run_comparison(base, names, out, options=options, progress=not args.no_progress,
                            log=log, figures=not args.no_figures)
    print((out / "compare.md").read_text(), end="")
    print(f"runs, figure and table in {result.out}")
    return 0
