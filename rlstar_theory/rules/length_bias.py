"""Outcome-reward rules on variable-length chains, exactly: GRPO's ``1/|o|`` against Dr. GRPO.

A :class:`~rlstar_theory.rules.base.WeightedRule` gives a sampled trajectory of a group with
``c`` correct samples the coefficient ``a(c, r)``. On a variable-length chain
(:mod:`rlstar_theory.mdp.variable_length`) its loss also carries a per-trajectory length factor
``h(|o|)``: ``1/|o|`` for rules that average each sample's loss over its own tokens (GRPO,
online RFT, filtered SFT), ``1/L`` for Dr. GRPO (a constant, by default the budget ``N_max``),
``1`` for rules that sum over tokens (REINFORCE, RLOO, STaR). With ``k ~ Bin(G-1, p)`` the
correct samples among the other ``G - 1`` of the group, the exact expected step is the
gradient (or refit) of the edge weights

.. math::

    C = \\text{weighted\\_edges}\\big(T[s_0, r, l] = \\alpha_r(p(s_0))\\, h(l),\\
        w = \\rho_{train}\\big),\\qquad \\alpha_1 = E[a(1+k, 1)],\\ \\alpha_0 = E[a(k, 0)],

i.e. ``sum_{s0} rho(s0) E[alpha_R h(|o|) grad log pi(tau)]``. On the fixed-length chain
(``h = 1/N``) this is the rule's own exact step. :func:`iterate_length` runs a rule for ``T``
iterations and records ``J`` and the expected length (overall, given a correct answer, given a
wrong one); :func:`compare_length_bias` runs GRPO and Dr. GRPO side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from tqdm.auto import tqdm

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.variable_length import (
    NORMALISERS,
    LengthChain,
    length_normaliser,
    length_outcome_distribution,
    length_statistics,
    outcome_length_weights,
    weighted_edges,
)
from rlstar_theory.rules.base import WeightedRule, binomial_expectation
from rlstar_theory.rules.grpo import DrGrpo, Grpo
from rlstar_theory.rules.policy_gradient import TokenAveragedRule
from rlstar_theory.rules.registry import make_rule
from rlstar_theory.validation import check_iterations, check_memory, is_exact

__all__ = [
    "LengthBiasComparison",
    "LengthCurve",
    "LengthRun",
    "compare_length_bias",
    "iterate_length",
    "length_edges",
    "length_gradient",
    "length_step",
    "outcome_advantages",
    "rule_normaliser",
]


def rule_normaliser(rule: WeightedRule) -> str:
    """The length factor a rule's loss carries: ``"constant"`` (Dr. GRPO), ``"length"``
    (rules averaging over a sample's tokens) or ``"none"`` (summed tokens)."""
    if isinstance(rule, DrGrpo):
        return "constant"
    if isinstance(rule, TokenAveragedRule):
        return "length"
    return "none"


def outcome_advantages(rule: WeightedRule, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``alpha_1(p) = E[a(1+k, 1)]`` and ``alpha_0(p) = E[a(k, 0)]``, ``k ~ Bin(G-1, p)``.

    The expected coefficient of a correct and of a wrong sample (without any length factor);
    GRPO uses its closed form :meth:`~rlstar_theory.rules.grpo.Grpo.advantage_terms`.
    """
    if isinstance(rule, Grpo):
        return rule.advantage_terms(p)
    G = rule.group_size
    one = np.ones(G, dtype=np.int64)
    alpha1 = binomial_expectation(lambda k: rule.advantage(k + 1, one[: len(k)]), G - 1, p)
    alpha0 = binomial_expectation(lambda k: rule.advantage(k, 0 * one[: len(k)]), G - 1, p)
    return alpha1, alpha0


def _check_rule(rule) -> WeightedRule:
    if isinstance(rule, str):
        rule = make_rule(rule)
    if not isinstance(rule, WeightedRule):
        raise ValueError("rule must be a WeightedRule (a weight and a mode, e.g. "
                         f"make_rule('grpo')) or its name, got {type(rule).__name__}")
    if getattr(rule, "uses_surrogate", False):
        raise ValueError("the variable-length chain supports one on-policy epoch without KL: "
                         "use epochs=1 and beta=0")
    if getattr(rule, "temperature", 1.0) != 1:
        raise ValueError("the variable-length chain samples at temperature 1: use "
                         "temperature=1")
    return rule


def _exact_normaliser(chain: LengthChain, kind: str, constant) -> np.ndarray:
    L = chain.budget
    if kind == "length":
        h = [Fraction(0)] + [Fraction(1, n) for n in range(1, L + 1)]
    elif kind == "constant":
        h = [Fraction(0)] + [1 / Fraction(L if constant is None else constant)] * L
    else:
        h = [Fraction(0)] + [Fraction(1)] * L
    return np.array(h, dtype=object)


def _check_normaliser(rule: WeightedRule, normaliser: str | None) -> str:
    kind = rule_normaliser(rule) if normaliser is None else normaliser
    if kind not in NORMALISERS:
        raise ValueError(f"normaliser must be one of {NORMALISERS}, got {kind!r}")
    return kind


def length_edges(rule, Q, chain: LengthChain, normaliser: str | None = None,
                 constant: float | None = None) -> np.ndarray:
    """The expected coefficient-weighted action counts of one step of ``rule``.

    Parameters
    ----------
    rule : WeightedRule or str
        E.g. ``make_rule("grpo", group_size=8, lr=0.5)`` or ``"dr-grpo"``.
    Q : ndarray, shape (N_max, M, A)
        Policy (float64; Fractions for refit rules give exact weights).
    chain : LengthChain
    normaliser : {"length", "constant", "none"}, optional
        The length factor ``h``; default :func:`rule_normaliser`.
    constant : float, optional
        ``L`` of ``"constant"`` (default the budget ``N_max``).

    Returns
    -------
    ndarray, shape (N_max, M, A)
        ``C = weighted_edges(T[s0, r, l] = alpha_r(p(s0)) h(l), w = rho_train)``: its softmax
        gradient ``C - Q rowsum(C)`` is the expected gradient
        ``sum rho E[alpha_R h(|o|) grad log pi(tau)]`` of the rule's loss. Gradient rules take
        ``alpha`` from :func:`outcome_advantages`; refit rules keep only correct trajectories
        (``alpha_0 = 0``) with ``alpha_1 = rule.question_weight(p)`` (e.g. rationalization's
        ``K + (1-p)^K/p``: its posterior draws are correct trajectories too).
    """
    rule = _check_rule(rule)
    Q = chain.check_policy(Q)
    kind = _check_normaliser(rule, normaliser)
    model = chain.model
    p = length_outcome_distribution(Q, chain)[:, 1].sum(axis=1)
    if is_exact(Q):
        if not rule.refits():
            raise ValueError(f"rule {rule.name!r} is a gradient rule: softmax steps are not "
                             "rational, so it needs a float64 policy")
        alpha1 = rule.question_weight_exact(p)
        alpha0 = np.zeros(model.M, dtype=np.int64).astype(object)
        h = _exact_normaliser(chain, kind, constant)
        w = model.weights("train", exact=True)
    else:
        p = np.asarray(p, dtype=float)
        if rule.refits():
            alpha1, alpha0 = rule.question_weight(p), np.zeros(model.M)
        else:
            alpha1, alpha0 = outcome_advantages(rule, p)
        h = length_normaliser(chain, kind, constant)
        w = model.weights("train")
    return weighted_edges(Q, chain, outcome_length_weights(alpha1, alpha0, h), w)


def length_gradient(rule, Q, chain: LengthChain, normaliser: str | None = None,
                    constant: float | None = None) -> np.ndarray:
    """The exact expected gradient of ``rule``'s loss w.r.t. the logits ``log Q``.

    ``G = C - Q rowsum(C)`` with ``C`` of :func:`length_edges`:
    ``sum_{s0} rho(s0) E[alpha_R(p) h(|o|) d log pi(tau) / d theta]``, shape (N_max, M, A).
    """
    Q = chain.check_policy(Q)
    return operator.gradient(Q, length_edges(rule, Q, chain, normaliser, constant))


def length_step(rule, Q, chain: LengthChain, normaliser: str | None = None,
                constant: float | None = None) -> np.ndarray:
    """One exact (expected) step of ``rule`` on the variable-length chain.

    Parameters are those of :func:`length_edges`.

    Returns
    -------
    ndarray, shape (N_max, M, A)
        ``refit(Q, C)`` (refit rules) or ``softmax(log Q + lr (C - Q rowsum(C)))``.
    """
    rule = _check_rule(rule)
    Q = chain.check_policy(Q)
    C = length_edges(rule, Q, chain, normaliser, constant)
    if rule.refits():
        return operator.refit(Q, C)
    return operator.gradient_step(Q, C, rule.lr)


# --- runs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LengthCurve:
    """Exact outcome and length metrics over ``t = 0..T`` on one split.

    Attributes
    ----------
    J : ndarray, shape (T+1,)
    expected_length : ndarray, shape (T+1,)
        ``E|o|``.
    length_correct, length_wrong : ndarray, shape (T+1,)
        ``E[|o| | correct]``, ``E[|o| | wrong]`` (NaN where that outcome has no mass).
    """

    J: np.ndarray
    expected_length: np.ndarray
    length_correct: np.ndarray
    length_wrong: np.ndarray

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in
                ("J", "expected_length", "length_correct", "length_wrong")}


@dataclass(frozen=True)
class LengthRun:
    """A rule run on a variable-length chain.

    Attributes
    ----------
    rule : str
    normaliser : str
        The length factor used (``"length"``, ``"constant"`` or ``"none"``).
    settings : dict
        The rule's hyper-parameters.
    train, test : LengthCurve
        ``test`` is None when the model holds out no question.
    length_pmf : ndarray, shape (T+1, N_max+1)
        ``Pr(|o| = l)`` on the training questions.
    Q : ndarray, shape (T+1, N_max, M, A), or None
        The policies, when kept.
    """

    rule: str
    normaliser: str
    settings: dict
    train: LengthCurve
    test: LengthCurve | None
    length_pmf: np.ndarray
    Q: np.ndarray | None = field(default=None, repr=False)

    @property
    def expected_length(self) -> np.ndarray:
        """Train ``E|o|`` over ``t``."""
        return self.train.expected_length

    def first_reaching(self, target: float) -> int | None:
        """The first iteration ``t`` with train ``J_t >= target`` (None if none)."""
        hit = np.flatnonzero(self.train.J >= target)
        return int(hit[0]) if hit.size else None

    def to_dict(self) -> dict:
        return {"rule": self.rule, "normaliser": self.normaliser, "settings": self.settings,
                "train": self.train.to_dict(),
                "test": None if self.test is None else self.test.to_dict(),
                "length_pmf": self.length_pmf.tolist()}


def _curve(stats: list) -> LengthCurve:
    return LengthCurve(J=np.array([s.J for s in stats]),
                       expected_length=np.array([s.expected_length for s in stats]),
                       length_correct=np.array([s.length_correct for s in stats]),
                       length_wrong=np.array([s.length_wrong for s in stats]))


def iterate_length(rule, Q0, chain: LengthChain, iterations: int = 10,
                   normaliser: str | None = None, constant: float | None = None,
                   keep_policies: bool = False, progress: bool = False) -> LengthRun:
    """Run ``rule`` exactly for ``T`` iterations on a variable-length chain.

    Parameters
    ----------
    rule : WeightedRule or str
        E.g. ``make_rule("grpo", group_size=8, lr=1.0)``.
    Q0 : array_like, shape (N_max, M, A)
        The pre-trained policy (e.g. :func:`rlstar_theory.mdp.variable_length.extend_policy`).
    chain : LengthChain
    iterations : int
        ``T >= 0``.
    normaliser, constant
        As in :func:`length_step`.
    keep_policies : bool
        Keep ``Q_0..Q_T`` (memory is checked first).
    progress : bool
        Show a progress bar.

    Returns
    -------
    LengthRun
        ``J``, ``E|o|``, ``E[|o| | correct]``, ``E[|o| | wrong]`` on train (and test)
        questions, and the train length distribution, for ``t = 0..T``.
    """
    rule = _check_rule(rule)
    T = check_iterations(iterations)
    Q = chain.check_policy(Q0, "Q0")
    kind = _check_normaliser(rule, normaliser)
    if keep_policies:
        check_memory((T + 1) * Q.size * 8.0, "iterate_length: the policies Q_0..Q_T",
                     "iterations (or pass keep_policies=False)")
    has_test = chain.model.has_test
    train, test, pmf = [], [], []
    kept = [Q] if keep_policies else None
    for t in tqdm(range(T + 1), desc=rule.name, disable=not progress, leave=False):
        if t:
            Q = length_step(rule, Q, chain, kind, constant)
            if kept is not None:
                kept.append(Q)
        stats = length_statistics(Q, chain, "train")
        train.append(stats)
        pmf.append(stats.length_pmf)
        if has_test:
            test.append(length_statistics(Q, chain, "test"))
    return LengthRun(rule=rule.name, normaliser=kind, settings=rule.settings(),
                     train=_curve(train), test=_curve(test) if has_test else None,
                     length_pmf=np.array(pmf),
                     Q=np.stack(kept) if kept is not None else None)


@dataclass(frozen=True)
class LengthBiasComparison:
    """GRPO (``1/|o|``) and Dr. GRPO (``1/L``) from one pre-trained policy."""

    grpo: LengthRun
    dr_grpo: LengthRun

    def at_matched_J(self, targets=(0.3, 0.5, 0.7, 0.9)) -> list[dict]:
        """Lengths of both runs at the first iteration each reaches train ``J >= target``.

        The two rules take steps of different sizes, so lengths are compared at equal ``J``
        rather than at equal ``t``. Each row: ``target`` and, per rule (``"grpo"``,
        ``"dr_grpo"``), ``t``, ``J``, ``E|o|``, ``E[|o| | correct]``, ``E[|o| | wrong]``
        (None where the run never reaches the target).
        """
        rows = []
        for target in targets:
            row: dict = {"target": float(target)}
            for name, run in (("grpo", self.grpo), ("dr_grpo", self.dr_grpo)):
                t = run.first_reaching(target)
                row[name] = None if t is None else {
                    "t": t, "J": float(run.train.J[t]),
                    "expected_length": float(run.train.expected_length[t]),
                    "length_correct": float(run.train.length_correct[t]),
                    "length_wrong": float(run.train.length_wrong[t])}
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        return {"grpo": self.grpo.to_dict(), "dr_grpo": self.dr_grpo.to_dict()}


def compare_length_bias(Q0, chain: LengthChain, iterations: int = 20, group_size: int = 8,
                        lr: float = 1.0, dr_grpo_lr: float | None = None,
                        std: str = "unbiased", std_eps: float = 1e-4,
                        constant: float | None = None,
                        progress: bool = False) -> LengthBiasComparison:
    """Exact GRPO and Dr. GRPO iterations on a variable-length chain from the same ``Q0``.

    GRPO: ``A = (r - c/G)/(sigma(c) + eps)`` with the per-sample factor ``1/|o|``. Dr. GRPO:
    ``A = r - c/G`` with the constant factor ``1/L`` (``L = constant``, default ``N_max``).
    Both take softmax steps on the logits of ``Q``, of size ``lr`` and ``dr_grpo_lr``
    (default ``lr``; Dr. GRPO's steps are smaller by about ``sigma |o| / L``, so a larger
    ``dr_grpo_lr`` lets both reach the same ``J``: compare with
    :meth:`LengthBiasComparison.at_matched_J`).

    Returns
    -------
    LengthBiasComparison
        ``.grpo.expected_length`` and ``.dr_grpo.expected_length`` (train ``E|o|`` per
        iteration), and the other curves of :class:`LengthRun`.
    """
    K = group_size
    grpo = Grpo(samples_per_question=K, group_size=group_size, lr=lr, std=std, std_eps=std_eps)
    dr = DrGrpo(samples_per_question=K, group_size=group_size,
                lr=lr if dr_grpo_lr is None else dr_grpo_lr)
    return LengthBiasComparison(
        grpo=iterate_length(grpo, Q0, chain, iterations, "length", progress=progress),
        dr_grpo=iterate_length(dr, Q0, chain, iterations, "constant", constant,
                               progress=progress))
