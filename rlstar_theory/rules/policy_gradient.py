"""Outcome-reward policy gradient: REINFORCE, RLOO and online RFT (ALGORITHMS.md §7a, §0.4).

All three are gradient mode (softmax logits ``theta = log P``) of the success-edge operator.
A sampled trajectory ``tau_i`` with reward ``r_i`` in a group of ``G`` samples, ``c`` of them
correct, pushes up ``log pi(tau_i)`` with the coefficient ``a(c, r_i)``:

==============  ======================================  ==========================
rule            ``a(c, r)``                             exact weight ``w / rho``
==============  ======================================  ==========================
reinforce       ``r``  (``baseline="none"``)            ``1``
reinforce       ``r - c/G`` (``baseline="mean"``)       ``(G - 1)/G``
rloo            ``r - (c - r)/(G - 1)``                 ``1``
online-rft      ``r / N``                               ``1/N``
==============  ======================================  ==========================

The exact weight is ``E[a(1+k, 1)] - E[a(k, 0)]`` with ``k ~ Bin(G-1, p)``
(:meth:`~rlstar_theory.rules.base.WeightedRule.question_weight`). A baseline that does not
depend on the sample itself (none, RLOO's leave-one-out mean) leaves ``w = rho``; the group
mean *including* the sample correlates with its reward and shrinks the step by ``(G-1)/G``
(it is Dr. GRPO up to the constant ``1/N``).

:class:`TokenAveragedRule` is the shared piece of the rules whose loss averages over the
``|o| = N`` tokens of a trajectory (online RFT, GRPO, Dr. GRPO, filtered SFT): every
coefficient, sampled or exact, carries the constant ``1/N`` (ALGORITHMS.md §0.5 F2).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import WeightedRule

__all__ = ["OnlineRft", "Reinforce", "Rloo", "TokenAveragedRule"]

BASELINES = ("none", "mean")


@dataclass(frozen=True)
class TokenAveragedRule(WeightedRule):
    """A weighted rule whose per-trajectory loss is averaged over its ``N`` tokens.

    :meth:`advantage` and :meth:`question_weight` are the per-sequence quantities; this class
    multiplies both modes by ``1/|o| = 1/N``: the sampled coefficient is ``a(c, r) / N`` and the
    exact weight is ``w(s0) = rho(s0) question_weight(p(s0)) / N``.
    """

    def scale(self, model: ChainMDP) -> Fraction:
        """The length normaliser ``1/|o| = 1/N`` (every trajectory has ``N`` steps)."""
        return Fraction(1, model.N)


@dataclass(frozen=True)
class Reinforce(WeightedRule):
    """REINFORCE with 0/1 outcome reward, optionally with the group-mean baseline.

    ``a(c, r) = r`` (``baseline="none"``) or ``a(c, r) = r - c/G`` (``baseline="mean"``: the
    mean reward of the sample's group of ``G``, the sample included). Exact weight
    ``w = rho`` without a baseline and ``w = rho (G - 1)/G`` with the mean baseline, because
    that baseline contains the sample's own reward (use ``rloo`` for an unbiased baseline).

    Attributes
    ----------
    baseline : {"none", "mean"}
        The baseline subtracted from the reward.
    group_size : int
        ``G``; ``baseline="mean"`` needs ``G >= 2``.
    lr : float
        Step size on the logits.
    """

    name = "reinforce"
    mode = "gradient"
    baseline: str = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        if self.baseline == "mean" and self.group_size < 2:
            raise ValueError("group_size must be >= 2 with baseline='mean' (a group of one "
                             f"sample has advantage 0), got {self.group_size}")

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``r`` or ``r - c/G``."""
        r = np.asarray(r, dtype=float)
        if self.baseline == "none":
            return r
        return r - np.asarray(c, dtype=float) / self.group_size

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``1`` (no baseline) or ``(G - 1)/G`` (group-mean baseline), for every ``p``."""
        value = 1.0 if self.baseline == "none" else (self.group_size - 1) / self.group_size
        return np.full(np.shape(p), value)


@dataclass(frozen=True)
class Rloo(WeightedRule):
    """REINFORCE leave-one-out (Ahmadian et al., arXiv 2402.14740).

    ``a(c, r) = r - (c - r)/(G - 1)``: the baseline is the mean reward of the other ``G - 1``
    samples, independent of the sample, so the exact weight is ``w = rho``.

    Attributes
    ----------
    group_size : int
        ``G >= 2`` (default 8).
    lr : float
        Step size on the logits.
    """

    name = "rloo"
    mode = "gradient"
    group_size: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.group_size < 2:
            raise ValueError(f"group_size must be >= 2 for rloo (leave-one-out needs another "
                             f"sample), got {self.group_size}")

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``r - (c - r)/(G - 1)``."""
        r = np.asarray(r, dtype=float)
        return r - (np.asarray(c, dtype=float) - r) / (self.group_size - 1)

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``1`` for every ``p``."""
        return np.ones(np.shape(p))


@dataclass(frozen=True)
class OnlineRft(TokenAveragedRule):
    """Online rejection-sampling fine-tuning: one gradient step on the correct samples.

    ``a(c, r) = r / N`` (the SFT loss summed over correct samples, averaged over tokens), so
    ``w = rho / N`` (DeepSeekMath's gradient coefficient ``1[o correct]``). Iterated to
    convergence with a refit instead of one step, it is STaR (``star``).

    Attributes
    ----------
    lr : float
        Step size on the logits.
    """

    name = "online-rft"
    mode = "gradient"

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``r`` (the ``1/N`` is applied by :class:`TokenAveragedRule`)."""
        return np.asarray(r, dtype=float)

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``1`` for every ``p`` (times ``1/N`` in :meth:`weights`)."""
        return np.ones(np.shape(p))
