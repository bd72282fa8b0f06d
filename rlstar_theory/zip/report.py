"""Figures and a text summary of a zip-experiment run folder.

The plot functions take ``ax=None`` and return the axes they drew into (a new
:class:`matplotlib.figure.Figure` when ``ax`` is None), like :mod:`rlstar_theory.figures`; no
backend is selected and pyplot is not used. :func:`write_figures` writes ``J.png``,
``heatmaps.png`` and ``pred_vs_learned.png`` with fixed metadata (same inputs, same bytes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rlstar_theory.figures.io import save_png
from rlstar_theory.figures.style import (
    axes_row,
    check_axes,
    figure_of,
    integer_ticks,
    new_figure,
    styled,
)

__all__ = ["plot_J", "plot_compare", "plot_heatmaps", "plot_pred_vs_learned", "write_figures",
           "write_compare_figure", "summary_lines"]

#: log-scale plots floor values here (J = 1 exactly, entries that are exactly 0)
_LOG_FLOOR = 1e-12


def _load(out: Path) -> tuple[dict, dict]:
    cfg = json.loads((out / "config.json").read_text())
    res = json.loads((out / "results.json").read_text())
    return cfg, res


def _floats(values) -> np.ndarray:
    """JSON values (``null`` for a missing number) as a float array with NaN for ``null``."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _learned_series(res: dict) -> dict:
    """Learned ``J`` curves ``t = 0..T``: all questions, and per split where recorded."""
    its = res["iterations"]
    th = res.get("theory", {})
    out = {"all": _floats([res["pretrain"]["J"]] + [e["J"] for e in its])}
    for split in ("train", "test"):
        start = th.get(f"J_exact_from_P0_{split}")
        if start and all(f"J_{split}" in e for e in its):
            out[split] = _floats([start[0]] + [e[f"J_{split}"] for e in its])
    return out


def _draw_J(a, cfg: dict, res: dict, transform, legend: bool) -> None:
    """Learned, one-step-predicted and exact-from-P0 ``J`` of one run into one axes."""
    its = res["iterations"]
    T = len(its)
    th = res.get("theory", {})
    learned = _learned_series(res)
    split = "test" in learned
    tt = np.arange(T + 1)
    if split:
        a.plot(tt, transform(learned["train"]), "o-", color="C0", label="GPT-2, train questions")
        a.plot(tt, transform(learned["test"]), "o--", color="C0", mfc="none",
               label="GPT-2, held-out questions")
        pred = _floats([e.get("J_pred_train", e["J_pred"]) for e in its])
    else:
        a.plot(tt, transform(learned["all"]), "o-", color="C0", label="GPT-2 (learned matrices)")
        pred = _floats([e["J_pred"] for e in its])
    raw = [e.get("J_raw_train") for e in its]
    if T and all(v is not None for v in raw):
        ref = learned["train"] if split else learned["all"]
        if np.nanmax(np.abs(_floats(raw) - ref[1:])) > 1e-3:
            a.plot(np.arange(1, T + 1), transform(_floats(raw)), "x", color="C3",
                   label="GPT-2, invalid strings counted as failures")
    succ = [e.get("success_rate") for e in its]
    if succ and all(v is not None for v in succ):
        a.plot(np.arange(T), transform(_floats(succ)), "x", color="C1",
               label=f"sampled success rate (τ = {cfg.get('temperature')})")
    a.plot(np.arange(1, T + 1), transform(pred), "s", color="C2", mfc="none",
           label="exact rule step from learned $P_{t-1}$")
    n_th = T + 2  # one step past the run
    if "J_closed_form_from_fit" in th:
        curve = _floats(th["J_closed_form_from_fit"][:n_th])
        a.plot(np.arange(len(curve)), transform(curve), "--", color="C4",
               label="closed form from fitted δ_diag,0")
    key = "J_exact_from_P0_train" if split else "J_exact_from_P0"
    curve = th.get(key, th.get("J_dense_from_P0"))
    if curve:
        curve = _floats(curve[:n_th])
        a.plot(np.arange(len(curve)), transform(curve), ":", color="C2",
               label="exact rule iterated from learned $P_0$"
               + (" (train)" if split else ""))
    a.set_xlabel("iteration t")
    integer_ticks(a)
    if legend:
        a.legend(fontsize=7)


