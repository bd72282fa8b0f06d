"""Several rules on one pre-trained GPT-2: one shared pre-training, one run per rule, one
figure and one table.

Layout of a comparison folder::

    pretrain/            the shared pre-training (a run folder with no iterations)
    <rule>/              one run folder per rule (rlstar_theory.zip.loop), started from it
    compare.png          learned and predicted J side by side per rule, and the agreement
    compare.md           the table (markdown)
    compare.json         the table's numbers, the settings, and the tabular order of the
                         gradient rules at several learning rates

Each rule's run resumes like any run; a re-run of the same comparison resumes every part.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlstar_theory.zip.config import ZipConfig
from rlstar_theory.zip.rule_step import parse_rule_options, supported_rules

__all__ = ["Comparison", "ORDER_LR_FACTORS", "parse_rules", "pretrain_config", "rule_configs",
           "run_comparison", "summarise_run", "summary_table", "tabular_order", "export_small"]

#: the gradient rules' tabular order is also computed at these multiples of their ``lr``
ORDER_LR_FACTORS = (0.1, 1.0, 10.0)


def parse_rules(text: str | Sequence[str]) -> tuple[str, ...]:
    """Rule names from ``"star,grpo,fisft+-"`` (or a sequence), each supported, no repeats.

    Raises
    ------
    ValueError
        An empty list, an unknown or unsupported rule, or a repeated one.
    """
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise ValueError("rules must name at least one rule, e.g. star,grpo")
    ok = supported_rules()
    for n in names:
        if n not in ok:
            raise ValueError(f"rules: {n!r} is not a rule the zip experiment runs; choose "
                             f"from {', '.join(ok)}")
    if len(set(names)) != len(names):
        raise ValueError(f"rules must not repeat a rule, got {', '.join(names)}")
    return tuple(names)


def rule_configs(base: ZipConfig, rules: Sequence[str], options=None) -> dict[str, ZipConfig]:
    """One config per rule: ``base`` with the rule and the options that rule has.

    ``options`` (a dict or "NAME=VALUE" strings) apply to every rule that has them; an
    option no rule has raises ValueError.
    """
    items = options if options is not None else []
    used: set[str] = set()
    out = {}
    for name in rules:
        opts = parse_rule_options(name, items, strict=False)
        used.update(k for k, _ in opts)
        out[name] = dataclasses.replace(base, rule=name, rule_options=opts)
    given = set(dict(items)) if isinstance(items, dict) else {
        (i.partition("=")[0].strip() if isinstance(i, str) else i[0]) for i in items}
    unused = sorted(given - used)
    if unused:
        raise ValueError(f"rule option(s) {', '.join(unused)} belong to none of the rules "
                         f"{', '.join(rules)}")
    return out


def _finished_pretraining(folder: Path) -> bool:
    try:
        res = json.loads((folder / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return "pretrain" in res and (folder / "checkpoints" / "pretrained").is_dir()


def pretrain_config(base: ZipConfig) -> ZipConfig:
    """The config of the shared pre-training: ``base``'s
    :data:`~rlstar_theory.zip.loop.PRETRAIN_FIELDS` (and ``threads``, ``score_batch``), every
    other field at its default, no iterations; so that any comparison with the same
    pre-training settings finds and reuses it."""
    from rlstar_theory.zip.loop import PRETRAIN_FIELDS

    values = base.to_json()
    keep = {k: values[k] for k in (*PRETRAIN_FIELDS, "threads", "score_batch")}
    return ZipConfig.from_json({**ZipConfig().to_json(), **keep, "iterations": 0})


@dataclass(frozen=True)
class Comparison:
    """What :func:`run_comparison` wrote.

    Attributes
    ----------
    out : Path
    runs : dict of str to Path
        Run folder of every rule.
    rows : list of dict
        One summary per rule (:func:`summarise_run`).
    """

    out: Path
    runs: dict
    rows: list


def run_comparison(base: ZipConfig, rules: Sequence[str], out: str | os.PathLike, *,
                   options=None, progress: bool = True,
                   log: Callable[[str], None] | None = None,
                   figures: bool = True) -> Comparison:
    """Pre-train once (``out/pretrain``), run every rule from it (``out/<rule>``), and write
    ``compare.png``, ``compare.md`` and ``compare.json``.

    Parameters
    ----------
    base : ZipConfig
        Settings shared by every rule (its ``rule`` and ``rule_options`` are replaced).
    rules : sequence of str
        Rule names (:func:`parse_rules`).
    out : path
        The comparison folder; an existing one is resumed.
    options : dict or sequence of "NAME=VALUE", optional
        Rule options, each given to the rules that have it.
    figures : bool
        Write every run's figures and ``compare.png``.
    """
    from rlstar_theory.cli._paths import check_out_dir
    from rlstar_theory.zip.loop import atomic_write_json, check_resources, run_experiment

    rules = parse_rules(rules)
    configs = rule_configs(base, rules, options)
    for cfg in configs.values():
        check_resources(cfg)
    out = check_out_dir(out, "out")
    out.mkdir(parents=True, exist_ok=True)
    log = log or (lambda line: None)
    if _finished_pretraining(out / "pretrain"):  # its settings are checked by every run
        log(f"shared pre-training: reusing {out / 'pretrain'}")
    else:
        log(f"shared pre-training in {out / 'pretrain'}")
        run_experiment(pretrain_config(base), out / "pretrain", progress=progress, log=log)
    runs = {}
    for name, cfg in configs.items():
        log(f"rule {name}: {out / name}")
        run_experiment(cfg, out / name, progress=progress, log=log,
                       pretrained_from=out / "pretrain")
        runs[name] = out / name
        if figures:
            from rlstar_theory.zip.report import write_figures

            write_figures(out / name)
    rows = [summarise_run(runs[name]) for name in rules]
    order = tabular_order({n: configs[n] for n in rules if configs[n].kind == "gradient"},
                          np.load(out / "pretrain" / "matrices" / "P_000.npy"),
                          max(cfg.iterations for cfg in configs.values()))
    atomic_write_json(out / "compare.json", {
        "rules": list(rules), "base_config": base.to_json(),
        "rule_options": dict(options) if isinstance(options, dict) else list(options or []),
        "rows": rows, "tabular_order": order})
    (out / "compare.md").write_text("\n".join(summary_table(rows)) + "\n")
    if figures:
        from rlstar_theory.zip.report import write_compare_figure

        write_compare_figure(out)
    return Comparison(out=out, runs=runs, rows=rows)


#: the files of a comparison folder worth committing (no checkpoints, no matrices)
SMALL_FILES = ("compare.png", "compare.md", "compare.json")
RUN_FILES = ("config.json", "results.json")


def export_small(src: str | os.PathLike, dst: str | os.PathLike) -> list[Path]:
    """Copy the small files of the comparison folder ``src`` into ``dst``: the figure, the
    table and its numbers, and every run's ``config.json`` and ``results.json`` (the shared
    pre-training's too), leaving out checkpoints, matrices and the per-run figures (which
    :func:`rlstar_theory.zip.report.write_figures` redraws from ``results.json``).

    Returns the paths written.
    """
    import shutil

    src, dst = Path(src), Path(dst)
    rules = json.loads((src / "compare.json").read_text())["rules"]
    written = []
    for name in SMALL_FILES:
        dst.mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copy2(src / name, dst / name)))
    for run in ("pretrain", *rules):
        for name in RUN_FILES:
            if (src / run / name).is_file():
                (dst / run).mkdir(parents=True, exist_ok=True)
                written.append(Path(shutil.copy2(src / run / name, dst / run / name)))
    return written


def _mean(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarise_run(run: str | os.PathLike) -> dict:
    """One rule's numbers from its run folder (``config.json`` and ``results.json``).

    Keys: ``rule``, ``kind``, ``iterations``, ``stopped``, ``J0_train``, ``J_train``,
    ``J_test`` (last learned), ``J_raw_train`` (last, invalid strings counted as failures),
    ``J_exact_train`` (the exact rule iterated from the learned ``P_0``, same iteration),
    ``J_gap_mean`` (mean over iterations of ``|J_train - J_pred_train|``, the one-step
    prediction from the learned ``P_{t-1}``), ``entry_gap_mean`` (mean of ``pred_vs_learned``
    mean absolute entry gaps), ``data_gap_mean`` (the same between the prediction and the
    maximum-likelihood fit of the sampled data: refit rules with sampled data; the part of
    the gap that is sampling, not the transformer), ``sign_agreement``, ``spearman``,
    ``slope`` (means over iterations of
    :func:`rlstar_theory.zip.agreement.change_agreement`), ``valid_mass_min``,
    ``tv_without_data`` / ``tv_with_data`` (mean learned row change), ``minutes`` (training
    and scoring).
    """
    run = Path(run)
    cfg = json.loads((run / "config.json").read_text())
    res = json.loads((run / "results.json").read_text())
    its = res["iterations"]
    th = res.get("theory", {})
    T = len(its)
    last = its[-1] if its else {}
    exact = th.get("J_exact_from_P0_train", [])
    rows = [e.get("rows", {}) for e in its]
    seconds = sum(e["timing"].get("train_s", 0) + e["timing"].get("score_s", 0) for e in its)
    return {
        "rule": cfg.get("rule", "star"),
        "kind": res.get("rule", {}).get("mode", "refit"),
        "settings": res.get("rule", {}),
        "iterations": T,
        "stopped": res.get("stopped", {}).get("reason"),
        "J0_train": exact[0] if exact else res["pretrain"]["J"],
        "J_train": last.get("J_train", last.get("J")) if its else None,
        "J_test": last.get("J_test") if its else None,
        "J_raw_train": last.get("J_raw_train") if its else None,
        "J_exact_train": exact[T] if len(exact) > T else None,
        "J_gap_mean": _mean([abs(e["J_train"] - e["J_pred_train"]) for e in its
                             if "J_pred_train" in e]),
        "entry_gap_mean": _mean([e["pred_vs_learned"]["mean_abs"] for e in its]),
        "data_gap_mean": _mean([e["pred_vs_counts"]["mean_abs"] for e in its
                                if "pred_vs_counts" in e]),
        "sign_agreement": _mean([e.get("change", {}).get("sign_agreement") for e in its]),
        "spearman": _mean([e.get("change", {}).get("spearman") for e in its]),
        "slope": _mean([e.get("change", {}).get("slope") for e in its]),
        "valid_mass_min": min((e["valid_mass"]["min"] for e in its if "valid_mass" in e),
                              default=None),
        "tv_without_data": _mean([r.get("tv_learned_without_data") for r in rows]),
        "tv_with_data": _mean([r.get("tv_learned_with_data") for r in rows]),
        "minutes": seconds / 60,
    }


def _cell(value, fmt: str = ".4f") -> str:
    if value is None:
        return "-"
    return format(value, fmt) if isinstance(value, float) else str(value)


def summary_table(rows: Sequence[dict]) -> list[str]:
    """The comparison as markdown lines (one row per rule; see :func:`summarise_run`)."""
    head = ("| rule | mode | iterations | J train t=0 | J train (learned) | J test (learned) "
            "| J train (exact rule from P0) | mean abs(J - J_pred) | mean abs(P - pred) "
            "| mean abs(data fit - pred) "
            "| sign agreement | Spearman | slope | min valid mass | TV rows w/o data "
            "| TV rows with data | minutes |")
    lines = [head, "|" + "---|" * head.count(" |")]
    for r in rows:
        lines.append("| " + " | ".join([
            r["rule"], r["kind"], str(r["iterations"]), _cell(r["J0_train"]),
            _cell(r["J_train"]), _cell(r["J_test"]), _cell(r["J_exact_train"]),
            _cell(r["J_gap_mean"], ".2e"), _cell(r["entry_gap_mean"], ".2e"),
            _cell(r["data_gap_mean"], ".2e"),
            _cell(r["sign_agreement"], ".3f"), _cell(r["spearman"], ".3f"),
            _cell(r["slope"], ".3g"), _cell(r["valid_mass_min"]),
            _cell(r["tv_without_data"], ".2e"), _cell(r["tv_with_data"], ".2e"),
            _cell(r["minutes"], ".1f")]) + " |")
    return lines


def tabular_order(configs: dict, P0: np.ndarray, iterations: int) -> list[dict]:
    """The exact model's order of the gradient rules, iterated from the same learned ``P0``.

    For every factor ``f`` of :data:`ORDER_LR_FACTORS`, each rule runs ``iterations`` exact
    steps with ``lr = f * lr_rule`` (:func:`rlstar_theory.zip.iteration.theory_curves`);
    returns ``[{"lr_factor": f, "J_train": {rule: final J}, "order": [rules, best first]}]``.
    """
    from rlstar_theory.zip.iteration import Context, initial_states, theory_curves

    out = []
    for f in ORDER_LR_FACTORS:
        finals = {}
        for name, cfg in configs.items():
            opts = dict(cfg.rule_options)
            lr = f * float(opts.get("lr", _default_lr(name)))
            scaled = dataclasses.replace(cfg, iterations=iterations,
                                         rule_options=tuple(sorted({**opts, "lr": lr}.items())))
            ctx = Context.create(scaled, Path("."), progress=False)
            finals[name] = theory_curves(ctx, P0, initial_states(ctx, P0)
                                         )["J_exact_from_P0_train"][-1]
        out.append({"lr_factor": f, "J_train": finals,
                    "order": sorted(finals, key=lambda n: -finals[n])})
    return out


def _default_lr(name: str) -> float:
    from rlstar_theory.rules.registry import rule_options

    return float(rule_options(name)["lr"])
