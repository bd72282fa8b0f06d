"""One iteration of the zip loop for any supported rule: data, training, scoring, records.

Refit rules (:mod:`rlstar_theory.zip.rule_step`) retrain the transformer on the rule's data
(from the pre-trained checkpoint, or from the last one with ``restart="last"``) for
``train_steps`` steps at ``train_lr``, as RL-STaR does. ``star`` and ``ei`` with sampled data
draw the kept-trajectory counts of :func:`rlstar_theory.zip.sampling.sample_trajectories`
(the STaR runs of earlier versions, unchanged). Gradient rules continue from the last model
and take ``pg_steps`` policy-gradient steps at ``pg_lr``
(:func:`rlstar_theory.zip.pg_train.train_signed`) on the signed counts of one batch of
sampled groups (``data="sampled"``) or on their expectation (``"exact"``).

Each iteration records, beside what RL-STaR recorded (``J``, the prediction ``J_pred``, the
entry gaps ``pred_vs_learned``, the step statistics):

* ``J_train`` (and ``J_test`` with held-out questions) of the learned and the predicted
  matrices (``J_pred_train``, ``J_pred_test``);
* ``J_raw_train`` (``J_raw_test``) and ``valid_mass``: the same without the renormalisation
  over valid states (mass on invalid strings is a failure);
* ``change``: sign agreement, Spearman rank correlation and slope of the learned against the
  predicted change of every transition probability
  (:func:`rlstar_theory.zip.agreement.change_agreement`);
* ``rows``: how much the rows without training data moved
  (:func:`rlstar_theory.zip.agreement.row_changes`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlstar_theory.dense import expected_return, refit
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule
from rlstar_theory.rules.star import Star
from rlstar_theory.zip import rule_step
from rlstar_theory.zip.agreement import (
    change_agreement,
    data_free_rows,
    raw_matrices,
    row_changes,
    split_returns,
)
from rlstar_theory.zip.config import ZipConfig
from rlstar_theory.zip.data import SequenceTables, counts_weights, training_data
from rlstar_theory.zip.sampling import sample_trajectories
from rlstar_theory.zip.task import ZipTask

__all__ = ["Context", "Outcome", "STOP_REASONS", "initial_states", "run_iteration",
           "theory_curves"]

#: values of ``results["stopped"]["reason"]``
STOP_REASONS = ("iterations done", "stop_J reached", "no kept trajectory",
                "policy never succeeds", "no training signal")


@dataclass(frozen=True)
class Context:
    """What every iteration of one run shares.

    Attributes
    ----------
    cfg : ZipConfig
    out : Path
        The run folder.
    task : ZipTask
    truth : ndarray, shape (N, M)
    tables : SequenceTables
    chain : ChainMDP
        Truth, uniform questions and the train split (:func:`rule_step.train_mask`).
    rule : Rule
    kind : {"refit", "gradient"}
    progress : bool
    """

    cfg: ZipConfig
    out: Path
    task: ZipTask
    truth: np.ndarray
    tables: SequenceTables
    chain: ChainMDP
    rule: Rule
    kind: str
    progress: bool = True

    @classmethod
    def create(cls, cfg: ZipConfig, out: Path, progress: bool = True) -> Context:
        """The context of ``cfg`` (builds the rule and the split)."""
        from rlstar_theory.zip.data import sequence_tables

        task = ZipTask(cfg.n_bits)
        truth = task.truth()
        chain = rule_step.chain_model(truth, rule_step.train_mask(cfg.M, cfg.test_fraction,
                                                                  cfg.seed))
        rule = rule_step.build_rule(cfg.rule, cfg.rule_options, cfg.samples_per_question)
        return cls(cfg=cfg, out=out, task=task, truth=truth, tables=sequence_tables(task),
                   chain=chain, rule=rule, kind=rule_step.rule_kind(rule), progress=progress)

    @property
    def counts_path(self) -> bool:
        """STaR with sampled data trains on kept-trajectory counts (the original loop)."""
        return isinstance(self.rule, Star) and self.cfg.data == "sampled"

    def temperature(self) -> float:
        """The sampling temperature of the data (1 for gradient rules: on-policy)."""
        return self.cfg.temperature if self.kind == "refit" else 1.0


def initial_states(ctx: Context, P0: np.ndarray) -> dict:
    """The rule's state before the first iteration, for its exact and its sampled step."""
    Ps = rule_step.sampling_policy(ctx.rule, ctx.chain, P0, ctx.temperature())
    return {"exact": ctx.rule.init_state(Ps, ctx.chain),
            "sampled": ctx.rule.init_state(Ps, ctx.chain)}


