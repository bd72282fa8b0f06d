"""The RL-STaR loop on the GPT-2 zip task with any supported rule, theory checks every
iteration, and resume.

Run folder layout (every file written atomically: to a temporary name, then ``os.replace``)::

    config.json                  the ZipConfig (rule and its options included); a re-run with
                                 another config is refused
    results.json                 pre-training summary and one entry per finished iteration
    matrices/P_000.npy           learned matrices of the pre-trained model, (N, M, M) float64
    matrices/P_{t}.npy           learned matrices after iteration t
    matrices/pred_{t}.npy        the rule's exact step from the learned P_{t-1}
    matrices/counts_{t}.npy      kept-trajectory transition counts (STaR, sampled data only)
    checkpoints/pretrained/      GPT-2 checkpoints (save_pretrained layout)
    checkpoints/iter_{t}/
    checkpoints/rule_state_{t}.pkl  the rule's state after iteration t (rules that keep one)
    checkpoints/pretrain_state.pt  pre-training state every 250 steps, until pre-training ends

``results.json`` is written last in each phase, so it is the record of what is finished: a
re-run resumes after the last iteration it lists (or, during pre-training, from the last saved
pre-training state). Every random choice of iteration ``t`` is
seeded from ``(seed, t)``, so a resumed run gives the same numbers as an uninterrupted one.
One iteration is :func:`rlstar_theory.zip.iteration.run_iteration` (refit rules retrain, gradient
rules take policy-gradient steps).

Besides the per-iteration entries, ``results.json`` records ``provenance`` (package versions,
git commit, CPU: :func:`rlstar_theory.provenance.provenance`) of the session that pre-trained,
``theory`` (the rule's exact curve from the learned ``P_0``; for STaR on all questions also the
closed form), ``rule`` (its name, mode and hyper-parameters), ``questions`` (the training and
the held-out start states), ``s0_dependence`` (:data:`S0_DEPENDENCE`), ``resumed`` (one
``{"after_iteration", "provenance"}`` per later session that added iterations) and
``stopped`` (``{"after_iteration", "reason"}``: why the iterations ended). Values JSON lacks
(NaN) are written as ``null``.

A run can start from another run's pre-training (``pretrained_from``): the comparison of
several rules (:mod:`rlstar_theory.zip.compare`) pre-trains once.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic, write_json_atomic
from rlstar_theory.cli._paths import check_out_dir
from rlstar_theory.conventions import delta_diag_to_lam
from rlstar_theory.dense import expected_return, iterate_dense
from rlstar_theory.jsonable import to_jsonable
from rlstar_theory.provenance import provenance
from rlstar_theory.sampling import trajectory_memory
from rlstar_theory.symmetric import iterate_symmetric
from rlstar_theory.validation import check_memory
from rlstar_theory.zip.config import ZipConfig
from rlstar_theory.zip.data import noisy_weights
from rlstar_theory.zip.iteration import (
    STOP_REASONS,
    Context,
    check_finite_matrices,
    child_seed,
    initial_states,
    matrix_gap,
    run_iteration,
    step_stats,
    theory_curves,
)

__all__ = ["PRETRAIN_FIELDS", "S0_DEPENDENCE", "RunResult", "run_experiment", "check_resources",
           "atomic_write_json", "atomic_save_npy", "matrix_gap", "child_seed", "STOP_REASONS"]

#: recorded in every run: why the spread of ``P_n[s, :]`` across start states is not measured
S0_DEPENDENCE = {
    "spread_across_start_states": 0.0,
    "measured": False,
    "why": "the model's input is 's_{n-1} [=]' only (SPEC 4: Markov by input design), so its "
           "transition from s cannot depend on s0: the spread is zero by construction",
    "measured_instead": "how far the transformer's transitions depart from the tabular "
                        "model's independence of rows within this design: per iteration, "
                        "'rows' (the learned change of rows that get no training data, which "
                        "the tabular model leaves unchanged; with held-out questions these "
                        "include their step-1 rows) and J on the held-out questions "
                        "(J_test against the exact rule's J_pred_test)",
}

#: the config fields that decide the pre-trained model (runs that agree on them can share it)
PRETRAIN_FIELDS = ("n_bits", "delta0_diag", "warm_delta_diag", "pretrain_warm_steps",
                   "pretrain_ramp_steps", "pretrain_steps", "pretrain_lr", "n_layer", "n_embd",
                   "n_head", "batch_repeats", "weight_decay", "warmup_steps", "seed",
                   "init_from")

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
    """Write ``data`` as strict JSON to ``path`` atomically (NaN and infinities as ``null``;
    :func:`rlstar_theory.atomic.write_json_atomic`)."""
    write_json_atomic(path, data, indent=1)


def check_resources(cfg: ZipConfig) -> None:
    """Refuse, before any pre-training, a configuration whose arrays cannot fit in memory.

    One iteration samples ``samples_per_question`` trajectories for each of the ``M``
    questions (:func:`rlstar_theory.sampling.trajectory_memory`); the training data of
    ``data="exact"`` are ``N M^2`` weights, always small.

    Raises
    ------
    ValueError
        Naming ``samples_per_question`` (``--samples``) and the GiB needed.
    """
    if cfg.data == "sampled" and cfg.iterations > 0:
        check_memory(trajectory_memory(cfg.M, cfg.samples_per_question, cfg.N),
                     f"sampling {cfg.samples_per_question:,} trajectories for each of the "
                     f"{cfg.M} questions", "samples_per_question (--samples)")


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` ``array`` to ``path`` atomically."""
    buf = io.BytesIO()
    np.save(buf, array)
    write_bytes_atomic(path, buf.getvalue())


