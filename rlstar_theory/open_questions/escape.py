"""Q1: escape from zero-skill steps beyond the symmetric family.

The paper proves, for its symmetric family, that exact STaR converges to the ground truth when
every step has positive skill (``lam_n > 0``) or one step has none, and freezes at ``J = 1/M``
when two or more steps have none. Real pre-trained models are not symmetric. This module draws
random non-symmetric models with a set mean diagonal excess per step
(:func:`rlstar_theory.open_questions.models.random_models`: ``n_zero`` steps at
``lam_zero`` = 0 or slightly negative, the others at ``lam_pos``, rows scattered by a spread),
iterates a rule's exact step to its outcome (:func:`~.outcomes.run_to_outcome`: escaped to
``J >= 1 - epsilon``, a sub-optimal fixed point, frozen at the start, or undecided), and asks
whether the paper's criterion on the model's symmetric projection
(:func:`~.predictors.paper_prediction`) predicts it, and which exact quantity
(:func:`~.predictors.start_scores`) predicts it better on held-out models.

Sweep cell
    :func:`escape_outcome` (registered as ``escape_outcome`` in
    :mod:`rlstar_theory.sweeps.cells`): one batch of ``models`` models per cell. The models
    depend only on the cell's parameters other than the rule (and ``model_seed``,
    ``replicate``), so a sweep over ``rule`` compares every rule on the same models.

Command
    ``python -m rlstar_theory.open_questions.escape --out figures/open_questions`` runs the
    small grids (:data:`SMALL_GRID`, :data:`RULES_GRID`; the same as
    ``examples/sweeps/escape_small.toml`` and ``escape_rules.toml``) and writes
    ``escape.nc``, ``escape_rules.nc``, ``escape_summary.json`` and the figures
    ``escape_vs_spread.png``, ``escape_iterations.png``, ``escape_fixed_points.png``,
    ``escape_predictors.png`` and ``escape_rules.png``. ``--results FILE`` (and
    ``--rules-results FILE``) draws from finished sweeps instead, e.g. the large grid of
    ``rlstar sweep examples/sweeps/escape_large.toml --out runs/escape_large``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rlstar_theory.open_questions._io import (
    Timer,
    base_parser,
    main_wrapper,
    save_axes,
    save_summary,
)
from rlstar_theory.open_questions.models import random_models, row_spread, zero_step_weights
from rlstar_theory.open_questions.outcomes import (
    OUTCOME_NAMES,
    Outcome,
    check_batched_rule,
    run_to_outcome,
)
from rlstar_theory.open_questions.predictors import (
    PAPER_CODES,
    SCORES,
    fit_threshold,
    paper_prediction,
    start_scores,
    threshold_accuracy,
    wilson_interval,
)
from rlstar_theory.validation import check_int, check_M, check_N

__all__ = [
    "OUTPUT_DIMS",
    "RULES_FIXED",
    "RULES_GRID",
    "SMALL_FIXED",
    "SMALL_GRID",
    "confusion_table",
    "escape_outcome",
    "escape_probability",
    "flat_table",
    "main",
    "model_rng",
    "plot_escape_vs_spread",
    "plot_fixed_points",
    "plot_iterations_vs_J0",
    "plot_predictors",
    "plot_rules",
    "predictor_report",
    "rules_report",
]

#: the small STaR grid of the default command (2 x 2 x 2 x 4 x 6 x 3 cells of 16 models)
SMALL_GRID: dict[str, list] = {
    "M": [8, 16],
    "N": [3, 4],
    "lam_zero": [0.0, -0.02],
    "n_zero": [0, 1, 2, 3],
    "spread": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    "family": ["dirichlet", "planted", "lowrank"],
}
#: fixed parameters of the small STaR grid
SMALL_FIXED: dict[str, object] = {"models": 16, "lam_pos": 0.2, "rule": "star",
                                  "iterations": 5000, "epsilon": 0.01, "model_seed": 2024}
#: the rule comparison: the same models for every rule
RULES_GRID: dict[str, list] = {
    "rule": ["star", "reinforce", "grpo", "fisft+-"],
    "family": ["dirichlet", "planted"],
    "n_zero": [0, 2],
    "spread": [0.0, 0.1, 0.3],
}
#: fixed parameters of the rule comparison (default rule settings, lr = 1)
RULES_FIXED: dict[str, object] = {"M": 8, "N": 3, "models": 16, "lam_zero": 0.0,
                                  "lam_pos": 0.2, "iterations": 5000, "epsilon": 0.01,
                                  "model_seed": 2024}
#: the per-model outputs of :func:`escape_outcome` all have the dimension ``model``
OUTPUT_NAMES = ("outcome", "t_epsilon", "iterations_run", "J0", "J_final", "gold_final",
                "movement", "row_spread", "paper_prediction") + tuple(f"score_{s}"
                                                                      for s in SCORES)
OUTPUT_DIMS = {name: ("model",) for name in OUTPUT_NAMES}
#: ``gold_final`` below this marks an escaped run as a spurious solution (J near 1, a wrong step)
SPURIOUS_GOLD = 0.5


def model_rng(model_seed: int, **params) -> np.random.Generator:
    """The generator of a cell's models: a SeedSequence of ``model_seed`` and a SHA-256 digest
    of the parameters (sorted JSON), so the models do not depend on the rule or the cell's
    position in a sweep."""
    text = json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True)
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "little")
    return np.random.default_rng(np.random.SeedSequence([int(model_seed), digest]))


def escape_outcome(rng: np.random.Generator, *, M: int, N: int, family: str, n_zero: int,
                   spread: float, lam_zero: float = 0.0, lam_pos: float = 0.2,
                   models: int = 16, rule: str = "star", iterations: int = 5000,
                   epsilon: float = 0.01, fixed_tol: float = 1e-12, model_seed: int = 0,
                   replicate: int = 0) -> dict[str, np.ndarray]:
    """Outcome of a rule's exact iteration from ``models`` random pre-trained models.

    The models (:func:`~rlstar_theory.open_questions.models.random_models`) have ``n_zero``
    steps (random positions) whose symmetric projection has weight ``lam_zero`` and the others
    ``lam_pos``, with rows scattered by ``spread`` in the given family; identity truth and a
    uniform start. They are drawn from :func:`model_rng` of the parameters (not from ``rng``,
    which is unused), so every rule of a sweep sees the same models.

    Parameters
    ----------
    rng : numpy.random.Generator
        Unused (part of the cell signature).
    M, N, family, n_zero, spread, lam_zero, lam_pos
        The model family (see above).
    models : int
        Models per cell.
    rule : str
        A registered weighted rule (``star``, ``grpo``, ``reinforce``, ``fisft+-``, ...) with
        its default settings.
    iterations, epsilon, fixed_tol
        Budget and tolerances of :func:`~.outcomes.run_to_outcome`.
    model_seed, replicate : int
        Change these to draw other models with the same parameters.

    Returns
    -------
    dict
        Arrays over the dimension ``model``: ``outcome`` (codes of
        :class:`~.outcomes.Outcome`), ``t_epsilon``, ``iterations_run``, ``J0``, ``J_final``,
        ``gold_final``, ``movement``, ``row_spread`` (measured), ``paper_prediction``
        (codes of :data:`~.predictors.PAPER_CODES`) and ``score_<name>`` for every score of
        :func:`~.predictors.start_scores`.
    """
    M, N = check_M(M), check_N(N)
    B = check_int(models, "models", 1)
    check_batched_rule(rule)
    gen = model_rng(model_seed, M=M, N=N, family=family, n_zero=int(n_zero),
                    spread=float(spread), lam_zero=float(lam_zero), lam_pos=float(lam_pos),
                    models=B, replicate=int(replicate))
    lam = zero_step_weights(B, N, n_zero, lam_zero, lam_pos, gen)
    P0 = random_models(family, B, M, N, lam, spread, gen)
    result = run_to_outcome(rule, P0, epsilon=epsilon, iterations=iterations,
                            fixed_tol=fixed_tol)
    out = {
        "outcome": result.outcome, "t_epsilon": result.iterations_to_epsilon,
        "iterations_run": result.iterations_run, "J0": result.J0, "J_final": result.J_final,
        "gold_final": result.gold_final, "movement": result.movement,
        "row_spread": row_spread(P0), "paper_prediction": paper_prediction(P0),
    }
    out.update({f"score_{name}": value for name, value in start_scores(P0).items()})
    return out


# ---------------------------------------------------------------------------------------------
# analysis of a results Dataset (dims: grid dimensions + model)


def flat_table(ds) -> dict[str, np.ndarray]:
    """Every model of a results Dataset as one row: ``{name: 1-D array}`` for each data
    variable and each coordinate (broadcast to the models)."""
    first = ds[OUTPUT_NAMES[0]]
    out = {}
    for name in ds.data_vars:
        out[name] = ds[name].transpose(*first.dims).values.reshape(-1)
    for name in first.dims:
        if name in ds.coords:
            out[name] = np.broadcast_to(ds[name].values.reshape(
                [-1 if d == name else 1 for d in first.dims]), first.shape).reshape(-1)
    return out


def escape_probability(ds):
    """Per cell: escaped and decided counts, ``P(escape | decided)`` with its Wilson interval,
    and the mean measured row spread; an xarray Dataset over the grid dimensions."""
    escaped = (ds.outcome == int(Outcome.ESCAPED)).sum("model")
    decided = (ds.outcome != int(Outcome.UNDECIDED)).sum("model")
    lo, hi = np.vectorize(wilson_interval)(escaped.values, decided.values)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = escaped / decided
    out = prob.to_dataset(name="p_escape")
    out["escaped"] = escaped
    out["decided"] = decided
    out["low"] = (escaped.dims, lo)
    out["high"] = (escaped.dims, hi)
    out["row_spread"] = ds.row_spread.mean("model")
    out["J_final"] = ds.J_final.mean("model")
    return out


def confusion_table(ds) -> dict[str, dict[str, int]]:
    """Counts of the paper's prediction (rows) against the measured outcome (columns)."""
    t = flat_table(ds)
    table = {}
    for code, label in PAPER_CODES.items():
        rows = t["paper_prediction"] == code
        table[label] = {name: int((rows & (t["outcome"] == o)).sum())
                        for o, name in enumerate(OUTCOME_NAMES)}
    return table