def theory_curves(ctx: Context, P0: np.ndarray, states: dict) -> dict:
    """``J`` of the exact tabular rule iterated from the learned ``P0``: ``P_{t+1} =``
    :func:`rule_step.predict` ``(P_t)`` for ``t < iterations``; all questions
    (``J_exact_from_P0``), the training ones and the held-out ones."""
    P, state = P0, states["exact"]
    rows = [_returns(P, ctx)]
    for _ in range(ctx.cfg.iterations):
        pred = rule_step.predict(ctx.rule, ctx.chain, P, state, ctx.temperature())
        P, state = pred.P, pred.state
        rows.append(_returns(P, ctx))
    return {f"J_exact_from_P0{suffix}": [r[key] for r in rows]
            for suffix, key in (("", "J"), ("_train", "J_train"), ("_test", "J_test"))
            if key in rows[0]}


def _returns(P: np.ndarray, ctx: Context) -> dict:
    return {"J": float(expected_return(P, ctx.truth)), **split_returns(P, ctx.chain)}


@dataclass(frozen=True)
class Outcome:
    """One finished iteration, or why it could not run.

    Attributes
    ----------
    entry : dict or None
        The iteration's record (None when stopped).
    stopped : dict or None
        ``{"after_iteration", "reason", ...}`` when the iteration could not run.
    P, pred : ndarray or None
        Learned and predicted matrices.
    counts : ndarray or None
        Kept-trajectory counts (STaR with sampled data).
    model : GPT2LMHeadModel or None
    states : dict
        The rule's states after the iteration.
    """

    entry: dict | None
    stopped: dict | None
    P: np.ndarray | None = None
    pred: np.ndarray | None = None
    counts: np.ndarray | None = None
    model: Any = None
    states: dict | None = None


def _stop(t: int, reason: int, **extra) -> Outcome:
    return Outcome(entry=None, stopped={"after_iteration": t - 1,
                                        "reason": STOP_REASONS[reason], **extra})


def _refit_data(ctx: Context, t: int, P_prev: np.ndarray, pred, states: dict,
                rng: np.random.Generator, entry: dict):
    """``(W, data_edges, counts, sampled_state)`` or an :class:`Outcome` that stops."""
    cfg, tau = ctx.cfg, ctx.cfg.temperature
    row_mass = pred.edges.sum(axis=2)
    Ps = rule_step.sampling_policy(ctx.rule, ctx.chain, P_prev, tau)
    J_tau_prev = split_returns(Ps, ctx.chain)["J_train"]
    if ctx.counts_path:
        smp = sample_trajectories(P_prev, ctx.truth, cfg.samples_per_question, tau, rng,
                                  start=ctx.chain.weights("train"))
        entry.update(kept=smp.kept, sampled=smp.total, success_rate=smp.success_rate)
        if smp.kept == 0:
            return _stop(t, 2, sampled=smp.total, J_tau=J_tau_prev)
        counts = smp.counts
        entry["pred_vs_counts"] = matrix_gap(pred.P, refit(P_prev, counts.astype(np.float64)),
                                             row_mass)
        entry["rows_with_data"] = int((counts.sum(axis=2) > 0).sum())
        entry["J_tau_prev"] = J_tau_prev
        return counts_weights(counts), counts, counts, states["sampled"]
    if cfg.data == "exact" and not J_tau_prev > 0:
        return _stop(t, 3, J_tau=J_tau_prev)
    try:
        data = rule_step.refit_data(ctx.rule, ctx.chain, P_prev, states["sampled"], tau,
                                    cfg.data, rng, exact=pred if cfg.data == "exact" else None)
    except ValueError:
        return _stop(t, 2 if cfg.data == "sampled" else 3, J_tau=J_tau_prev)
    if cfg.data == "sampled":
        entry["sampled"] = data.samples
        entry["pred_vs_counts"] = matrix_gap(pred.P, data.target, row_mass)
    entry["rows_with_data"] = int((data.weights.sum(axis=2) > 0).sum())
    entry["J_tau_prev"] = J_tau_prev
    return data.weights, data.weights, None, data.state


