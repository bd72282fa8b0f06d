"""Return-conditioned RL (Havrilla et al., arXiv 2403.04642; ALGORITHMS.md §1d).

Every sample is kept and tagged by its outcome, ``c = +1`` (correct) or ``c = -1`` (wrong); the
policy conditioned on the tag has the logits ``theta_n + c phi_n``, it is fitted by likelihood on
all tagged samples, and it is decoded (sampled, evaluated) with ``c = +1``. With the tagged
expected counts of one batch from the decoded policy ``P = P_+``,

.. math::

    C^+_n = C^+_n[\\rho],\\qquad C^-_n = \\mathrm{Call}_n[\\rho] - C^+_n,\\qquad
    \\ell(\\theta, \\phi) = \\sum_{n,s,s'} C^+_n \\log P_{+,n} + C^-_n \\log P_{-,n},\\quad
    P_{\\pm} = \\mathrm{softmax}(\\theta \\pm \\phi),

the rule takes ``fit_steps`` gradient-ascent steps of size ``lr`` on ``(theta, phi)`` from their
current values (the rule's state). With ``G_± = C^± - P_± rowsum(C^±)`` (the softmax
gradients of the two heads' likelihoods), ``d ell/d theta = G_+ + G_-`` and

* ``phi="edge"`` (``phi_n[s, s']``, one per transition): ``d ell/d phi = G_+ - G_-``;
* ``phi="target"`` (``phi_n[s']``, shared by all source states): ``d ell/d phi_n[s'] =
  sum_s (G_+ - G_-)[s, s']``.

``shared=False`` fits two separate tables instead (each head ascends its own likelihood).

**Finding: per-edge sharing does not share.** With tabular logits, ``(theta, phi) ->
(theta + phi, theta - phi)`` is a linear bijection, so one step moves the decoded head's logits
by ``lr (G_+ + G_-) + lr (G_+ - G_-) = 2 lr G_+``: the wrong-tagged samples never reach the
decoded policy, and shared RCRL with step ``lr`` is separate tables with step ``2 lr``. Its
maximum likelihood is therefore the + head's MLE ``rownorm(C+[rho])``, exactly expert
iteration (the STaR refit). Only a tag offset with fewer parameters than the table
(``phi="target"``) lets the negatives shape the decoded policy.

``fit_steps=0`` fits to convergence: the closed-form MLE ``P_± = rownorm(C^±)`` (rows without
data keep their row), for separate tables or ``phi="edge"``; it runs on Fraction policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.critic import visit_edges
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_int, check_rng, is_exact

__all__ = ["PHI_SHAPES", "Rcrl", "TaggedHeads", "tagged_counts"]

#: the tag offset phi: one per transition, or one per target state (shared across sources)
PHI_SHAPES = ("edge", "target")


@dataclass(frozen=True)
class TaggedHeads:
    """The policy conditioned on each tag.

    Attributes
    ----------
    pos : ndarray, shape (N, M, M)
        ``P_+ = softmax(theta + phi)``: the decoded policy.
    neg : ndarray, shape (N, M, M)
        ``P_- = softmax(theta - phi)``.
    """

    pos: np.ndarray
    neg: np.ndarray


def tagged_counts(P: np.ndarray, model: ChainMDP) -> tuple[np.ndarray, np.ndarray]:
    """Expected transition counts of correct- and wrong-tagged samples from ``P``.

    Returns
    -------
    C_pos, C_neg : ndarray, shape (N, M, M)
        ``C+[rho]`` and ``Call[rho] - C+[rho]`` (``rho`` on the training questions); exact for
        Fraction policies.
    """
    w = model.weights("train", exact=is_exact(P))
    C_pos = success_edges(P, w, model.answers, model.identity)
    C_neg = visit_edges(P, w) - C_pos
    if not is_exact(P):
        C_neg = np.maximum(C_neg, 0.0)
    return C_pos, C_neg


@dataclass(frozen=True)
class Rcrl(Rule):
    """Return-conditioned RL: likelihood on all samples tagged by outcome, decoded at ``c = +1``.

    Attributes
    ----------
    samples_per_question : int
        ``K`` (sampled mode; nominal in exact mode).
    lr : float
        Step size of the likelihood ascent on the logits.
    fit_steps : int
        Gradient-ascent steps per batch (1); 0 fits to convergence (closed-form MLE; separate
        tables or ``phi="edge"`` only).
    shared : bool
        Shared logits ``theta + c phi`` (True) or two separate tables (False).
    phi : {"edge", "target"}
        Shape of the tag offset: ``phi_n[s, s']`` (ALGORITHMS.md §1d) or ``phi_n[s']``.
    """

    name = "rcrl"
    mode = "likelihood"
    lr: float = 1.0
    fit_steps: int = 1
    shared: bool = True
    phi: str = "edge"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.lr, (int, float)) and np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        check_int(self.fit_steps, "fit_steps", 0)
        if not isinstance(self.shared, (bool, np.bool_)):
            raise ValueError(f"shared must be True or False, got {self.shared!r}")
        if self.phi not in PHI_SHAPES:
            raise ValueError(f"phi must be one of {PHI_SHAPES}, got {self.phi!r}")
        if self.fit_steps == 0 and self.shared and self.phi == "target":
            raise ValueError("fit_steps must be >= 1 with shared=True and phi='target' (its "
                             "likelihood has no closed-form maximum); fit_steps=0 needs "
                             "shared=False or phi='edge'")

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> TaggedHeads:
        """Both heads start at ``P0`` (``theta = log P0``, ``phi = 0``)."""
        return TaggedHeads(pos=P0.copy(), neg=P0.copy())

    def fit(self, heads: TaggedHeads, C_pos: np.ndarray, C_neg: np.ndarray) -> TaggedHeads:
        """Maximise the tagged likelihood from ``heads`` (class docstring)."""
        if self.fit_steps == 0:
            return TaggedHeads(pos=operator.refit(heads.pos, C_pos),
                               neg=operator.refit(heads.neg, C_neg))
        a = operator.logits(heads.pos)
        b = operator.logits(heads.neg)
        P_pos, P_neg = np.asarray(heads.pos, dtype=float), np.asarray(heads.neg, dtype=float)
        C_pos, C_neg = np.asarray(C_pos, dtype=float), np.asarray(C_neg, dtype=float)
        for _ in range(self.fit_steps):
            g_pos = operator.gradient(P_pos, C_pos)
            g_neg = operator.gradient(P_neg, C_neg)
            if self.shared:
                d_theta = g_pos + g_neg
                d_phi = g_pos - g_neg
                if self.phi == "target":
                    d_phi = d_phi.sum(axis=-2, keepdims=True)
                g_pos, g_neg = d_theta + d_phi, d_theta - d_phi
            a = a + self.lr * g_pos
            b = b + self.lr * g_neg
            P_pos, P_neg = operator.softmax(a), operator.softmax(b)
        return TaggedHeads(pos=P_pos, neg=P_neg)

    @staticmethod
    def _heads(P: np.ndarray, state: Any) -> TaggedHeads:
        return TaggedHeads(pos=P, neg=P) if state is None else state

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """Fit on the expected tagged counts of one batch from the decoded policy ``P``."""
        exact = is_exact(P) and self.fit_steps == 0
        if not exact:
            P = np.asarray(P, dtype=float)
        heads = self._heads(P, state)
        C_pos, C_neg = tagged_counts(P, model)
        new = self.fit(heads, C_pos, C_neg)
        return Update(P=new.pos, samples=self.nominal_samples(model), train_edges=C_pos,
                      state=new)

    def sampled_counts(self, P: np.ndarray, model: ChainMDP,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        """Tagged counts ``C^±_n = sum_i rho(s0)/K 1[tag_i = ±] 1[edge in tau_i]`` of ``K``
        trajectories per training question, and the number drawn (unbiased for
        :func:`tagged_counts`)."""
        K, M, N = self.samples_per_question, model.M, model.N
        w = model.weights("train")
        paths = sample_trajectories(P, K, rng, w)
        weight = w[paths[:, 0]] / K
        correct = paths[:, N] == model.answers[paths[:, 0]]
        C_pos = path_edge_sums(paths, np.where(correct, weight, 0.0), M)
        C_neg = path_edge_sums(paths, np.where(correct, 0.0, weight), M)
        return C_pos, C_neg, len(paths)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """Fit on the tagged counts of ``K`` trajectories per question (:meth:`sampled_counts`).
        """
        P = np.asarray(P, dtype=float)
        heads = self._heads(P, state)
        C_pos, C_neg, drawn = self.sampled_counts(P, model, check_rng(rng))
        new = self.fit(heads, C_pos, C_neg)
        return Update(P=new.pos, samples=drawn, train_edges=C_pos, state=new)
