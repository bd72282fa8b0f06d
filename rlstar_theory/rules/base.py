"""What a training rule is: hyper-parameters plus an exact step and a sampled step.

Every outcome-reward rule of ALGORITHMS.md §0.4 / §9 is one success-edge operator
``C+_n[w]`` (:func:`rlstar_theory.mdp.exact.success_edges`) with per-question weights ``w`` and
one mode, refit or gradient (:mod:`rlstar_theory.mdp.operator`). A :class:`WeightedRule`
states only

* its mode (``"refit"`` or ``"gradient"``), and
* the coefficient ``a(c, r)`` that one sampled trajectory with reward ``r`` in a group of ``G``
  samples of which ``c`` are correct gets (:meth:`WeightedRule.advantage`).

Sampled mode uses ``a`` directly: the edge weights are ``C^_n = sum_{s0} rho(s0) / K
sum_i a_i 1[(s_{n-1}, s_n) in tau_i]`` over the ``K`` trajectories of each question. Exact mode
takes the expectation. With ``k ~ Bin(G-1, p)`` the number of correct samples among the *other*
``G - 1``,

.. math::

    E[C^_n] = \\alpha_1(p)\\, C^+_n + \\alpha_0(p)\\,(C^{all}_n - C^+_n),\\quad
    \\alpha_1 = E[a(1+k, 1)],\\ \\alpha_0 = E[a(k, 0)],

and ``C^all_n[s, :] = F_{n-1}[s0, s] P_n[s, :]`` has zero softmax gradient, so a gradient rule's
exact weight is ``w = rho (alpha_1 - alpha_0)`` (:meth:`WeightedRule.question_weight`); a refit
rule has ``a(c, 0) = 0`` and ``w = rho alpha_1``. Rules with a closed form for ``w`` override
:meth:`question_weight`, and the tests check it against this expectation.

A rule that is not a weight and a mode (PPO's clipped surrogate, dedup, SFT on reference data)
subclasses :class:`Rule` and writes its own two steps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_int, is_exact

__all__ = ["Rule", "Update", "WeightedRule", "binomial_expectation", "binomial_pmf",
           "sampled_edges"]


@dataclass(frozen=True)
class Update:
    """The result of one training step.

    Attributes
    ----------
    P : ndarray, shape (N, M, M)
        The new policy.
    samples : int
        Trajectories drawn for this step. Exact mode counts the nominal ``K`` per training
        question that the expectation stands for, so that both modes share one x-axis.
    train_edges : ndarray, shape (N, M, M), or None
        Non-negative weights of the transitions the rule trained on (for the wrong-step rate).
    state : object
        Carried to the rule's next step (cumulative data, a reference policy, ...).
    """

    P: np.ndarray
    samples: int
    train_edges: np.ndarray | None = None
    state: Any = None


@dataclass(frozen=True)
class Rule:
    """Base class of every training rule: a frozen dataclass of hyper-parameters.

    Subclasses set ``name`` and ``mode`` and implement :meth:`exact_step` and
    :meth:`sampled_step`. Both take a policy that is already validated for ``model``.

    Attributes
    ----------
    samples_per_question : int
        ``K``: trajectories per training question per step (nominal in exact mode).
    """

    name: ClassVar[str] = ""
    mode: ClassVar[str] = ""
    samples_per_question: int = 16

    def __post_init__(self) -> None:
        check_int(self.samples_per_question, "samples_per_question", 1)

    def settings(self) -> dict:
        """The rule's name, mode and hyper-parameters (for histories and run records)."""
        return {"rule": self.name, "mode": self.mode, **asdict(self)}

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> Any:
        """State carried between steps (``None`` for memoryless rules)."""
        return None

    def nominal_samples(self, model: ChainMDP) -> int:
        """``K`` times the number of training questions with mass."""
        return self.samples_per_question * int(np.count_nonzero(model.weights("train")))

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """The expected (infinite-sample) update."""
        raise NotImplementedError

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """The update from ``K`` sampled trajectories per training question."""
        raise NotImplementedError