def _rule_title(cfg: dict, res: dict | None = None) -> str:
    """``rule (option=value, ...)``; a refit rule's ``lr`` (unused) is left out."""
    rule = cfg.get("rule", "star")
    opts = dict(cfg.get("rule_options") or {})
    mode = (res or {}).get("rule", {}).get("mode", "refit" if rule == "star" else None)
    if mode == "refit":
        opts.pop("lr", None)
    text = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in opts.items())
    return rule + (f" ({text})" if text else "") + (f", {mode}" if mode else "")


def plot_J(cfg: dict, res: dict, ax=None) -> np.ndarray:
    """``J`` against the iteration: GPT-2 (learned matrices) against the theory.

    Left: ``J`` itself; right: ``1 - J`` on a log scale (floored at 1e-12), where the gaps near
    ``J = 1`` show. Drawn: the learned ``J`` (train and held-out questions when some are held
    out), the exact rule step from the learned ``P_{t-1}``, the exact rule iterated from the
    learned ``P_0``, for STaR the closed form and the sampled success rate, and the learned
    ``J`` with invalid strings counted as failures where it differs.

    Parameters
    ----------
    cfg, res : dict
        The run folder's ``config.json`` and ``results.json``.
    ax : sequence of 2 matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    axes = axes_row(ax, 2, width=5.5, height=4.0)
    direct = lambda v: v  # noqa: E731
    gap = lambda v: np.maximum(1.0 - v, _LOG_FLOOR)  # noqa: E731
    with styled():
        _draw_J(axes[0], cfg, res, direct, legend=True)
        _draw_J(axes[1], cfg, res, gap, legend=False)
        axes[0].set_ylabel("J (probability the final answer is right)")
        axes[0].set_ylim(-0.02, 1.02)
        delta = cfg["delta0_diag"]
        delta = ", ".join(f"{v:g}" for v in np.ravel(delta))
        axes[0].set_title(f"zip, n = {cfg['n_bits']} bits, δ_diag,0 = {delta} "
                          f"(data generator's δ); {_rule_title(cfg, res)}", fontsize=9)
        axes[1].set_yscale("log")
        axes[1].set_ylabel(f"1 − J (floored at {_LOG_FLOOR:g})")
        axes[1].set_title("Distance from J = 1")
    return axes


def plot_compare(runs: list[tuple[dict, dict]], ax=None) -> np.ndarray:
    """Several rules side by side: ``J`` (top row, as in :func:`plot_J`) and the agreement of
    the learned with the predicted change of every transition probability (bottom row: sign
    agreement and Spearman rank correlation per iteration).

    Parameters
    ----------
    runs : list of (config, results) dicts
        One run folder's ``config.json`` and ``results.json`` per rule.
    ax : sequence of 2 R matplotlib Axes, optional
        Row by row; a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2 R,)
    """
    R = len(runs)
    if ax is None:
        fig = new_figure(3.6 * R, 6.6)
        with styled():
            made = fig.subplots(2, R, squeeze=False, sharey="row").ravel()
        axes = np.empty(2 * R, dtype=object)
        axes[:] = list(made)
    else:
        axes = check_axes(ax, 2 * R)
    with styled():
        for i, (cfg, res) in enumerate(runs):
            top, bottom = axes[i], axes[R + i]
            _draw_J(top, cfg, res, lambda v: v, legend=False)
            top.set_ylim(-0.02, 1.02)
            top.set_title(_rule_title(cfg, res), fontsize=9)
            its = res["iterations"]
            t = np.arange(1, len(its) + 1)
            change = [e.get("change", {}) for e in its]
            bottom.plot(t, _floats([c.get("sign_agreement") for c in change]), "o-",
                        label="sign agreement (0.5: chance)")
            bottom.plot(t, _floats([c.get("spearman") for c in change]), "s-",
                        label="Spearman rank correlation")
            bottom.axhline(0.5, color="k", lw=0.5, ls=":")
            bottom.axhline(0.0, color="k", lw=0.5)
            bottom.set_ylim(-0.5, 1.05)
            bottom.set_xlim(0.5, max(len(its), 1) + 0.5)
            bottom.set_xlabel("iteration t")
            bottom.set_xticks(np.arange(1, len(its) + 1, max(1, len(its) // 6)))
            if i == 0:
                top.set_ylabel("J")
                bottom.set_ylabel("learned vs predicted ΔP")
                bottom.legend(fontsize=7)
        handles = {}
        for a in axes[:R]:  # one legend for every curve drawn in any panel
            for h, label in zip(*a.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, h)
        axes[0].legend(list(handles.values()), list(handles), fontsize=6, loc="center right")
        if ax is None:
            figure_of(axes).suptitle("GPT-2 on the zip task from one pre-trained model: "
                                     "learned against the exact tabular rule", fontsize=10)
    return axes


def plot_heatmaps(P0: np.ndarray, PT: np.ndarray, T: int, ax=None) -> np.ndarray:
    """Learned transition matrices ``P_{t,n}[s, s']`` at ``t = 0`` (top) and ``t = T``
    (bottom), one column per step, each with its colour bar.

    Parameters
    ----------
    P0, PT : ndarray, shape (N, M, M)
        Learned matrices before RL-STaR and after the last iteration.
    T : int
        The last iteration.
    ax : sequence of 2 N matplotlib Axes, optional
        Row by row (``t = 0`` steps 1..N, then ``t = T``); a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2 N,)
    """
    N, M = P0.shape[0], P0.shape[1]
    if ax is None:
        fig = new_figure(3.2 * N, 6.4)
        with styled():
            made = fig.subplots(2, N, squeeze=False).ravel()
        axes = np.empty(2 * N, dtype=object)
        axes[:] = list(made)
    else:
        axes = check_axes(ax, 2 * N)
    fig = figure_of(axes)
    with styled():
        for row, (P, t) in enumerate(((P0, 0), (PT, T))):
            for k in range(N):
                a = axes[row * N + k]
                im = a.imshow(P[k], vmin=0, vmax=max(float(P[k].max()), 1e-9), cmap="viridis")
                a.set_title(f"t = {t}, step {k + 1}", fontsize=8)
                a.set_xlabel(f"next state $s_{{{k + 1}}}$ (index)", fontsize=7)
                a.set_ylabel(f"current state $s_{{{k}}}$ (index)", fontsize=7)
                a.tick_params(labelsize=6)
                a.grid(False)
                fig.colorbar(im, ax=a, fraction=0.046, label=f"$P_{{t,{k + 1}}}[s, s']$")
        if ax is None:
            fig.suptitle(f"Learned transition matrices, M = {M} states per step (states "
                         "indexed so that the ground truth is the diagonal)", fontsize=9)
    return axes


def plot_pred_vs_learned(target: np.ndarray, P0: np.ndarray, pairs, ax=None) -> np.ndarray:
    """Learned entries against their references, log-log: ``P_0`` against the pre-training
    target (left), each ``P_t`` against the dense engine's prediction from ``P_{t-1}`` (right).

    Parameters
    ----------
    target, P0 : ndarray, shape (N, M, M)
    pairs : sequence of (int, ndarray, ndarray)
        ``(t, predicted, learned)`` for ``t = 1 .. T``.
    ax : sequence of 2 matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    axes = axes_row(ax, 2, width=5.0, height=5.0)
    ax0, ax1 = axes
    floor = lambda v: np.maximum(np.ravel(v), _LOG_FLOOR)  # noqa: E731
    with styled():
        ax0.plot(floor(target), floor(P0), ".", ms=2, alpha=0.5)
        ax0.set_xlabel("pre-training target entry")
        ax0.set_ylabel("learned $P_0$ entry")
        ax0.set_title("Pre-trained model against its data")
        for t, pred, learned in pairs:
            ax1.plot(floor(pred), floor(learned), ".", ms=2, alpha=0.5, label=f"t = {t}")
        ax1.set_xlabel("exact rule step from learned $P_{t-1}$: entry")
        ax1.set_ylabel("learned $P_t$ entry")
        ax1.set_title("Iterations: learned against predicted")
        if len(pairs):
            ax1.legend(fontsize=7, markerscale=4)
        for a in axes:
            a.set_xscale("log")
            a.set_yscale("log")
            a.plot([_LOG_FLOOR, 1], [_LOG_FLOOR, 1], "k-", lw=0.5)
            a.set_xlim(_LOG_FLOOR / 2, 2)
            a.set_ylim(_LOG_FLOOR / 2, 2)
        if ax is None:
            figure_of(axes).suptitle(f"entries floored at {_LOG_FLOOR:g}", fontsize=8)
    return axes


