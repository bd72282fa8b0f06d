"""Training a GPT-2 on exact soft targets (see :mod:`rlstar_theory.zip.data`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from rlstar_theory.zip.data import SequenceTables, TrainingData

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True)
class TrainResult:
    """Summary of one training stage.

    Attributes
    ----------
    steps : int
    losses : tuple of float
        Mean loss (nats per step, whole target) over each block of ``log_every`` steps.
    final_loss : float
        Mean loss of the last block.
    floor : float
        The smallest reachable loss (entropy of the data), so ``final_loss - floor`` is the
        fit's excess.
    """

    steps: int
    losses: tuple[float, ...]
    final_loss: float
    floor: float


SCHEDULES = ("cosine", "constant")


def _lr_factor(step: int, steps: int, warmup: int, schedule: str = "cosine",
               final_factor: float = 0.1) -> float:
    """Linear warm-up, then constant or cosine decay to ``final_factor`` of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(1, steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def train(model, tables: SequenceTables, data: TrainingData, *, steps: int, lr: float,
          seed: int, warmup_steps: int = 100, weight_decay: float = 0.0,
          batch_repeats: int = 1, log_every: int = 50, desc: str = "train",
          progress: bool = True, schedule: str = "cosine", final_factor: float = 0.1,
          stop_excess: float | None = None) -> TrainResult:
    """Fit ``model`` to ``data`` with AdamW for ``steps`` steps (in place).

    Each batch holds every (step, input state) with data ``batch_repeats`` times, a target
    string drawn from the exact target row (``torch.Generator`` seeded with ``seed``), and the
    exact next-token distributions along it as soft targets; the loss is the data-weighted
    cross-entropy summed over the target tokens and averaged over steps.

    ``schedule`` is ``"cosine"`` (decay to ``final_factor`` of ``lr``) or ``"constant"``, both
    after ``warmup_steps`` of linear warm-up. With ``stop_excess``, training stops early once
    the mean loss of a block of ``log_every`` steps is within ``stop_excess`` nats of the
    floor (the data's entropy, reached only by a perfect fit): "train until the loss
    plateaus" with ``steps`` as the cap. ``TrainResult.steps`` is the number actually run.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    from tqdm.auto import tqdm

    if steps <= 0:
        return TrainResult(0, (), float("nan"), data.floor)
    gen = torch.Generator().manual_seed(int(seed))
    pairs = torch.as_tensor(np.tile(data.pairs, (batch_repeats, 1)))
    weight = torch.as_tensor(np.tile(data.pair_weight, batch_repeats) / batch_repeats,
                             dtype=torch.float32)
    target = torch.as_tensor(np.tile(data.target, (batch_repeats, 1)))
    soft = torch.as_tensor(data.soft)
    rows = torch.as_tensor(np.tile(np.arange(len(data.pairs)), batch_repeats))
    ids_all = torch.as_tensor(tables.ids)
    L = int(tables.lengths[np.unique(data.pairs[:, 0])].max())
    N = tables.N
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                            betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _lr_factor(s, steps, warmup_steps, schedule, final_factor))
    model.train()
    losses: list[float] = []
    block: list[float] = []
    bar = tqdm(range(steps), desc=desc, leave=False, disable=not progress, mininterval=1.0)
    done = 0
    for _ in bar:
        done += 1
        j = torch.multinomial(target, 1, replacement=True, generator=gen)[:, 0]
        ids = ids_all[pairs[:, 0], pairs[:, 1], j, :L]
        tgt = soft[rows, j, :L - 1]
        logits = model(input_ids=ids).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1)
        ce = -(tgt * logp).sum(dim=(1, 2))
        loss = (weight * ce).sum() / N
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        block.append(float(loss.detach()))
        if len(block) == log_every:
            losses.append(float(np.mean(block)))
            bar.set_postfix(loss=f"{losses[-1]:.4f}", floor=f"{data.floor:.4f}")
            block = []
            if stop_excess is not None and losses[-1] - data.floor < stop_excess:
                break
    if block:
        losses.append(float(np.mean(block)))
    bar.close()
    model.eval()
    return TrainResult(done, tuple(losses), losses[-1], data.floor)