def _checkpoint(ctx: Context, t: int, restart: str) -> Path:
    base = ctx.out / "checkpoints"
    return base / "pretrained" if restart == "pretrained" or t == 1 else base / f"iter_{t - 1:03d}"


def run_iteration(ctx: Context, t: int, P_prev: np.ndarray, states: dict,
                  theory: dict) -> Outcome:
    """Iteration ``t`` from the learned ``P_prev`` (see the module docstring).

    Raises
    ------
    ValueError
        When training diverges (naming the learning rate to lower).
    """
    from rlstar_theory.zip import scoring
    from rlstar_theory.zip.model import load_model
    from rlstar_theory.zip.train import TrainingDivergedError

    cfg = ctx.cfg
    timing: dict[str, float] = {}
    a = time.perf_counter()
    pred = rule_step.predict(ctx.rule, ctx.chain, P_prev, states["exact"], ctx.temperature())
    row_mass = pred.edges.sum(axis=2)
    timing["theory_s"] = time.perf_counter() - a
    entry: dict = {"t": t}
    rng = np.random.default_rng(child_seed(cfg.seed, t, 1))
    a = time.perf_counter()
    counts = None
    if ctx.kind == "refit":
        got = _refit_data(ctx, t, P_prev, pred, states, rng, entry)
        if isinstance(got, Outcome):
            return got
        W, data_edges, counts, sampled_state = got
        timing["sample_s"] = time.perf_counter() - a
        a = time.perf_counter()
        model = load_model(_checkpoint(ctx, t, cfg.restart), ctx.task)
        r = _train_refit(ctx, model, W, t, TrainingDivergedError)
        lr_name, lr = "train_lr (--train-lr)", cfg.train_lr
    else:
        if cfg.data == "sampled":
            C, drawn = rule_step.signed_edges(ctx.rule, ctx.chain, P_prev, rng)
            entry["sampled"] = drawn
        else:
            C = rule_step.expected_signed_edges(ctx.rule, ctx.chain, P_prev)
        C_plus, C_minus = rule_step.split_signed(C)
        entry["edge_mass"] = {"positive": float(C_plus.sum()), "negative": float(C_minus.sum())}
        entry["rows_with_data"] = int((np.abs(C).sum(axis=2) > 0).sum())
        timing["sample_s"] = time.perf_counter() - a
        if not (C_plus.any() or C_minus.any()):
            return _stop(t, 4, J_train=split_returns(P_prev, ctx.chain)["J_train"])
        data_edges, sampled_state = C, states["sampled"]
        a = time.perf_counter()
        model = load_model(_checkpoint(ctx, t, "last"), ctx.task)
        r = _train_gradient(ctx, model, C_plus, C_minus, t, TrainingDivergedError)
        lr_name, lr = "pg_lr (--pg-lr)", cfg.pg_lr
    timing["train_s"] = time.perf_counter() - a

    a = time.perf_counter()
    P, valid = scoring.score_matrices(model, ctx.tables, cfg.score_batch,
                                      return_valid_mass=True)
    check_finite_matrices(P, f"iteration {t}: retraining", lr_name, lr)
    timing["score_s"] = time.perf_counter() - a

    J = float(expected_return(P, ctx.truth))
    entry.update(J=J, **split_returns(P, ctx.chain),
                 **split_returns(raw_matrices(P, valid), ctx.chain, "J_raw"),
                 valid_mass={"min": float(valid.min()), "mean": float(valid.mean())},
                 J_pred=float(expected_return(pred.P, ctx.truth)),
                 **split_returns(pred.P, ctx.chain, "J_pred"))
    if ctx.kind == "refit":
        entry["J_tau"] = float(expected_return(P, ctx.truth, temperature=cfg.temperature))
    for key, name in (("J_closed_form_from_fit", "J_theory_closed_form"),
                      ("J_dense_from_P0", "J_theory_dense_from_P0")):
        if key in theory:
            entry[name] = theory[key][t]
    entry.update(
        **step_stats(P, ctx.truth, cfg.M),
        pred_vs_learned=matrix_gap(pred.P, P, row_mass),
        change=change_agreement(P_prev, pred.P, P),
        rows=row_changes(P_prev, pred.P, P, data_free_rows(data_edges)),
        train={"final_loss": r.final_loss, "floor": r.floor, "losses": list(r.losses)},
        timing=timing,
    )
    return Outcome(entry=entry, stopped=None, P=P, pred=pred.P, counts=counts, model=model,
                   states={"exact": pred.state, "sampled": sampled_state})


