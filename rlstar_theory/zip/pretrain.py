"""Pre-training on the paper's noisy data, through a curriculum that escapes the loss plateau.

Trained from scratch on the target data (``delta_diag_0 = 0.2``), the model first sits on a
plateau ("uniform over the valid states") for a seed-dependent 1,000 to more than 4,000 steps
and then fits loosely. Strongly correct data (``delta_diag = 0.9``) leave the plateau in about
250 steps; switching abruptly from there to the target collapses the model back onto the
plateau. So the data move in three phases, under one AdamW optimiser whose moments are kept:

1. *warm*: ``pretrain_warm_steps`` steps on ``warm_delta_diag``;
2. *ramp*: ``pretrain_ramp_steps`` steps in :data:`RAMP_LEVELS` equal levels, the diagonal
   excess of step ``k`` going linearly from ``warm_delta_diag`` to ``delta0_diag[k]``,
   ``d_l = warm + (delta0 - warm) * l / RAMP_LEVELS`` for level ``l = 1..RAMP_LEVELS``;
3. *final*: ``pretrain_steps`` steps on the target ``delta0_diag``.

The learning rate warms up linearly over ``warmup_steps``, stays at ``pretrain_lr`` through the
warm phase and decays by a cosine to ``FINAL_LR_FACTOR * pretrain_lr`` over the ramp and final
phases (held constant through the ramp, it let the model collapse back onto the plateau near
the end of a ramp to 0.1 before recovering). Without a curriculum
(``warm_delta_diag = None``) only the final phase runs.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic
from rlstar_theory.zip import schedule
from rlstar_theory.zip.config import ZipConfig
from rlstar_theory.zip.data import SequenceTables, TrainingData, noisy_weights, training_data
from rlstar_theory.zip.task import ZipTask

__all__ = ["RAMP_LEVELS", "FINAL_LR_FACTOR", "SAVE_EVERY", "Curriculum", "curriculum",
           "pretrain"]

#: levels of the ramp phase (the data change every ``pretrain_ramp_steps / RAMP_LEVELS`` steps)
RAMP_LEVELS = 20
#: the learning rate at the end of the final phase, as a fraction of ``pretrain_lr``
FINAL_LR_FACTOR = 0.01
#: steps between saves of the pre-training state (about 35 s at the paper preset)
SAVE_EVERY = 250


@dataclass(frozen=True)
class Curriculum:
    """Data and learning-rate schedule of the pre-training (see the module docstring).

    Attributes
    ----------
    warm_delta_diag : ndarray or None
        Per-step diagonal excess of the warm phase (``None``: no curriculum).
    target_delta_diag : ndarray
        Per-step ``delta0_diag``.
    warm_steps, ramp_steps, final_steps, warmup_steps : int
    """

    warm_delta_diag: np.ndarray | None
    target_delta_diag: np.ndarray
    warm_steps: int
    ramp_steps: int
    final_steps: int
    warmup_steps: int

    @property
    def steps(self) -> int:
        """All optimiser steps."""
        return self.warm_steps + self.ramp_steps + self.final_steps

    def level(self, step: int) -> int:
        """Data level at ``step``: 0 warm, ``1..RAMP_LEVELS`` ramp, ``RAMP_LEVELS`` final."""
        if self.warm_delta_diag is None or step >= self.warm_steps + self.ramp_steps:
            return RAMP_LEVELS
        if step < self.warm_steps:
            return 0
        return min(RAMP_LEVELS, (step - self.warm_steps) * RAMP_LEVELS // self.ramp_steps + 1)

    def delta_diag_at_level(self, level: int) -> np.ndarray:
        """Per-step diagonal excess of the data at ``level``."""
        if self.warm_delta_diag is None or level >= RAMP_LEVELS:
            return self.target_delta_diag
        frac = level / RAMP_LEVELS
        return self.warm_delta_diag + (self.target_delta_diag - self.warm_delta_diag) * frac

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``pretrain_lr`` at ``step``: warm-up, constant, then a cosine that
        starts with the ramp (or after the warm-up, without a curriculum)."""
        first = self.warm_steps if self.warm_delta_diag is not None else None
        return schedule.lr_factor(step, self.steps, self.warmup_steps, FINAL_LR_FACTOR,
                                  decay_from=first)

    def phases(self) -> list[dict]:
        """The phases as JSON-able dicts (name, first step, steps, delta_diag at start/end)."""
        out = []
        if self.warm_delta_diag is not None:
            w = self.warm_delta_diag.tolist()
            out.append(dict(name="warm", first_step=0, steps=self.warm_steps,
                            delta_diag_start=w, delta_diag_end=w))
            out.append(dict(name="ramp", first_step=self.warm_steps, steps=self.ramp_steps,
                            delta_diag_start=self.delta_diag_at_level(1).tolist(),
                            delta_diag_end=self.target_delta_diag.tolist()))
        t = self.target_delta_diag.tolist()
        out.append(dict(name="final", first_step=self.warm_steps + self.ramp_steps,
                        steps=self.final_steps, delta_diag_start=t, delta_diag_end=t))
        return out


