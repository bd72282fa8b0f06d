"""The RL-STaR loop on the GPT-2 zip task, with theory checks every iteration and resume.

Run folder layout (every file written atomically: to a temporary name, then ``os.replace``)::

    config.json                  the ZipConfig; a re-run with another config is refused
    results.json                 pre-training summary and one entry per finished iteration
    matrices/P_000.npy           learned matrices of the pre-trained model, (N, M, M) float64
    matrices/P_{t}.npy           learned matrices after iteration t
    matrices/pred_{t}.npy        dense-engine prediction star_step(P_{t-1})
    matrices/counts_{t}.npy      kept-trajectory transition counts (sampled data only)
    checkpoints/pretrained/      GPT-2 checkpoints (save_pretrained layout)
    checkpoints/iter_{t}/
    checkpoints/pretrain_state.pt  pre-training state every 250 steps, until pre-training ends

``results.json`` is written last in each phase, so it is the record of what is finished: a
re-run resumes after the last iteration it lists (or, during pre-training, from the last saved
pre-training state). Every random choice of iteration ``t`` is
seeded from ``(seed, t)``, so a resumed run gives the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic
from rlstar_theory.conventions import delta_diag_to_lam
from rlstar_theory.dense import diag_excess, expected_return, iterate_dense, posterior, refit
from rlstar_theory.symmetric import iterate_symmetric
from rlstar_theory.zip.config import ZipConfig
from rlstar_theory.zip.data import (
    counts_weights,
    exact_filtered_weights,
    noisy_weights,
    sequence_tables,
    training_data,
)
from rlstar_theory.zip.sampling import sample_trajectories
from rlstar_theory.zip.task import ZipTask

__all__ = ["RunResult", "run_experiment", "atomic_write_json", "atomic_save_npy",
           "matrix_gap", "child_seed"]


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_experiment` leaves in the run folder.

    Attributes
    ----------
    out : Path
    results : dict
        The content of ``results.json``.
    resumed_from : int
        Iterations already finished when this call started (0: fresh run).
    """

    out: Path
    results: dict
    resumed_from: int


