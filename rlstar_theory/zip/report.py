"""Figures and a text summary of a zip-experiment run folder (matplotlib, Agg backend)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["write_figures", "summary_lines"]

#: log-scale plots floor values here (J = 1 exactly, entries that are exactly 0)
_LOG_FLOOR = 1e-12


def _load(out: Path) -> tuple[dict, dict]:
    cfg = json.loads((out / "config.json").read_text())
    res = json.loads((out / "results.json").read_text())
    return cfg, res


def write_figures(out: str | Path) -> list[Path]:
    """Write ``J.png``, ``heatmaps.png`` and ``pred_vs_learned.png`` into the run folder.

    Returns the paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    cfg, res = _load(out)
    its = res["iterations"]
    T = len(its)
    paths = []

    # J against t, GPT-2 against theory; right: 1 - J on a log scale (the gaps near J = 1)
    fig, (ax, ax_log) = plt.subplots(1, 2, figsize=(11, 4))
    t_all = np.arange(T + 1)
    J_learned = [res["pretrain"]["J"]] + [e["J"] for e in its]
    succ = [e.get("success_rate") for e in its]
    J_pred = [e["J_pred"] for e in its]
    th = res["theory"]
    n_th = min(len(th["J_closed_form_from_fit"]), T + 2)  # one step past the run
    tt = np.arange(n_th)
    for a, transform in ((ax, lambda v: np.asarray(v, dtype=float)),
                         (ax_log, lambda v: np.maximum(1.0 - np.asarray(v, dtype=float),
                                                       _LOG_FLOOR))):
        a.plot(t_all, transform(J_learned), "o-", label="GPT-2 (learned matrices)")
        if all(v is not None for v in succ) and succ:
            a.plot(np.arange(T), transform(succ), "x",
                   label=f"sampled success rate (tau={cfg['temperature']})")
        a.plot(np.arange(1, T + 1), transform(J_pred), "s", mfc="none",
               label="dense engine from learned P_{t-1}")
        a.plot(tt, transform(th["J_closed_form_from_fit"][:n_th]), "--",
               label="closed form from fitted delta_diag_0")
        a.plot(tt, transform(th["J_dense_from_P0"][:n_th]), ":",
               label="dense engine from learned P_0")
        a.set_xlabel("iteration t")
    ax.set_ylabel("J")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.set_title(f"zip n={cfg['n_bits']}, delta_diag_0={cfg['delta0_diag']}")
    ax_log.set_yscale("log")
    ax_log.set_ylabel(f"1 - J (floored at {_LOG_FLOOR:g})")
    ax_log.set_title("distance from J = 1")
    fig.tight_layout()
    paths.append(out / "J.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    # heatmaps of learned matrices: P_0 and the last one, every step
    P0 = np.load(out / "matrices" / "P_000.npy")
    PT = np.load(out / "matrices" / f"P_{T:03d}.npy")
    N = P0.shape[0]
    fig, axes = plt.subplots(2, N, figsize=(3 * N, 6), squeeze=False)
    for row, (P, name) in enumerate(((P0, "t=0"), (PT, f"t={T}"))):
        for k in range(N):
            im = axes[row, k].imshow(P[k], vmin=0, vmax=max(P[k].max(), 1e-9), cmap="viridis")
            axes[row, k].set_title(f"{name}, step {k + 1}", fontsize=8)
            axes[row, k].set_xticks([])
            axes[row, k].set_yticks([])
            fig.colorbar(im, ax=axes[row, k], fraction=0.046)
    fig.tight_layout()
    paths.append(out / "heatmaps.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    # learned entries against their references, log-log: P_0 against the pre-training
    # target, P_t against the dense engine's prediction from P_{t-1}
    from rlstar_theory.zip.data import noisy_weights
    from rlstar_theory.zip.task import ZipTask

    task = ZipTask(cfg["n_bits"])
    target = noisy_weights(task, cfg["delta0_diag"]) * task.M
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 5))
    ax0.plot(np.maximum(target.ravel(), _LOG_FLOOR), np.maximum(P0.ravel(), _LOG_FLOOR), ".",
             ms=2, alpha=0.5)
    ax0.set_xlabel("pre-training target entry")
    ax0.set_ylabel("learned P_0 entry")
    ax0.set_title("pre-trained model against its data")
    for t in range(1, T + 1):
        pred = np.load(out / "matrices" / f"pred_{t:03d}.npy").ravel()
        P = np.load(out / "matrices" / f"P_{t:03d}.npy").ravel()
        ax1.plot(np.maximum(pred, _LOG_FLOOR), np.maximum(P, _LOG_FLOOR), ".", ms=2, alpha=0.5,
                 label=f"t={t}")
    ax1.set_xlabel("dense prediction star_step(P_{t-1}) entry")
    ax1.set_ylabel("learned P_t entry")
    ax1.set_title("RL-STaR iterations: learned against predicted")
    if T:
        ax1.legend(fontsize=7, markerscale=4)
    for a in (ax0, ax1):
        a.set_xscale("log")
        a.set_yscale("log")
        a.plot([_LOG_FLOOR, 1], [_LOG_FLOOR, 1], "k-", lw=0.5)
        a.set_xlim(_LOG_FLOOR / 2, 2)
        a.set_ylim(_LOG_FLOOR / 2, 2)
    fig.suptitle(f"entries floored at {_LOG_FLOOR:g}", fontsize=8)
    fig.tight_layout()
    paths.append(out / "pred_vs_learned.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def summary_lines(out: str | Path) -> list[str]:
    """Human-readable per-iteration table of a run folder (delta conventions named)."""
    out = Path(out)
    cfg, res = _load(out)
    pre = res["pretrain"]
    fmt = lambda xs: "[" + ", ".join(f"{x:.4f}" for x in xs) + "]"  # noqa: E731
    lines = [
        f"zip n={cfg['n_bits']} (M={4 ** cfg['n_bits']}, N={cfg['n_bits']}), "
        f"tau={cfg['temperature']}, {cfg['samples_per_question']} samples/question",
        f"pre-trained: delta_diag_hat={fmt(pre['delta_diag'])} (target "
        f"{fmt(pre['target_delta_diag'])}); lam_hat={fmt(pre['lam'])} (target "
        f"{fmt(pre['target_lam'])}); row std {fmt(pre['delta_diag_row_std'])}",
        f"  mean |P0 - target| = {pre['gap_to_target']['mean_abs']:.2e}, max = "
        f"{pre['gap_to_target']['max_abs']:.2e}; J = {pre['J']:.6f} (target "
        f"{pre['J_target']:.6f})",
        "  t  J_learned  J_pred(dense)  J_closed_form  success(tau)  |P-pred| mean/max   "
        "|counts-pred| mean/max  delta_diag_hat",
    ]
    for e in res["iterations"]:
        pc = e.get("pred_vs_counts")
        pcs = f"{pc['mean_abs']:.1e}/{pc['max_abs']:.1e}" if pc else "      -      "
        sr = e.get("success_rate")
        lines.append(
            f"{e['t']:3d}  {e['J']:.6f}   {e['J_pred']:.6f}       "
            f"{e['J_theory_closed_form']:.6f}       "
            f"{'-' if sr is None else f'{sr:.4f}':>8}      "
            f"{e['pred_vs_learned']['mean_abs']:.1e}/{e['pred_vs_learned']['max_abs']:.1e}     "
            f"{pcs}      {fmt(e['delta_diag'])}")
    return lines