def _theory(results: dict, ctx: Context, P0: np.ndarray, states: dict) -> dict:
    """The rule's exact curve from the learned ``P_0`` (:func:`theory_curves`); for STaR on
    all questions also the closed form from the fitted ``delta_diag_0`` (and from the target)
    and the dense engine's curve."""
    cfg = ctx.cfg
    out = theory_curves(ctx, P0, states)
    if cfg.rule == "star" and not ctx.chain.has_test:
        M, T = cfg.M, cfg.iterations
        lam0 = np.asarray(results["pretrain"]["lam"], dtype=np.float64)
        sym = iterate_symmetric(lam0, M, T, temperature=cfg.temperature)
        dense = iterate_dense(P0, T, ctx.truth, temperature=cfg.temperature)
        target = iterate_symmetric(delta_diag_to_lam(np.asarray(cfg.delta0_diag), M), M, T,
                                   temperature=cfg.temperature)
        out.update({
            "J_closed_form_from_fit": np.asarray(sym.J, dtype=float).ravel().tolist(),
            "J_closed_form_from_target": np.asarray(target.J, dtype=float).ravel().tolist(),
            "J_dense_from_P0": np.asarray(dense.J, dtype=float).tolist()})
    return out


def _check_config(out: Path, cfg: ZipConfig) -> bool:
    """True when ``out`` already holds a run of ``cfg``; ValueError when it holds finished or
    partial work of another config. A folder whose run never got anywhere (no
    ``results.json``, no saved pre-training state: e.g. pre-training diverged at once) takes
    the new config."""
    path = out / "config.json"
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); use another --out") from None
    new = cfg.to_json()
    old = {**ZipConfig().to_json(), **old}  # fields an older version did not write: defaults
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not diff:
        return True
    started = ((out / "results.json").exists()
               or (out / "checkpoints" / "pretrain_state.pt").exists())
    if not started:
        return False
    detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:6])
    raise ValueError(f"{out} holds a run with another configuration ({detail}); use the "
                     f"same options to resume it, or another --out")


def _seed_from_pretrained(out: Path, cfg: ZipConfig, source: Path) -> None:
    """Start the run folder ``out`` from the finished pre-training of the run ``source``:
    its checkpoint, ``P_0`` and pre-training record (with its provenance) are copied.

    Raises
    ------
    ValueError
        When ``source`` has no finished pre-training or was pre-trained with other
        :data:`PRETRAIN_FIELDS`.
    """
    source = Path(source)
    try:
        src_cfg = json.loads((source / "config.json").read_text())
        src_res = json.loads((source / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"pretrained_from: {source} holds no finished pre-training "
                         "(config.json and results.json)") from None
    if "pretrain" not in src_res or not (source / "checkpoints" / "pretrained").is_dir():
        raise ValueError(f"pretrained_from: {source} holds no finished pre-training")
    mine = cfg.to_json()
    src_cfg = {**ZipConfig().to_json(), **src_cfg}
    diff = [k for k in PRETRAIN_FIELDS if src_cfg.get(k) != mine.get(k)]
    if diff:
        detail = ", ".join(f"{k}: {src_cfg.get(k)!r} vs {mine.get(k)!r}" for k in diff[:6])
        raise ValueError(f"pretrained_from: {source} was pre-trained with other settings "
                         f"({detail})")
    (out / "matrices").mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    target = out / "checkpoints" / "pretrained"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source / "checkpoints" / "pretrained", target)
    atomic_save_npy(out / "matrices" / "P_000.npy",
                    np.load(source / "matrices" / "P_000.npy"))
    atomic_write_json(out / "results.json",
                      {"iterations": [], "provenance": src_res.get("provenance"),
                       "pretrain": {**src_res["pretrain"], "shared_from": str(source)}})