def _train_refit(ctx: Context, model, W: np.ndarray, t: int, diverged):
    from rlstar_theory.zip.train import train

    cfg = ctx.cfg
    try:
        return train(model, ctx.tables, training_data(ctx.tables, W), steps=cfg.train_steps,
                     lr=cfg.train_lr, seed=child_seed(cfg.seed, t, 2), desc=f"train:{t}",
                     warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
                     batch_repeats=cfg.batch_repeats, progress=ctx.progress)
    except diverged as exc:
        raise ValueError(f"iteration {t}: retraining diverged at step {exc.step} (loss "
                         f"{exc.loss}); lower train_lr (--train-lr, now "
                         f"{cfg.train_lr:g})") from None


def _train_gradient(ctx: Context, model, C_plus: np.ndarray, C_minus: np.ndarray, t: int,
                    diverged):
    from rlstar_theory.zip.pg_train import train_signed

    cfg = ctx.cfg
    parts = [training_data(ctx.tables, C) if C.any() else None for C in (C_plus, C_minus)]
    try:
        return train_signed(model, ctx.tables, *parts, steps=cfg.pg_steps, lr=cfg.pg_lr,
                            seed=child_seed(cfg.seed, t, 2), optimizer=cfg.pg_optimizer,
                            desc=f"{cfg.rule}:{t}", progress=ctx.progress)
    except diverged as exc:
        raise ValueError(f"iteration {t}: policy-gradient training diverged at step "
                         f"{exc.step} (loss {exc.loss}); lower pg_lr (--pg-lr, now "
                         f"{cfg.pg_lr:g})") from None


# ---- small shared helpers (also used by the loop) -------------------------------------------


def check_finite_matrices(P: np.ndarray, phase: str, lr_name: str, lr: float) -> None:
    """A model whose scores are not finite has diverged; say so instead of "P must be
    finite" from the first check downstream."""
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{phase} diverged: the model's transition scores are not finite; "
                         f"lower {lr_name} (now {lr:g})")


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


def step_stats(P: np.ndarray, truth: np.ndarray, M: int) -> dict:
    """Per-step fitted diagonal excess (both conventions) and its spread over rows."""
    from rlstar_theory.conventions import delta_diag_to_lam, diag_prob_to_delta_diag
    from rlstar_theory.dense import diag_excess

    dd = np.asarray(diag_excess(P, truth), dtype=np.float64)
    rows = np.arange(M)
    diag = np.stack([P[k, rows, truth[k]] for k in range(P.shape[0])])
    return {"delta_diag": dd.tolist(), "lam": delta_diag_to_lam(dd, M).tolist(),
            "delta_diag_row_std": diag.std(axis=1).tolist(),
            "delta_diag_row_min": diag_prob_to_delta_diag(diag.min(axis=1), M).tolist(),
            "delta_diag_row_max": diag_prob_to_delta_diag(diag.max(axis=1), M).tolist()}
