"""The learning-rate schedule shared by pre-training and retraining (numpy-free, torch-free)."""

from __future__ import annotations

import math

__all__ = ["lr_factor"]


def lr_factor(step: int, steps: int, warmup: int, final_factor: float = 0.01,
              decay_from: int | None = None) -> float:
    """Multiplier of the peak learning rate at ``step`` (of ``steps``).

    Linear warm-up over the first ``warmup`` steps, ``(step + 1) / warmup``; then 1 until
    ``decay_from`` (default: the end of the warm-up); then a cosine down to ``final_factor``
    at ``steps``: ``f + (1 - f) (1 + cos(pi p)) / 2`` with
    ``p = (step - decay_from) / (steps - decay_from)``.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    first = warmup if decay_from is None else decay_from
    if step < first:
        return 1.0
    progress = min(1.0, (step - first) / max(1, steps - first))
    return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))
