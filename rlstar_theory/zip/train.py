"""Training a GPT-2 on exact soft targets (see :mod:`rlstar_theory.zip.data`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rlstar_theory.zip import schedule
from rlstar_theory.zip.data import SequenceTables, TrainingData

__all__ = ["TrainResult", "TrainingDivergedError", "batch_arrays", "train",
           "weighted_cross_entropy"]


class TrainingDivergedError(ValueError):
    """The training loss stopped being finite (too large a learning rate).

    Attributes
    ----------
    step : int
        1-based step whose loss was not finite.
    loss : float
    lr : float
        Peak learning rate of the stage.
    """

    def __init__(self, desc: str, step: int, loss: float, lr: float) -> None:
        super().__init__(f"{desc}: training diverged at step {step} (loss {loss}); lower the "
                         f"learning rate (now {lr:g})")
        self.step, self.loss, self.lr = step, loss, lr


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


def train(model, tables: SequenceTables,
          data: TrainingData | Callable[[int], TrainingData], *, steps: int, lr: float,
          seed: int, warmup_steps: int = 100, weight_decay: float = 0.0,
          batch_repeats: int = 1, log_every: int = 50, desc: str = "train",
          progress: bool = True, lr_factor: Callable[[int], float] | None = None,
          state: dict | None = None, save_state: Callable[[dict], None] | None = None,
          save_every: int = 250) -> TrainResult:
    """Fit ``model`` to ``data`` with AdamW for ``steps`` steps (in place).

    Each batch holds every (step, input state) with data ``batch_repeats`` times, a target
    string drawn from the exact target row (``torch.Generator`` seeded with ``seed``), and the
    exact next-token distributions along it as soft targets; the loss is the data-weighted
    cross-entropy summed over the target tokens and averaged over steps.

    The learning rate warms up linearly over ``warmup_steps``, then decays by a cosine to 1 %
    of ``lr``; ``lr_factor``, a function of the step number, replaces this schedule.

    ``data`` may also be a function of the step number returning the data of that step (a
    curriculum: one optimiser, its moments kept, while the data move); the batch arrays are
    rebuilt whenever it returns a different object, so return cached objects.

    Resuming: every ``save_every`` steps (and not after the last) ``save_state`` receives a
    dict of the model and optimiser state, the sampler's generator state, the step reached and
    the losses so far (live references: serialise it before returning); passing that dict back
    as ``state`` (with the same other arguments)
    continues from there and gives bit-for-bit the numbers of an uninterrupted run.

    Raises
    ------
    TrainingDivergedError
        (a ValueError) as soon as a step's loss is not finite.
    """
    from tqdm import tqdm

    data_at = data if callable(data) else (lambda _step, d=data: d)
    if steps <= 0:
        return TrainResult(0, (), float("nan"), data_at(0).floor)
    gen = torch.Generator().manual_seed(int(seed))
    ids_all = torch.as_tensor(tables.ids)
    N = tables.N
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                            betas=(0.9, 0.98))
    if lr_factor is None:
        def lr_factor(s: int) -> float:
            return schedule.lr_factor(s, steps, warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    losses: list[float] = []
    block: list[float] = []
    first = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        losses, block, first = list(state["losses"]), list(state["block"]), int(state["step"])
    model.train()
    bar = tqdm(range(first, steps), desc=desc, leave=False, disable=not progress,
               mininterval=1.0, initial=first, total=steps)
    current = None
    for step in bar:
        d = data_at(step)
        if d is not current:
            current = d
            arrays = batch_arrays(d, tables, batch_repeats)
        loss = weighted_cross_entropy(model, ids_all, arrays, gen) / N
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDivergedError(desc, step + 1, value, lr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        block.append(value)
        if len(block) == log_every:
            losses.append(float(np.mean(block)))
            bar.set_postfix(loss=f"{losses[-1]:.4f}", floor=f"{current.floor:.4f}")
            block = []
        if save_state is not None and (step + 1) % save_every == 0 and step + 1 < steps:
            save_state({"step": step + 1, "model": model.state_dict(),
                        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                        "generator": gen.get_state(), "losses": losses, "block": block})
    if block:
        losses.append(float(np.mean(block)))
    bar.close()
    model.eval()
    return TrainResult(steps, tuple(losses), losses[-1], current.floor)


def weighted_cross_entropy(model, ids_all, arrays: tuple, gen):
    """One batch's data-weighted soft-target cross-entropy ``sum_pairs w CE`` (a scalar
    tensor): each pair draws a target string ``j`` from its target row (``gen``) and is
    scored against the exact next-token distributions along it (``arrays`` from
    :func:`batch_arrays`, ``ids_all`` the tables' token ids as a tensor)."""
    pairs, weight, target, soft, rows, L = arrays
    j = torch.multinomial(target, 1, replacement=True, generator=gen)[:, 0]
    ids = ids_all[pairs[:, 0], pairs[:, 1], j, :L]
    tgt = soft[rows, j, :L - 1]
    logits = model(input_ids=ids).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), dim=-1)
    ce = -(tgt * logp).sum(dim=(1, 2))
    return (weight * ce).sum()


def batch_arrays(data: TrainingData, tables: SequenceTables, batch_repeats: int) -> tuple:
    """The tensors one batch gathers from: every pair with data, ``batch_repeats`` times."""
    pairs = torch.as_tensor(np.tile(data.pairs, (batch_repeats, 1)))
    weight = torch.as_tensor(np.tile(data.pair_weight, batch_repeats) / batch_repeats,
                             dtype=torch.float32)
    target = torch.as_tensor(np.tile(data.target, (batch_repeats, 1)))
    soft = torch.as_tensor(data.soft)
    rows = torch.as_tensor(np.tile(np.arange(len(data.pairs)), batch_repeats))
    L = int(tables.lengths[np.unique(data.pairs[:, 0])].max())
    return pairs, weight, target, soft, rows, L