def atomic_write_json(path: Path, data) -> None:
    """Write ``data`` as JSON to ``path`` atomically (NaN allowed)."""
    write_bytes_atomic(path, (json.dumps(data, indent=1, allow_nan=True) + "\n").encode())


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` ``array`` to ``path`` atomically."""
    buf = io.BytesIO()
    np.save(buf, array)
    write_bytes_atomic(path, buf.getvalue())


def child_seed(seed: int, *key: int) -> int:
    """A 63-bit seed derived from ``(seed, *key)`` (independent streams per phase)."""
    return int(np.random.SeedSequence([seed, *key]).generate_state(2, np.uint64)[0] >> 1)


def matrix_gap(A: np.ndarray, B: np.ndarray, row_weight: np.ndarray | None = None) -> dict:
    """Mean and max absolute entry difference and KL(A || B) per row (mean over rows,
    weighted by ``row_weight`` when given, and max)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(A > 0, A * (np.log(A) - np.log(np.maximum(B, 1e-300))), 0.0)
    kl = terms.sum(axis=-1)  # (N, M)
    if row_weight is None:
        kl_mean = float(kl.mean())
    else:
        w = np.asarray(row_weight, dtype=np.float64)
        kl_mean = float((kl * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
    return {"mean_abs": float(np.abs(A - B).mean()), "max_abs": float(np.abs(A - B).max()),
            "kl_mean": kl_mean, "kl_max": float(kl.max())}


def _step_stats(P: np.ndarray, truth: np.ndarray, M: int) -> dict:
    dd = np.asarray(diag_excess(P, truth), dtype=np.float64)
    rows = np.arange(M)
    diag = np.stack([P[k, rows, truth[k]] for k in range(P.shape[0])])
    return {"delta_diag": dd.tolist(), "lam": delta_diag_to_lam(dd, M).tolist(),
            "delta_diag_row_std": diag.std(axis=1).tolist(),
            "delta_diag_row_min": (diag.min(axis=1) - 1.0 / M).tolist(),
            "delta_diag_row_max": (diag.max(axis=1) - 1.0 / M).tolist()}


def _theory(results: dict, cfg: ZipConfig, P0: np.ndarray, truth: np.ndarray) -> dict:
    """Closed-form curve from the fitted delta_diag_0 and the dense curve from learned P_0."""
    M, T = cfg.M, cfg.iterations
    lam0 = np.asarray(results["pretrain"]["lam"], dtype=np.float64)
    sym = iterate_symmetric(lam0, M, T, temperature=cfg.temperature)
    dense = iterate_dense(P0, T, truth, temperature=cfg.temperature)
    target = iterate_symmetric(delta_diag_to_lam(np.asarray(cfg.delta0_diag), M), M, T,
                               temperature=cfg.temperature)
    return {"J_closed_form_from_fit": np.asarray(sym.J, dtype=float).ravel().tolist(),
            "J_closed_form_from_target": np.asarray(target.J, dtype=float).ravel().tolist(),
            "J_dense_from_P0": np.asarray(dense.J, dtype=float).tolist()}


def _check_config(out: Path, cfg: ZipConfig) -> bool:
    """True when ``out`` already holds a run of ``cfg``; ValueError when of another config."""
    path = out / "config.json"
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); use another --out") from None
    new = cfg.to_json()
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:6])
        raise ValueError(f"{out} holds a run with another configuration ({detail}); use the "
                         f"same options to resume it, or another --out")
    return True


def run_experiment(cfg: ZipConfig, out: str | os.PathLike, *, progress: bool = True,
                   log: Callable[[str], None] | None = None,
                   after_iteration: Callable[[int], None] | None = None,
                   after_pretrain_save: Callable[[int], None] | None = None) -> RunResult:
    """Pre-train (or reload), then run RL-STaR iterations, resuming a finished part of ``out``.

    Parameters
    ----------
    cfg : ZipConfig
    out : path
        Run folder (created if missing).
    progress : bool
        tqdm bars on stderr.
    log : callable, optional
        Receives one line per finished phase.
    after_iteration : callable, optional
        Called with ``t`` after iteration ``t`` is saved (used by tests to interrupt a run).
    after_pretrain_save : callable, optional
        Called with the step after each save of the pre-training state
        (``checkpoints/pretrain_state.pt``, every 250 steps, removed once pre-training is
        finished); an interrupted pre-training resumes from it.
    """
    import torch

    from rlstar_theory.zip.model import build_model, load_model, save_model
    from rlstar_theory.zip.pretrain import pretrain
    from rlstar_theory.zip.scoring import score_matrices
    from rlstar_theory.zip.train import train

    log = log or (lambda line: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    existing = _check_config(out, cfg)
    if not existing:
        atomic_write_json(out / "config.json", cfg.to_json())
    (out / "matrices").mkdir(exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    res_path = out / "results.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    results.setdefault("iterations", [])
    resumed_from = len(results["iterations"])

    torch.set_num_threads(cfg.threads)
    task = ZipTask(cfg.n_bits)
    truth = task.truth()
    tables = sequence_tables(task)
    M = cfg.M
    kw = dict(warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
              batch_repeats=cfg.batch_repeats, progress=progress)

    # ---- pre-training -------------------------------------------------------------------
    if "pretrain" not in results:
        t0 = time.perf_counter()
        model = load_model(cfg.init_from, task) if cfg.init_from else build_model(cfg, task)
        target_W = noisy_weights(task, cfg.delta0_diag, truth)
        state_path = out / "checkpoints" / "pretrain_state.pt"
        if state_path.exists():
            log(f"resuming pre-training from {state_path}")
        training = pretrain(model, cfg, task, tables, truth, seed=child_seed(cfg.seed, 0, 0),
                            progress=progress, state_path=state_path,
                            after_save=after_pretrain_save)
        log(f"pre-training: {training['steps']} steps, loss {training['final_loss']:.4f} "
            f"(floor {training['floor']:.4f})")
        t1 = time.perf_counter()
        P0 = score_matrices(model, tables, cfg.score_batch)
        t2 = time.perf_counter()
        target = target_W * M
        save_model(model, out / "checkpoints" / "pretrained")
        atomic_save_npy(out / "matrices" / "P_000.npy", P0)
        pre = {
            **_step_stats(P0, truth, M),
            "target_delta_diag": list(cfg.delta0_diag),
            "target_lam": delta_diag_to_lam(np.asarray(cfg.delta0_diag), M).tolist(),
            "gap_to_target": matrix_gap(target, P0),
            "J": float(expected_return(P0, truth)),
            "J_target": float(expected_return(target, truth)),
            "training": training,
            "timing": {"train_s": t1 - t0, "score_s": t2 - t1},
        }
        results["pretrain"] = pre
        results["theory"] = _theory(results, cfg, P0, truth)
        atomic_write_json(res_path, results)
        state_path.unlink(missing_ok=True)  # finished: the partial state is no longer needed
        log(f"pre-trained: delta_diag_hat = {np.round(pre['delta_diag'], 4).tolist()} "
            f"(target {list(cfg.delta0_diag)}), mean |P - target| = "
            f"{pre['gap_to_target']['mean_abs']:.2e}, J = {pre['J']:.6f} "
            f"(target {pre['J_target']:.6f}), {t2 - t0:.0f} s")
    else:
        log(f"resuming {out}: pre-training and {resumed_from} iteration(s) already finished")

    # ---- RL-STaR iterations -------------------------------------------------------------
    t_done = len(results["iterations"])
    P_prev = np.load(out / "matrices" / f"P_{t_done:03d}.npy")
    J_prev = float(expected_return(P_prev, truth))
    for t in range(t_done + 1, cfg.iterations + 1):
        if J_prev >= cfg.stop_J:
            break
        timing = {}
        a = time.perf_counter()
        post = posterior(P_prev, truth, temperature=cfg.temperature)
        pred = refit(P_prev, post.joint)  # = star_step(P_prev, truth, temperature)
        row_mass = post.joint.sum(axis=2)
        timing["theory_s"] = time.perf_counter() - a
        entry: dict = {"t": t}
        a = time.perf_counter()
        counts = None
        if cfg.data == "sampled":
            rng = np.random.default_rng(child_seed(cfg.seed, t, 1))
            smp = sample_trajectories(P_prev, truth, cfg.samples_per_question,
                                      cfg.temperature, rng)
            entry.update(kept=smp.kept, sampled=smp.total, success_rate=smp.success_rate)
            if smp.kept == 0:
                entry["stopped"] = "no kept trajectory"
                log(f"iteration {t}: no sampled trajectory succeeded; stopping")
                break
            counts = smp.counts
            W = counts_weights(counts)
            emp = refit(P_prev, counts.astype(np.float64))
            entry["pred_vs_counts"] = matrix_gap(pred, emp, row_mass)
            entry["rows_with_data"] = int((counts.sum(axis=2) > 0).sum())
        else:
            W = exact_filtered_weights(P_prev, truth, cfg.temperature)
            entry["rows_with_data"] = int((W.sum(axis=2) > 0).sum())
        entry["J_tau_prev"] = float(post.success)
        timing["sample_s"] = time.perf_counter() - a

        a = time.perf_counter()
        base = (out / "checkpoints" / "pretrained" if cfg.restart == "pretrained" or t == 1
                else out / "checkpoints" / f"iter_{t - 1:03d}")
        model = load_model(base, task)
        r = train(model, tables, training_data(tables, W), steps=cfg.train_steps,
                  lr=cfg.train_lr, seed=child_seed(cfg.seed, t, 2), desc=f"train:{t}", **kw)
        timing["train_s"] = time.perf_counter() - a
        a = time.perf_counter()
        P = score_matrices(model, tables, cfg.score_batch)
        timing["score_s"] = time.perf_counter() - a

        a = time.perf_counter()
        J = float(expected_return(P, truth))
        entry.update(
            J=J, J_tau=float(expected_return(P, truth, temperature=cfg.temperature)),
            J_pred=float(expected_return(pred, truth)),
            J_theory_closed_form=results["theory"]["J_closed_form_from_fit"][t],
            J_theory_dense_from_P0=results["theory"]["J_dense_from_P0"][t],
            **_step_stats(P, truth, M),
            pred_vs_learned=matrix_gap(pred, P, row_mass),
            train={"final_loss": r.final_loss, "floor": r.floor, "losses": list(r.losses)},
        )
        atomic_save_npy(out / "matrices" / f"P_{t:03d}.npy", P)
        atomic_save_npy(out / "matrices" / f"pred_{t:03d}.npy", pred)
        if counts is not None:
            atomic_save_npy(out / "matrices" / f"counts_{t:03d}.npy", counts)
        save_model(model, out / "checkpoints" / f"iter_{t:03d}")
        timing["io_s"] = time.perf_counter() - a
        entry["timing"] = timing
        results["iterations"].append(entry)
        atomic_write_json(res_path, results)
        gap = entry["pred_vs_learned"]
        log(f"iteration {t}: J = {J:.6f} (dense prediction {entry['J_pred']:.6f}, closed form "
            f"{entry['J_theory_closed_form']:.6f}), |P - pred| mean {gap['mean_abs']:.2e} max "
            f"{gap['max_abs']:.2e}, {sum(timing.values()):.0f} s")
        P_prev, J_prev = P, J
        if after_iteration is not None:
            after_iteration(t)
    return RunResult(out=out, results=results, resumed_from=resumed_from)