def curriculum(cfg: ZipConfig) -> Curriculum:
    """The pre-training schedule of ``cfg``."""
    target = np.asarray(cfg.delta0_diag, dtype=np.float64)
    if cfg.warm_delta_diag is None:
        return Curriculum(None, target, 0, 0, cfg.pretrain_steps, cfg.warmup_steps)
    warm = np.full_like(target, cfg.warm_delta_diag)
    return Curriculum(warm, target, cfg.pretrain_warm_steps, cfg.pretrain_ramp_steps,
                      cfg.pretrain_steps, cfg.warmup_steps)


def pretrain(model, cfg: ZipConfig, task: ZipTask, tables: SequenceTables, truth: np.ndarray,
             *, seed: int, progress: bool = True, state_path: Path | None = None,
             after_save: Callable[[int], None] | None = None) -> dict:
    """Fit ``model`` (in place) to the noisy data of ``cfg`` through :func:`curriculum`.

    With ``state_path``, the training state (model, optimiser, sampler, step) is saved there
    atomically every :data:`SAVE_EVERY` steps, and an existing file is resumed from, so an
    interrupted pre-training loses at most ``SAVE_EVERY`` steps and ends with the same numbers
    as an uninterrupted one. ``after_save`` is called with the step after each save (tests use
    it to interrupt).

    Returns
    -------
    dict
        JSON-able summary: ``phases`` (see :meth:`Curriculum.phases`), ``steps``, ``lr``,
        ``losses`` (mean loss per 50 steps; the floor moves with the data during the ramp),
        ``final_loss`` and ``floor`` (the target data's entropy).

    Raises
    ------
    ValueError
        When the loss stops being finite ("pre-training diverged ..., lower pretrain_lr").
    """
    from rlstar_theory.zip.train import TrainingDivergedError, train

    plan = curriculum(cfg)
    cache: dict[int, TrainingData] = {}

    def data_at(step: int) -> TrainingData:
        level = plan.level(step)
        if level not in cache:
            cache.clear()  # levels only increase: keep one
            W = noisy_weights(task, plan.delta_diag_at_level(level), truth)
            cache[level] = training_data(tables, W)
        return cache[level]

    state = None
    save_state = None
    if state_path is not None:
        import torch

        if state_path.exists():
            state = torch.load(state_path, weights_only=True)

        def save_state(st: dict) -> None:
            buf = io.BytesIO()
            torch.save(st, buf)
            write_bytes_atomic(state_path, buf.getvalue())
            if after_save is not None:
                after_save(st["step"])

    try:
        r = train(model, tables, data_at, steps=plan.steps, lr=cfg.pretrain_lr, seed=seed,
                  weight_decay=cfg.weight_decay, batch_repeats=cfg.batch_repeats,
                  progress=progress, desc="pretrain", lr_factor=plan.lr_factor, state=state,
                  save_state=save_state, save_every=SAVE_EVERY)
    except TrainingDivergedError as exc:
        raise ValueError(f"pre-training diverged at step {exc.step} of {plan.steps} (loss "
                         f"{exc.loss}); lower pretrain_lr (--pretrain-lr, now "
                         f"{cfg.pretrain_lr:g})") from None
    return {"phases": plan.phases(), "steps": r.steps, "lr": cfg.pretrain_lr,
            "losses": list(r.losses), "final_loss": r.final_loss, "floor": r.floor}
