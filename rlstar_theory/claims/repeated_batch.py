"""Several epochs of a gradient rule on one sampled batch (the multi-epoch SFT of F-ISFT).

Samineni et al. (arXiv 2505.13697) train F-ISFT by supervised fine-tuning on each batch of
filtered samples for several epochs. Filtered SFT's loss on a batch is the fixed weighted
log-likelihood ``L(theta) = sum_i coef_i log pi_theta(tau_i)`` of the sampled trajectories (no
importance ratio, no clipping), so ``E`` epochs of full-batch gradient ascent on it are ``E``
softmax steps with the *same* advantage-weighted counts ``C^`` and the current policy:

.. math::

    \\theta^{(e+1)} = \\theta^{(e)} + \\eta\\,(\\hat C - P^{(e)} \\odot \\mathrm{rowsum}(\\hat C)),
    \\qquad P^{(e)} = \\mathrm{softmax}(\\theta^{(e)}),\\ e = 0..E-1,

because ``d/dtheta_n[s, .] sum_i coef_i log pi(tau_i) = C^_n[s, .] - P_n[s, .] rowsum(C^_n)[s]``
(:func:`rlstar_theory.mdp.operator.gradient`). :class:`RepeatedBatch` wraps any gradient-mode
:class:`~rlstar_theory.rules.base.WeightedRule` this way; ``epochs = 1`` is the wrapped rule.

With negative coefficients (F-ISFT-) the repeated steps push the sampled wrong transitions
down and move their mass to the transitions that were not sampled: a row whose edges all carry
negative weight tends, as ``E`` grows, to put all its mass on its unsampled transitions (the
unbounded objective of ALGORITHMS.md §0.5 F5, approached step by step).

The exact step applies the same ``E`` steps to the *expected* counts, the limit of the sampled
step as ``K -> infinity`` (the counts converge and the steps are continuous in them). With
``alpha_1 = E[a(1+k, 1)]`` and ``alpha_0 = E[a(k, 0)]``, ``k ~ Bin(G-1, p)``
(:mod:`rlstar_theory.rules.base`), the expected counts are

.. math::

    E[\\hat C_n] = C^+_n[\\rho(\\alpha_1 - \\alpha_0)] + C^{all}_n[\\rho\\,\\alpha_0],

times the rule's constant scale. The second term has zero gradient at the policy that sampled
the batch, so one epoch only needs ``C+[w]`` (the inner rule's exact step), but from the second
epoch on it matters: it is what pushes down the wrong samples' transitions in F-ISFT-
(``alpha_0 < 0``). For ``E > 1`` the exact step is the ``K -> infinity`` limit, not the
expectation of the sampled step (the steps are nonlinear in the counts, §0.5 F3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import (
    Rule,
    Update,
    WeightedRule,
    binomial_expectation,
    sampled_edges,
)
from rlstar_theory.rules.critic import visit_edges
from rlstar_theory.validation import check_int, check_rng

__all__ = ["RepeatedBatch"]


@dataclass(frozen=True)
class RepeatedBatch(Rule):
    """``epochs`` gradient steps of a gradient-mode weighted rule on each sampled batch.

    Attributes
    ----------
    inner : WeightedRule
        A gradient-mode rule (``fisft-``, ``fisft+-``, ``reinforce``, ...): its advantage,
        group size, learning rate and ``K`` are used. ``samples_per_question`` is the inner
        rule's.
    epochs : int
        ``E >= 1`` full-batch steps per batch (1: the inner rule itself).
    """

    mode = "gradient"
    inner: WeightedRule | None = None
    epochs: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.inner, WeightedRule) or self.inner.refits():
            raise ValueError("inner must be a gradient-mode WeightedRule (e.g. "
                             "make_rule('fisft-')), got "
                             f"{type(self.inner).__name__}")
        check_int(self.epochs, "epochs", 1)
        object.__setattr__(self, "samples_per_question", self.inner.samples_per_question)
        super().__post_init__()

    @property
    def name(self) -> str:  # type: ignore[override]
        """The inner rule's name with the epochs, e.g. ``"fisft- x16"``."""
        return f"{self.inner.name} x{self.epochs}"

    def nominal_samples(self, model: ChainMDP) -> int:
        return self.inner.nominal_samples(model)

    def _steps(self, P: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """``E`` :func:`~rlstar_theory.mdp.operator.gradient_step` s with the same ``edges``,
        in logit space (``-inf`` logits keep zeros at zero)."""
        theta = operator.logits(P)
        for _ in range(self.epochs):  # E full-batch steps on the same counts
            theta = theta + self.inner.lr * operator.gradient(operator.softmax(theta), edges)
        return operator.softmax(theta)

    def expected_edges(self, P: np.ndarray, model: ChainMDP) -> np.ndarray:
        """``E[C^_n] = C+_n[rho (alpha_1 - alpha_0)] + C^all_n[rho alpha_0]`` (times the scale).

        ``C^all_n[w][s, s'] = sum_{s0} w(s0) F_{n-1}[s0, s] P_n[s, s']``
        (:func:`~rlstar_theory.rules.critic.visit_edges`); ``alpha_0 = E[a(k, 0)]`` for
        ``k ~ Bin(G-1, p)``.
        """
        inner = self.inner
        G = inner.group_size
        wrong = np.zeros(G, dtype=np.int64)
        alpha0 = binomial_expectation(lambda k: inner.advantage(k, wrong[: len(k)]), G - 1,
                                      success_probability(P, model.answers))
        rho = model.weights("train") * float(inner.scale(model))
        return (success_edges(P, inner.weights(P, model), model.answers, model.identity)
                + visit_edges(P, rho * alpha0))

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """``E`` steps on the expected counts (:meth:`expected_edges`; the ``K -> infinity``
        limit)."""
        P = np.asarray(P, dtype=float)
        edges = self.expected_edges(P, model)
        return Update(P=self._steps(P, edges), samples=self.nominal_samples(model),
                      train_edges=np.clip(edges, 0.0, None), state=state)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """Sample ``K`` trajectories per question once, then take ``E`` steps on their counts."""
        P = np.asarray(P, dtype=float)
        inner = self.inner
        scale = float(inner.scale(model))
        edges, drawn = sampled_edges(P, model, inner.samples_per_question, inner.group_size,
                                     lambda c, r: scale * inner.advantage(c, r), check_rng(rng),
                                     getattr(inner, "sampler", "counts"))
        return Update(P=self._steps(P, edges), samples=drawn,
                      train_edges=np.clip(edges, 0.0, None), state=state)