def write_figures(out: str | Path) -> list[Path]:
    """Write ``J.png``, ``heatmaps.png`` and ``pred_vs_learned.png`` into the run folder.

    ``J.png`` needs ``config.json`` and ``results.json``; the other two need the saved
    matrices (``matrices/P_000.npy`` ...) and are skipped when those are absent (a run folder
    copied without its matrices).

    Returns the paths written.
    """
    out = Path(out)
    cfg, res = _load(out)
    T = len(res["iterations"])
    paths = [save_png(figure_of(plot_J(cfg, res)), out / "J.png", dpi=120)]
    mats = out / "matrices"
    if not (mats / "P_000.npy").is_file():
        return paths
    P0 = np.load(mats / "P_000.npy")
    PT = np.load(mats / f"P_{T:03d}.npy")
    paths.append(save_png(figure_of(plot_heatmaps(P0, PT, T)), out / "heatmaps.png", dpi=100))

    from rlstar_theory.zip.data import noisy_weights
    from rlstar_theory.zip.task import ZipTask

    task = ZipTask(cfg["n_bits"])
    target = noisy_weights(task, cfg["delta0_diag"]) * task.M
    pairs = [(t, np.load(mats / f"pred_{t:03d}.npy"), np.load(mats / f"P_{t:03d}.npy"))
             for t in range(1, T + 1)]
    paths.append(save_png(figure_of(plot_pred_vs_learned(target, P0, pairs)),
                          out / "pred_vs_learned.png", dpi=120))
    return paths