def predictor_report(ds, split_seed: int = 0) -> dict:
    """Fit each score's threshold on a random half of the decided models, test on the other.

    Returns
    -------
    dict
        ``scores``: for each score the threshold, side, training accuracy and held-out
        accuracy with its 95 % Wilson interval, on every held-out model and on those where the
        paper makes a prediction; ``paper``: the paper's held-out accuracy where
        it predicts (converges -> escaped, frozen -> not) and its coverage; ``base_rate``: the
        held-out accuracy of always predicting the majority class of the training half.
    """
    t = flat_table(ds)
    decided = t["outcome"] != int(Outcome.UNDECIDED)
    idx = np.flatnonzero(decided)
    gen = np.random.default_rng(split_seed)
    perm = gen.permutation(idx)
    train, test = np.sort(perm[: len(perm) // 2]), np.sort(perm[len(perm) // 2:])
    y = t["outcome"] == int(Outcome.ESCAPED)
    code = t["paper_prediction"][test]
    said = code >= 0
    scores = {}
    for name in SCORES:
        s = np.nan_to_num(np.asarray(t[f"score_{name}"], dtype=float), nan=-1e300,
                          posinf=1e300, neginf=-1e300)
        rule = fit_threshold(s[train], y[train])
        acc, lo, hi, n = threshold_accuracy(rule, s[test], y[test])
        sub = threshold_accuracy(rule, s[test][said], y[test][said])
        scores[name] = {"threshold": rule.threshold, "direction": rule.direction,
                        "train_accuracy": rule.train_accuracy, "test_accuracy": acc,
                        "test_low": lo, "test_high": hi, "n_test": n,
                        "test_accuracy_where_paper_predicts": sub[0],
                        "test_low_where_paper_predicts": sub[1],
                        "test_high_where_paper_predicts": sub[2]}
    hits = int(((code[said] == 1) == y[test][said]).sum())
    lo, hi = wilson_interval(hits, int(said.sum()))
    majority = bool(y[train].mean() >= 0.5) if train.size else False
    base_hits = int((y[test] == majority).sum())
    return {
        "scores": scores,
        "paper": {"test_accuracy": hits / max(int(said.sum()), 1), "test_low": lo,
                  "test_high": hi, "n_predicted": int(said.sum()), "n_test": int(test.size)},
        "base_rate": {"majority_escaped": majority,
                      "test_accuracy": base_hits / max(int(test.size), 1)},
        "n_train": int(train.size), "n_test": int(test.size),
        "n_undecided": int((~decided).sum()),
    }


def rules_report(ds) -> dict:
    """Outcome shares per rule, and on the same models: how often each rule escapes where
    STaR does not (and the reverse)."""
    t = flat_table(ds)
    rules = list(ds.rule.values)
    M = t["M"] if "M" in t else np.full(t["outcome"].size, _manifest_fixed(ds).get("M", 1))
    # the rows of one rule are in the same (C) order of the other dimensions for every rule
    by_rule = {r: {k: v[t["rule"] == r] for k, v in {**t, "M": M}.items()} for r in rules}
    star = by_rule.get("star")
    out = {}
    for r in rules:
        rows = by_rule[r]
        n = rows["outcome"].size
        entry = {"models": n,
                 "counts": {name: int((rows["outcome"] == o).sum())
                            for o, name in enumerate(OUTCOME_NAMES)},
                 "median_J_final": float(np.median(rows["J_final"]))}
        if "n_zero" in rows:
            entry["escaped_by_n_zero"] = {
                f"n_zero={int(z)}": f"{int(((rows['outcome'] == 0) & (rows['n_zero'] == z)).sum())}"
                                    f"/{int((rows['n_zero'] == z).sum())}"
                for z in np.unique(rows["n_zero"])}
        if star is not None and r != "star":
            esc = rows["outcome"] == int(Outcome.ESCAPED)
            star_esc = star["outcome"] == int(Outcome.ESCAPED)
            entry["escapes_where_star_does_not"] = int((esc & ~star_esc).sum())
            entry["star_escapes_where_it_does_not"] = int((~esc & star_esc).sum())
            # more questions solved than STaR's final policy (by at least half a question)
            entry["higher_J_final_than_star"] = int(
                (rows["J_final"] > star["J_final"] + 0.5 / rows["M"]).sum())
        out[str(r)] = entry
    return out


# ---------------------------------------------------------------------------------------------
# figures


def _star_only(ds):
    if "rule" in ds.dims:
        if "star" not in ds.rule.values:
            raise ValueError("the results have no rule 'star'")
        ds = ds.sel(rule="star")
    return ds


def _coord(ds, name: str, fixed: dict):
    """The values of dimension ``name``, or the fixed parameter of the sweep manifest."""
    if name in ds.dims:
        return list(ds[name].values)
    return [fixed.get(name)]


def _manifest_fixed(ds) -> dict:
    try:
        return dict(json.loads(ds.attrs.get("sweep", "{}")).get("fixed", {}))
    except (TypeError, ValueError):
        return {}


def plot_escape_vs_spread(ds, lam_zero: float | None = None, ax=None):
    """``P(escape)`` against the measured row spread, one line per number of zero steps.

    One panel per ``(M, N)`` (rows) and family (columns); error bars are 95 % Wilson
    intervals over the cell's decided models. ``lam_zero`` selects the zero-step weight
    (default: the first in the results).

    Returns
    -------
    ndarray of Axes, shape (rows, families)
    """
    from rlstar_theory.figures.style import STEP_COLORS, new_figure, styled

    ds = _star_only(ds)
    if "lam_zero" in ds.dims:
        ds = ds.sel(lam_zero=ds.lam_zero.values[0] if lam_zero is None else lam_zero)
    fixed = _manifest_fixed(ds)
    Ms, Ns = _coord(ds, "M", fixed), _coord(ds, "N", fixed)
    fams = _coord(ds, "family", fixed)
    combos = [(m, n) for m in Ms for n in Ns]
    shape = (len(combos), len(fams))
    if ax is None:
        fig = new_figure(3.2 * shape[1], 2.4 * shape[0])
        with styled():
            axes = fig.subplots(*shape, squeeze=False, sharex="col", sharey=True)
    else:
        axes = np.asarray(ax, dtype=object).reshape(shape)
    prob = escape_probability(ds)
    for i, (m, n) in enumerate(combos):
        for j, fam in enumerate(fams):
            a = axes[i, j]
            sel = {k: v for k, v in (("M", m), ("N", n), ("family", fam)) if k in prob.dims}
            cell = prob.sel(sel)
            for z in cell.n_zero.values:
                c = cell.sel(n_zero=z)
                x = c.row_spread.values
                y = c.p_escape.values
                err = np.stack([y - c.low.values, c.high.values - y])
                a.errorbar(x, y, yerr=err, marker="o", capsize=2,
                           color=STEP_COLORS[int(z) % len(STEP_COLORS)],
                           label=f"{int(z)} zero step{'s' if z != 1 else ''}")
            lz = f", λ_zero = {float(ds.lam_zero):g}" if "lam_zero" in ds.coords else ""
            a.set_title(f"{fam}, M = {m}, N = {n}{lz}", fontsize=8)
            a.set_ylim(-0.03, 1.03)
            if i == shape[0] - 1:
                a.set_xlabel("row spread (mean TV from P(λ))")
            if j == 0:
                a.set_ylabel("P(J ≥ 1−ε)")
    axes[0, 0].legend(loc="upper right")
    return axes


def plot_iterations_vs_J0(ds, ax=None):
    """Iterations to ``J >= 1 - epsilon`` against the start's excess ``J_0 - 1/M`` for escaped
    STaR runs (symmetric-log x axis, log y axis).

    One panel per ``M``; colours give the number of zero steps; the dashed lines are the
    symmetric family's closed form (equal steps, :func:`rlstar_theory.criteria.
    iterations_to_reach`) for each ``N``.

    Returns
    -------
    ndarray of Axes
    """
    from rlstar_theory.criteria import iterations_to_reach
    from rlstar_theory.figures.style import STEP_COLORS, axes_row

    ds = _star_only(ds)
    fixed = _manifest_fixed(ds)
    t = flat_table(ds)
    Ms = _coord(ds, "M", fixed)
    Ns = _coord(ds, "N", fixed)
    eps = float(fixed.get("epsilon", 0.01))
    axes = axes_row(ax, len(Ms), 3.8, 3.2)
    for a, m in zip(axes, Ms, strict=True):
        rows = (t["outcome"] == int(Outcome.ESCAPED)) & (
            (t["M"] == m) if "M" in t else True)
        for z in np.unique(t["n_zero"]):
            r = rows & (t["n_zero"] == z)
            a.scatter(t["J0"][r] - 1.0 / m, t["t_epsilon"][r] + 1, s=6, alpha=0.5,
                      color=STEP_COLORS[int(z) % len(STEP_COLORS)], label=f"{int(z)} zero")
        lam = np.geomspace(0.02, 0.95, 60)
        for k, n in enumerate(Ns):
            iters = iterations_to_reach(np.repeat(lam[:, None], n, axis=1), int(m), eps)
            excess = (m - 1) * lam**n / m
            a.plot(excess, iters + 1, "--", color="0.3", lw=1.0,
                   label="P(λ), equal steps" if k == 0 else None)
        a.set_xscale("symlog", linthresh=1e-5)
        a.set_yscale("log")
        a.set_xlabel("J₀ − 1/M (start success above chance)")
        a.set_ylabel("1 + iterations to J ≥ 1−ε")
        a.set_title(f"M = {m}")
    axes[0].legend(fontsize=7)
    return axes


def plot_fixed_points(ds, ax=None):
    """Where STaR stops: the final ``J`` of sub-optimal runs, and the least-learnt step of
    every run's final policy against its final ``J``.

    Left: histogram of ``M J_final`` (questions solved) of the sub-optimal fixed points per
    number of zero steps. Right: ``gold_final`` (``min_n mean_s P_n[s, s]``) against
    ``J_final`` coloured by outcome: escaped runs with a small ``gold_final`` are spurious
    solutions (the right answer through wrong steps).

    Returns
    -------
    ndarray of 2 Axes
    """
    from rlstar_theory.figures.style import STEP_COLORS, axes_row

    ds = _star_only(ds)
    t = flat_table(ds)
    M = t["M"] if "M" in t else np.full(t["outcome"].size, _manifest_fixed(ds).get("M", 1))
    axes = axes_row(ax, 2, 4.2, 3.2)
    sub = t["outcome"] == int(Outcome.SUBOPTIMAL)
    frac = t["J_final"] * M / M  # J itself; bins in units of 1/M for the largest M
    bins = np.linspace(0, 1, 41)
    for z in np.unique(t["n_zero"]):
        r = sub & (t["n_zero"] == z)
        if r.any():
            axes[0].hist(frac[r], bins=bins, histtype="step", lw=1.4,
                         color=STEP_COLORS[int(z) % len(STEP_COLORS)],
                         label=f"{int(z)} zero ({int(r.sum())})")
    axes[0].set_xlabel("J at the sub-optimal fixed point")
    axes[0].set_ylabel("models")
    axes[0].legend(fontsize=7)
    colours = {0: "tab:green", 1: "tab:red", 2: "tab:gray", 3: "tab:orange"}
    for o, name in enumerate(OUTCOME_NAMES):
        r = t["outcome"] == o
        if r.any():
            axes[1].scatter(t["J_final"][r], t["gold_final"][r], s=5, alpha=0.4,
                            color=colours[o], label=f"{name} ({int(r.sum())})")
    axes[1].axhline(SPURIOUS_GOLD, color="0.5", lw=0.8, ls=":")
    axes[1].set_xlabel("final J")
    axes[1].set_ylabel("least-learnt step: min_n mean_s P_n[s,s]")
    axes[1].legend(fontsize=7, markerscale=3)
    return axes


def plot_predictors(report: dict, ax=None):
    """Held-out accuracy of each score's fitted threshold (95 % Wilson intervals), the paper's
    criterion and the majority-class base rate."""
    from rlstar_theory.figures.style import axes_row

    axes = axes_row(ax, 1, 5.6, 3.6)
    a = axes[0]
    names = list(report["scores"]) + ["paper criterion"]
    acc = [report["scores"][n]["test_accuracy"] for n in report["scores"]] + [
        report["paper"]["test_accuracy"]]
    lo = [report["scores"][n]["test_low"] for n in report["scores"]] + [
        report["paper"]["test_low"]]
    hi = [report["scores"][n]["test_high"] for n in report["scores"]] + [
        report["paper"]["test_high"]]
    y = np.arange(len(names))
    acc, lo, hi = np.array(acc), np.array(lo), np.array(hi)
    a.barh(y, acc, xerr=np.stack([acc - lo, hi - acc]), color="tab:blue", alpha=0.7,
           capsize=2, label="all held-out models")
    sub = [report["scores"][n]["test_accuracy_where_paper_predicts"]
           for n in report["scores"]] + [report["paper"]["test_accuracy"]]
    a.plot(sub, y, "D", color="tab:red", ms=4, label="where the paper predicts")
    a.axvline(report["base_rate"]["test_accuracy"], color="0.3", ls="--", lw=1,
              label="majority class")
    a.set_yticks(y)
    a.set_yticklabels(names)
    a.set_xlim(0, 1)
    a.set_xlabel(f"held-out accuracy (n = {report['n_test']}; paper: "
                 f"{report['paper']['n_predicted']} it predicts)")
    a.legend(loc="lower right", fontsize=7)
    return axes


def plot_rules(ds, ax=None):
    """Outcome shares per rule on the same models, per number of zero steps."""
    from rlstar_theory.figures.style import axes_row

    t = flat_table(ds)
    zs = np.unique(t["n_zero"])
    axes = axes_row(ax, len(zs), 3.6, 3.0)
    rules = list(ds.rule.values)
    colours = ("tab:green", "tab:red", "tab:gray", "tab:orange")
    for a, z in zip(axes, zs, strict=True):
        bottom = np.zeros(len(rules))
        for o, name in enumerate(OUTCOME_NAMES):
            share = np.array([((t["rule"] == r) & (t["n_zero"] == z) & (t["outcome"] == o)).sum()
                              / max(((t["rule"] == r) & (t["n_zero"] == z)).sum(), 1)
                              for r in rules])
            a.bar(np.arange(len(rules)), share, bottom=bottom, color=colours[o], label=name)
            bottom += share
        a.set_xticks(np.arange(len(rules)))
        a.set_xticklabels(rules)
        a.set_ylim(0, 1)
        a.set_title(f"{int(z)} zero step{'s' if z != 1 else ''}")
        a.set_ylabel("share of models")
    axes[-1].legend(fontsize=7, loc="lower right")
    return axes


# ---------------------------------------------------------------------------------------------
# command


def compact(ds):
    """The results with float64 variables stored as float32 (half the file; the committed
    data), so that the summary computed from it equals the one computed from the file."""
    return ds.assign({name: var.astype(np.float32) for name, var in ds.data_vars.items()
                      if var.dtype == np.float64})


def _sweep(grid: dict, fixed: dict, workers, progress: bool, root_seed: int = 0):
    from rlstar_theory.sweeps.cells import get_cell
    from rlstar_theory.sweeps.runner import run_sweep

    return run_sweep(get_cell("escape_outcome"), grid, fixed=fixed, workers=workers,
                     progress=progress, root_seed=root_seed)


def _escape_grid(prob) -> dict:
    """``P(escape | decided)`` pooled over every dimension but lam_zero, n_zero and spread."""
    keep = [d for d in ("lam_zero", "n_zero", "spread") if d in prob.dims]
    other = [d for d in prob.escaped.dims if d not in keep]
    esc = prob.escaped.sum(other)
    dec = prob.decided.sum(other)
    out = {}
    for idx in np.ndindex(esc.shape):
        key = ", ".join(f"{d}={float(esc[d].values[i]):g}" for d, i in zip(keep, idx,
                                                                           strict=True))
        n = int(dec.values[idx])
        out[key] = {"p_escape": float(esc.values[idx] / n) if n else None, "decided": n}
    return out


def summarize(ds, rules_ds=None) -> dict:
    """The numbers behind the figures: escape table, confusion table, predictors, rules."""
    star = _star_only(ds)
    prob = escape_probability(star)
    t = flat_table(star)
    esc = t["outcome"] == int(Outcome.ESCAPED)
    summary = {
        "outcome_counts": {name: int((t["outcome"] == o).sum())
                           for o, name in enumerate(OUTCOME_NAMES)},
        "confusion_paper_vs_outcome": confusion_table(star),
        "predictors": predictor_report(star),
        "spurious_escapes": int((esc & (t["gold_final"] < SPURIOUS_GOLD)).sum()),
        "escapes": int(esc.sum()),
        "escape_by_lam_zero_n_zero_spread": _escape_grid(prob),
        "median_J_final_by_n_zero": {
            f"n_zero={int(z)}": float(np.median(t["J_final"][t["n_zero"] == z]))
            for z in np.unique(t["n_zero"])},
    }
    if rules_ds is not None:
        summary["rules"] = rules_report(rules_ds)
    return summary


def _run(argv: Sequence[str] | None) -> int:
    from rlstar_theory.sweeps.results import load_results, save_results

    parser = base_parser("python -m rlstar_theory.open_questions.escape", __doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None,
                        help="draw from this STaR results.nc instead of running the small grid")
    parser.add_argument("--rules-results", type=Path, default=None,
                        help="draw the rule comparison from this results.nc")
    parser.add_argument("--skip-rules", action="store_true", help="no rule comparison")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    progress = not args.no_progress
    with timer("star_sweep"):
        if args.results is not None:
            ds = load_results(args.results)
        else:
            ds = compact(_sweep(SMALL_GRID, SMALL_FIXED, args.workers, progress))
            save_results(ds, out / "escape.nc")
    rules_ds = None
    if not args.skip_rules:
        with timer("rules_sweep"):
            if args.rules_results is not None:
                rules_ds = load_results(args.rules_results)
            else:
                rules_ds = compact(_sweep(RULES_GRID, RULES_FIXED, args.workers, progress))
                save_results(rules_ds, out / "escape_rules.nc")
    with timer("figures"):
        summary = summarize(ds, rules_ds)
        zeros = list(ds.lam_zero.values) if "lam_zero" in ds.dims else [None]
        for k, lz in enumerate(zeros):
            stem = "escape_vs_spread" if k == 0 else f"escape_vs_spread_lam_zero_{lz:g}"
            save_axes(plot_escape_vs_spread(ds, lam_zero=lz), out, stem)
        save_axes(plot_iterations_vs_J0(ds), out, "escape_iterations")
        save_axes(plot_fixed_points(ds), out, "escape_fixed_points")
        save_axes(plot_predictors(summary["predictors"]), out, "escape_predictors")
        if rules_ds is not None:
            save_axes(plot_rules(rules_ds), out, "escape_rules")
    summary["seconds"] = timer.seconds
    save_summary(summary, out, "escape_summary")
    print(json.dumps({k: summary[k] for k in ("outcome_counts", "confusion_paper_vs_outcome")},
                     indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlstar_theory.open_questions.escape --out DIR``; exit status."""
    return main_wrapper(_run, argv, "escape")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