def _save_states(out: Path, t: int, states: dict) -> None:
    """Pickle the rule's states after iteration ``t`` (nothing for memoryless rules)."""
    if all(v is None for v in states.values()):
        return
    write_bytes_atomic(out / "checkpoints" / f"rule_state_{t:03d}.pkl", pickle.dumps(states))


def _load_states(out: Path, t: int, ctx: Context, P0: np.ndarray) -> dict:
    """The rule's states after iteration ``t`` (``t = 0``: the initial ones)."""
    path = out / "checkpoints" / f"rule_state_{t:03d}.pkl"
    if t > 0 and path.exists():
        return pickle.loads(path.read_bytes())
    states = initial_states(ctx, P0)
    if t > 0 and any(v is not None for v in states.values()):
        raise ValueError(f"{path} is missing: the rule's state after iteration {t} is needed "
                         "to resume; use another --out")
    return states


def run_experiment(cfg: ZipConfig, out: str | os.PathLike, *, progress: bool = True,
                   log: Callable[[str], None] | None = None,
                   after_iteration: Callable[[int], None] | None = None,
                   after_pretrain_save: Callable[[int], None] | None = None,
                   pretrained_from: str | os.PathLike | None = None) -> RunResult:
    """Pre-train (or reload), then run the rule's iterations, resuming a finished part of
    ``out``.

    Before anything is trained, :func:`check_resources` and the output folder are checked
    (ValueError naming the setting to change). Training that diverges (a non-finite loss or
    non-finite scores) raises ValueError naming the learning rate to lower.

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
    pretrained_from : path, optional
        A run folder with a finished pre-training of the same :data:`PRETRAIN_FIELDS`: a new
        run starts from a copy of it instead of pre-training (ignored when ``out`` already
        holds a pre-training).
    """
    check_resources(cfg)
    out = check_out_dir(out, "out")

    import torch

    from rlstar_theory.zip import scoring
    from rlstar_theory.zip.model import build_model, load_model, save_model
    from rlstar_theory.zip.pretrain import pretrain

    log = log or (lambda line: None)
    out.mkdir(parents=True, exist_ok=True)
    existing = _check_config(out, cfg)
    res_path = out / "results.json"
    if pretrained_from is not None and not res_path.exists():
        _seed_from_pretrained(out, cfg, Path(pretrained_from))
        log(f"pre-training shared from {pretrained_from}")
    if not existing:
        atomic_write_json(out / "config.json", cfg.to_json())
    (out / "matrices").mkdir(exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    results.setdefault("iterations", [])
    resumed_from = len(results["iterations"])
    pretrained_before = "theory" in results

    torch.set_num_threads(cfg.threads)
    ctx = Context.create(cfg, out, progress)
    truth, M = ctx.truth, cfg.M

    # ---- pre-training -------------------------------------------------------------------
    if "pretrain" not in results:
        t0 = time.perf_counter()
        model = (load_model(cfg.init_from, ctx.task) if cfg.init_from
                 else build_model(cfg, ctx.task))
        target_W = noisy_weights(ctx.task, cfg.delta0_diag, truth)
        state_path = out / "checkpoints" / "pretrain_state.pt"
        if state_path.exists():
            log(f"resuming pre-training from {state_path}")
        training = pretrain(model, cfg, ctx.task, ctx.tables, truth,
                            seed=child_seed(cfg.seed, 0, 0), progress=progress,
                            state_path=state_path, after_save=after_pretrain_save)
        log(f"pre-training: {training['steps']} steps, loss {training['final_loss']:.4f} "
            f"(floor {training['floor']:.4f})")
        t1 = time.perf_counter()
        P0 = scoring.score_matrices(model, ctx.tables, cfg.score_batch)
        check_finite_matrices(P0, "pre-training", "pretrain_lr (--pretrain-lr)",
                              cfg.pretrain_lr)
        t2 = time.perf_counter()
        target = target_W * M
        save_model(model, out / "checkpoints" / "pretrained")
        atomic_save_npy(out / "matrices" / "P_000.npy", P0)
        pre = {
            **step_stats(P0, truth, M),
            "target_delta_diag": list(cfg.delta0_diag),
            "target_lam": delta_diag_to_lam(np.asarray(cfg.delta0_diag), M).tolist(),
            "gap_to_target": matrix_gap(target, P0),
            "J": float(expected_return(P0, truth)),
            "J_target": float(expected_return(target, truth)),
            "training": training,
            "timing": {"train_s": t1 - t0, "score_s": t2 - t1},
        }
        results["provenance"] = provenance()
        results["pretrain"] = pre
        atomic_write_json(res_path, results)
        state_path.unlink(missing_ok=True)  # finished: the partial state is no longer needed
        log(f"pre-trained: delta_diag_hat = {np.round(pre['delta_diag'], 4).tolist()} "
            f"(target {list(cfg.delta0_diag)}), mean |P - target| = "
            f"{pre['gap_to_target']['mean_abs']:.2e}, J = {pre['J']:.6f} "
            f"(target {pre['J_target']:.6f}), {t2 - t0:.0f} s")
    elif resumed_from or pretrained_before:
        log(f"resuming {out}: pre-training and {resumed_from} iteration(s) already finished")

    # ---- the rule's iterations ----------------------------------------------------------
    t_done = len(results["iterations"])
    P0 = np.load(out / "matrices" / "P_000.npy")
    if "theory" not in results:
        results["rule"] = ctx.rule.settings()
        results["questions"] = {"train": np.flatnonzero(ctx.chain.train).tolist(),
                                "test": np.flatnonzero(ctx.chain.test).tolist()}
        results["s0_dependence"] = S0_DEPENDENCE
        results["theory"] = _theory(results, ctx, P0, initial_states(ctx, P0))
        atomic_write_json(res_path, results)
    states = _load_states(out, t_done, ctx, P0)
    P_prev = np.load(out / "matrices" / f"P_{t_done:03d}.npy")
    J_prev = _stop_value(P_prev, ctx)
    # a later session that adds iterations records its own provenance once
    session = ({"after_iteration": t_done, "provenance": provenance()}
               if pretrained_before else None)
    stopped = {"after_iteration": cfg.iterations, "reason": STOP_REASONS[0]}
    for t in range(t_done + 1, cfg.iterations + 1):
        if J_prev >= cfg.stop_J:
            stopped = {"after_iteration": t - 1, "reason": STOP_REASONS[1], "J": J_prev,
                       "stop_J": cfg.stop_J}
            log(f"J = {J_prev:.6f} reached stop_J = {cfg.stop_J}; stopping")
            break
        outcome = run_iteration(ctx, t, P_prev, states, results["theory"])
        if outcome.stopped is not None:
            stopped = outcome.stopped
            log(f"iteration {t}: {stopped['reason']}; stopping")
            break
        entry = outcome.entry
        a = time.perf_counter()
        atomic_save_npy(out / "matrices" / f"P_{t:03d}.npy", outcome.P)
        atomic_save_npy(out / "matrices" / f"pred_{t:03d}.npy", outcome.pred)
        if outcome.counts is not None:
            atomic_save_npy(out / "matrices" / f"counts_{t:03d}.npy", outcome.counts)
        save_model(outcome.model, out / "checkpoints" / f"iter_{t:03d}")
        _save_states(out, t, outcome.states)
        entry["timing"]["io_s"] = time.perf_counter() - a
        results["iterations"].append(entry)
        if session is not None:
            results.setdefault("resumed", []).append(session)
            session = None
        results.pop("stopped", None)  # an earlier session's stop is superseded
        atomic_write_json(res_path, results)
        gap, change = entry["pred_vs_learned"], entry["change"]
        which = "_train" if ctx.chain.has_test else ""
        log(f"iteration {t} ({cfg.rule}): J{which} = {entry['J' + which]:.6f} (exact "
            f"prediction {entry['J_pred' + which]:.6f}), |P - pred| mean {gap['mean_abs']:.2e} max "
            f"{gap['max_abs']:.2e}, change sign agreement {_fmt(change['sign_agreement'])}, "
            f"Spearman {_fmt(change['spearman'])}, {sum(entry['timing'].values()):.0f} s")
        P_prev, states = outcome.P, outcome.states
        J_prev = _stop_value(P_prev, ctx)
        if after_iteration is not None:
            after_iteration(t)
    if results.get("stopped") != stopped:
        results["stopped"] = stopped
        atomic_write_json(res_path, results)
    return RunResult(out=out, results=to_jsonable(results), resumed_from=resumed_from)


def _stop_value(P: np.ndarray, ctx: Context) -> float:
    """The ``J`` compared with ``stop_J``: all questions, or the training ones when some are
    held out (the held-out questions never decide anything)."""
    if ctx.chain.has_test:
        from rlstar_theory.zip.agreement import split_returns

        return split_returns(P, ctx.chain)["J_train"]
    return float(expected_return(P, ctx.truth))


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