def write_compare_figure(out: str | Path) -> Path:
    """Write ``compare.png`` of a comparison folder (:mod:`rlstar_theory.zip.compare`): the
    runs listed in its ``compare.json``, in that order."""
    out = Path(out)
    rules = json.loads((out / "compare.json").read_text())["rules"]
    runs = [_load(out / name) for name in rules]
    return save_png(figure_of(plot_compare(runs)), out / "compare.png", dpi=110)


def summary_lines(out: str | Path) -> list[str]:
    """Human-readable per-iteration table of a run folder (delta conventions named)."""
    out = Path(out)
    cfg, res = _load(out)
    pre = res["pretrain"]
    fmt = lambda xs: "[" + ", ".join(f"{x:.4f}" for x in xs) + "]"  # noqa: E731
    num = lambda v, f=".6f": "-" if v is None else format(v, f)  # noqa: E731
    lines = [
        f"zip n={cfg['n_bits']} (M={4 ** cfg['n_bits']}, N={cfg['n_bits']}), rule "
        f"{_rule_title(cfg)}, tau={cfg['temperature']}, {cfg['samples_per_question']} "
        "samples/question",
        f"pre-trained: delta_diag_hat={fmt(pre['delta_diag'])} (target "
        f"{fmt(pre['target_delta_diag'])}); lam_hat={fmt(pre['lam'])} (target "
        f"{fmt(pre['target_lam'])}); row std {fmt(pre['delta_diag_row_std'])}",
        f"  mean |P0 - target| = {pre['gap_to_target']['mean_abs']:.2e}, max = "
        f"{pre['gap_to_target']['max_abs']:.2e}; J = {pre['J']:.6f} (target "
        f"{pre['J_target']:.6f})",
    ]
    questions = res.get("questions", {})
    if questions.get("test"):
        lines.append(f"  held-out questions: {len(questions['test'])} of "
                     f"{4 ** cfg['n_bits']}; J columns are the training questions'")
    lines.append("  t  J_learned  J_pred(exact)  J_closed_form  success(tau)  |P-pred| mean/max   "
                 "|data-pred| mean/max  sign/Spearman  delta_diag_hat")
    for e in res["iterations"]:
        pc = e.get("pred_vs_counts")
        pcs = f"{pc['mean_abs']:.1e}/{pc['max_abs']:.1e}" if pc else "      -      "
        sr = e.get("success_rate")
        change = e.get("change", {})
        agree = f"{num(change.get('sign_agreement'), '.3f')}/{num(change.get('spearman'), '.3f')}"
        lines.append(
            f"{e['t']:3d}  {e.get('J_train', e['J']):.6f}   "
            f"{e.get('J_pred_train', e['J_pred']):.6f}       "
            f"{num(e.get('J_theory_closed_form')):>8}       "
            f"{'-' if sr is None else f'{sr:.4f}':>8}      "
            f"{e['pred_vs_learned']['mean_abs']:.1e}/{e['pred_vs_learned']['max_abs']:.1e}     "
            f"{pcs}      {agree:>11}    {fmt(e['delta_diag'])}")
    stop = res.get("stopped")
    if stop:
        lines.append(f"stopped after iteration {stop['after_iteration']}: {stop['reason']}")
    return lines
