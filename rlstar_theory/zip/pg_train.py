"""Policy-gradient steps of the transformer on signed transition weights (gradient rules).

A batch of sampled groups gives signed edge weights ``C_n[s, s']`` (the rule's advantages
summed over the sampled trajectories through each edge,
:func:`rlstar_theory.zip.rule_step.signed_edges`). The policy-gradient surrogate of the batch
is

.. math::

    L(\\theta) = -\\sum_n \\sum_{s, s'} C_n[s, s'] \\log \\pi_\\theta(s_n = s' \\mid s_{n-1} = s)
              = \\sum C^+ (-\\log \\pi) - \\sum C^- (-\\log \\pi),

with ``log pi`` the *token-level* log-likelihood of the string ``s' [EOS]`` after ``s [=]``
(what a language model's policy gradient uses; not normalised over the valid states). Its
gradient in the tabular softmax parametrisation is the rule's ``C - P rowsum(C)``. Split as
``C = C+ - C-`` (both non-negative), each part is a data set of the soft-target form
(:mod:`rlstar_theory.zip.data`), and one step draws a target string per (step, state) pair
from each part: ``loss = sum C+ CE(C+) - sum C- CE(C-)``, an unbiased estimate of ``L``.
Pushing a negative string down also pushes down its format tokens, which every valid state
shares: mass can leave the valid states (the scorer reports it,
:func:`rlstar_theory.zip.scoring.score_matrices`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rlstar_theory.zip.data import SequenceTables, TrainingData
from rlstar_theory.zip.train import (
    TrainingDivergedError,
    TrainResult,
    batch_arrays,
    weighted_cross_entropy,
)

__all__ = ["OPTIMIZERS", "train_signed"]

OPTIMIZERS = ("adam", "sgd")


def _optimizer(model, name: str, lr: float):
    if name == "adam":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.98))
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def train_signed(model, tables: SequenceTables, positive: TrainingData | None,
                 negative: TrainingData | None, *, steps: int, lr: float, seed: int,
                 optimizer: str = "adam", log_every: int = 10, desc: str = "pg",
                 progress: bool = True) -> TrainResult:
    """``steps`` optimiser steps on ``sum C+ CE(positive) - sum C- CE(negative)`` (in place).

    Parameters
    ----------
    model : GPT2LMHeadModel
    tables : SequenceTables
    positive, negative : TrainingData or None
        :func:`rlstar_theory.zip.data.training_data` of ``C+`` and of ``C-`` (their pair
        weights are the row sums, not normalised: the scale of the rule's advantages is kept).
        ``None``: that part is empty.
    steps : int
    lr : float
        Constant learning rate (no warm-up, no decay: every iteration's batch gets the same).
    seed : int
        Seeds the target strings drawn (``torch.Generator``).
    optimizer : {"adam", "sgd"}
        A fresh optimiser per call (AdamW without weight decay, betas 0.9/0.98, or SGD).

    Returns
    -------
    TrainResult
        ``losses`` are the surrogate's block means (they may be negative); ``floor`` is NaN.

    Raises
    ------
    TrainingDivergedError
        (a ValueError) as soon as a step's loss is not finite.
    """
    from tqdm import tqdm

    if positive is None and negative is None:
        raise ValueError("nothing to train on: both the positive and the negative part are "
                         "empty")
    gen = torch.Generator().manual_seed(int(seed))
    ids_all = torch.as_tensor(tables.ids)
    opt = _optimizer(model, optimizer, lr)
    parts = [(sign, batch_arrays(d, tables, 1)) for sign, d in ((1.0, positive),
                                                               (-1.0, negative)) if d is not None]
    losses: list[float] = []
    block: list[float] = []
    model.train()
    bar = tqdm(range(steps), desc=desc, leave=False, disable=not progress, mininterval=1.0)
    for step in bar:
        loss = sum(sign * weighted_cross_entropy(model, ids_all, arrays, gen)
                   for sign, arrays in parts)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDivergedError(desc, step + 1, value, lr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        block.append(value)
        if len(block) == log_every:
            losses.append(float(np.mean(block)))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            block = []
    if block:
        losses.append(float(np.mean(block)))
    bar.close()
    model.eval()
    return TrainResult(steps, tuple(losses), losses[-1], float("nan"))