def binomial_expectation(f, n: int, p: np.ndarray) -> np.ndarray:
    """``E[f(k)]`` for ``k ~ Binomial(n, p)``, exactly as a finite sum; ``p`` any shape."""
    return binomial_pmf(n, p) @ np.asarray(f(np.arange(n + 1)), dtype=float)


def binomial_pmf(n: int, p: np.ndarray) -> np.ndarray:
    """``Pr(k) = C(n, k) p^k (1-p)^(n-k)`` for ``k = 0..n``, shape ``p.shape + (n + 1,)``.

    Computed in logs (``lgamma``, ``log``/``log1p``), so large ``n`` neither overflows nor
    loses the tails; ``p = 0`` and ``p = 1`` give exact point masses.
    """
    p = np.asarray(p, dtype=float)[..., None]
    k = np.arange(n + 1)
    log_comb = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                         for i in k])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pk = np.where(k > 0, k * np.log(p), 0.0)
        log_qk = np.where(k < n, (n - k) * np.log1p(-p), 0.0)
    return np.exp(log_comb + log_pk + log_qk)


SAMPLERS = ("counts", "trajectories")


def sampled_edges(P: np.ndarray, model: ChainMDP, K: int, group_size: int, advantage,
                  rng: np.random.Generator, sampler: str = "counts") -> tuple[np.ndarray, int]:
    """Advantage-weighted transition counts of ``K`` trajectories per train question from ``P``.

    Returns ``C^_n[s, s'] = sum_{s0} rho(s0)/K sum_i a_i 1[(s_{n-1}, s_n) = (s, s') in tau_i]``
    with ``a_i = advantage(c, r_i)`` for the ``c`` correct samples of ``tau_i``'s group of
    ``group_size``, and the number of trajectories drawn.

    ``sampler="counts"`` (default) draws the sufficient statistics directly, at a cost that
    does not grow with ``K`` (:func:`rlstar_theory.mdp.count_sampler.sample_group_counts_summed`:
    each group's correct count, then the success and failure transition counts through the
    chain conditioned on the outcome); ``"trajectories"`` samples every path
    (:func:`rlstar_theory.sampling.sample_trajectories`), the referee of the tests. Both have
    the same distribution.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler == "counts":
        return _counted_edges(P, model, K, group_size, advantage, rng)
    N, M = model.N, model.M
    w = model.weights("train")
    paths = sample_trajectories(P, K, rng, w)  # questions with w > 0, in blocks of K
    questions = paths[::K, 0]
    r = (paths[:, N] == model.answers[paths[:, 0]]).astype(np.int64)
    groups = r.reshape(len(questions), K // group_size, group_size)
    c = np.repeat(groups.sum(axis=-1, keepdims=True), group_size, axis=-1)
    a = np.asarray(advantage(c, groups), dtype=float).reshape(-1)
    a = a * np.repeat(w[questions], K) / K
    edges = np.empty((N, M, M))
    nz = a != 0
    for n in range(N):
        flat = paths[nz, n] * M + paths[nz, n + 1]
        edges[n] = np.bincount(flat, weights=a[nz], minlength=M * M).reshape(M, M)
    return edges, len(paths)


def _counted_edges(P: np.ndarray, model: ChainMDP, K: int, G: int, advantage,
                   rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """:func:`sampled_edges` from the count sampler: coefficients per (question, group score).
    """
    from rlstar_theory.mdp.count_sampler import sample_group_counts_summed

    w = model.weights("train")
    questions = np.flatnonzero(w > 0)
    c = np.arange(G + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_plus = np.asarray(advantage(c, np.ones(G + 1)), dtype=float)
        a_minus = np.asarray(advantage(c, np.zeros(G + 1)), dtype=float)
    # a success needs c >= 1 and a failure c <= G - 1: the other entries never get counts
    a_plus[0], a_minus[G] = 0.0, 0.0
    scale = (w[questions] / K)[:, None]
    drawn = sample_group_counts_summed(P, model.answers, K // G, G, rng, questions,
                                       weights=scale * a_plus, failure_weights=scale * a_minus)
    return drawn.success_counts + drawn.failure_counts, int(drawn.samples_drawn)


@dataclass(frozen=True)
class WeightedRule(Rule):
    """A rule that is a per-question weight and a mode (ALGORITHMS.md §0.4).

    Attributes
    ----------
    samples_per_question : int
        ``K``; a multiple of ``group_size``.
    group_size : int
        ``G``: samples that share a baseline or a normaliser (1 for STaR/EI).
    lr : float
        Learning rate of gradient mode (unused by refit rules).
    """

    group_size: int = 1
    lr: float = 1.0
    sampler: str = "counts"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        G = check_int(self.group_size, "group_size", 1)
        if self.samples_per_question % G:
            raise ValueError(f"samples_per_question must be a multiple of group_size = {G}, "
                             f"got {self.samples_per_question}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Coefficient of a sample with reward ``r`` in a group with ``c`` correct samples."""
        raise NotImplementedError

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``w(s0) / rho(s0)`` as a function of ``p(s0)``: ``E[a(1+k, 1)] - E[a(k, 0)]``.

        ``k ~ Bin(G-1, p)`` counts the correct samples among the other ``G - 1``.
        """
        G = self.group_size
        one = np.ones(G, dtype=np.int64)
        alpha1 = binomial_expectation(lambda k: self.advantage(k + 1, one[: len(k)]), G - 1, p)
        alpha0 = binomial_expectation(lambda k: self.advantage(k, 0 * one[: len(k)]), G - 1, p)
        return alpha1 - alpha0

    def question_weight_exact(self, p: np.ndarray) -> np.ndarray:
        """``question_weight`` in exact arithmetic (object array of Fractions).

        Only rules whose weight is a rational function of ``p`` and whose mode is refit can
        run on Fraction policies; the others raise ValueError.
        """
        raise ValueError(f"rule {self.name!r} has no exact (Fraction) update: its weights or "
                         "its softmax step are not rational; use a float64 policy")

    def scale(self, model: ChainMDP) -> Fraction:
        """Constant factor of every coefficient, sampled and exact (1; ``1/N`` for rules whose
        loss averages over the ``|o| = N`` tokens of a trajectory)."""
        return Fraction(1)

    def weights(self, P: np.ndarray, model: ChainMDP) -> np.ndarray:
        """Per-question weights ``w = rho_train * question_weight(p) * scale`` of the exact step.
        """
        p = success_probability(P, model.answers)
        if is_exact(P):
            if not self.refits():
                raise ValueError(f"rule {self.name!r} is a gradient rule: softmax steps are "
                                 "not rational, so it needs a float64 policy")
            return model.weights("train", exact=True) * self.question_weight_exact(p) * \
                self.scale(model)
        return model.weights("train") * self.question_weight(p) * float(self.scale(model))

    def refits(self) -> bool:
        """Whether a step refits the rows (maximum likelihood) instead of a gradient step."""
        return self.mode == "refit"

    def _apply(self, P: np.ndarray, edges: np.ndarray) -> np.ndarray:
        if self.refits():
            return operator.refit(P, edges)
        return operator.gradient_step(P, edges, self.lr)

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        edges = success_edges(P, self.weights(P, model), model.answers, model.identity)
        return Update(P=self._apply(P, edges), samples=self.nominal_samples(model),
                      train_edges=edges)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        P = np.asarray(P, dtype=float)
        scale = float(self.scale(model))
        edges, drawn = sampled_edges(P, model, self.samples_per_question, self.group_size,
                                     lambda c, r: scale * self.advantage(c, r),
                                     np.random.default_rng(rng), self.sampler)
        return Update(P=self._apply(P, edges), samples=drawn,
                      train_edges=np.clip(edges, 0.0, None), state=state)
