"""RL-STaR / STaR without rationalization / expert iteration without dedup (ALGORITHMS.md §1d).

Refit mode with ``w = rho``: keep the successful trajectories and refit by maximum likelihood,

.. math::

    P'_n[s, s'] = \\frac{C^+_n[\\rho][s, s']}{\\sum_b C^+_n[\\rho][s, b]}
      = \\frac{\\Pr(S_{n-1}=s, S_n=s', \\text{success})}{\\Pr(S_{n-1}=s, \\text{success})}.

At temperature ``tau`` the trajectories come from the tempered policy (rows ``∝ P^{1/tau}``);
a row that gets no data keeps its previous, untempered row. This is the one implementation of
the STaR update: :func:`rlstar_theory.dense.star_step` and the finite-sample engine give the
same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Update, WeightedRule, sampled_edges
from rlstar_theory.tempering import temper
from rlstar_theory.validation import check_temperature, is_exact

__all__ = ["ExpertIteration", "Star"]


@dataclass(frozen=True)
class Star(WeightedRule):
    """RL-STaR: refit on the successful trajectories (``w = rho``, ``a(c, r) = r``).

    Attributes
    ----------
    samples_per_question : int
        ``K`` (sampled mode); the exact update does not depend on it.
    temperature : float
        Sampling temperature ``tau > 0`` of the training trajectories.
    """

    name = "star"
    mode = "refit"
    temperature: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not is_exact(self.temperature):
            check_temperature(self.temperature)

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.asarray(r, dtype=float)

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        return np.ones(np.shape(p))

    def question_weight_exact(self, p: np.ndarray) -> np.ndarray:
        return np.ones(np.shape(p), dtype=np.int64).astype(object)

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        Ps = temper(P, self.temperature)
        edges = success_edges(Ps, self.weights(Ps, model), model.answers, model.identity)
        return Update(P=operator.refit(P, edges), samples=self.nominal_samples(model),
                      train_edges=edges)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        P = np.asarray(P, dtype=float)
        edges, drawn = sampled_edges(temper(P, self.temperature), model,
                                     self.samples_per_question, 1, self.advantage,
                                     np.random.default_rng(rng), self.sampler)
        return Update(P=operator.refit(P, edges), samples=drawn, train_edges=edges)


@dataclass(frozen=True)
class ExpertIteration(Star):
    """Expert iteration without dedup (Havrilla et al., arXiv 2403.04642): the STaR update."""

    name = "ei"
