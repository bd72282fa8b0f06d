"""GRPO and Dr. GRPO with outcome supervision (DeepSeekMath, arXiv 2402.03300; ALGORITHMS.md §3).

A group of ``G`` samples of one question, ``c`` of them correct, gets the advantages

.. math::

    A_i = \\frac{r_i - c/G}{\\sigma(c) + \\epsilon},\\qquad
    \\sigma(c) = \\sqrt{\\frac{c (G - c)}{G (G - 1)}}\\ \\text{(unbiased)}\\quad\\text{or}\\quad
    \\sqrt{\\frac{c (G - c)}{G^2}}\\ \\text{(population)},

with ``epsilon = 1e-4`` as in TRL, and every token of sample ``i`` carries ``A_i / |o_i| = A_i/N``.
On the first (on-policy) epoch the clipping is inactive, so with one epoch and no KL the step
is gradient mode with the weight (ALGORITHMS.md §3d)

.. math::

    w(s_0) = \\rho(s_0)\\, c_G(p)/N,\\qquad c_G(p) = w_1(p) - w_0(p),\\qquad
    w_1 = E_k\\Big[\\frac{1 - \\frac{k+1}{G}}{\\sigma(k+1) + \\epsilon}\\Big],\\
    w_0 = -E_k\\Big[\\frac{k/G}{\\sigma(k) + \\epsilon}\\Big],

``k ~ Bin(G-1, p)`` the correct samples among the other ``G - 1``: ``w_1 = E[A | correct]``
and ``w_0 = E[A | wrong]``. Groups that are all correct or all wrong give ``A = 0``. As
``G -> infinity``, ``c_G(p) -> 1/(sqrt(p(1-p)) + epsilon)``. With the unbiased std,
``c_G(0.267) = 0.71, 1.42, 1.87, 2.09, 2.22`` for ``G = 2, 4, 8, 16, 64`` (ALGORITHMS.md §11).

Dr. GRPO drops the std: ``A_i = r_i - c/G`` and ``w = rho (G - 1)/(G N)``.

Several epochs (``epochs > 1``) or a k3 KL penalty to the reference policy (``beta > 0``)
maximise the exact clipped surrogate of §3d instead
(:func:`rlstar_theory.rules.surrogate.clipped_surrogate_step`, fed by
:func:`grpo_advantage_terms`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Update
from rlstar_theory.rules.policy_gradient import TokenAveragedRule
from rlstar_theory.validation import check_int, check_memory

__all__ = ["DrGrpo", "Grpo", "group_std", "grpo_advantage_terms"]

STDS = ("unbiased", "population")


def _check_std(std: str) -> str:
    if std not in STDS:
        raise ValueError(f"std must be one of {STDS}, got {std!r}")
    return std


def _check_nonnegative(value: float, name: str, positive: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def group_std(c: np.ndarray, G: int, std: str = "unbiased") -> np.ndarray:
    """Std of a 0/1 group of ``G`` rewards with ``c`` ones.

    ``sqrt(c (G - c) / (G (G - 1)))`` (``std="unbiased"``, torch's default) or
    ``sqrt(c (G - c)) / G`` (``std="population"``).
    """
    c = np.asarray(c, dtype=float)
    dof = G - 1 if _check_std(std) == "unbiased" else G
    return np.sqrt(c * (G - c) / (G * dof))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``num = 0`` (a constant group: ``sigma = 0``, ``A = 0``)."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    return np.divide(num, den, out=np.zeros(num.shape), where=num != 0)


def grpo_advantage_terms(p: np.ndarray, G: int, std: str = "unbiased",
                         eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Expected GRPO advantage of a correct and of a wrong sample, as functions of ``p``.

    Parameters
    ----------
    p : array_like
        Success probabilities ``p(s0)`` in ``[0, 1]`` (any shape).
    G : int
        Group size ``G >= 2``.
    std : {"unbiased", "population"}
        The group std of :func:`group_std`.
    eps : float
        ``epsilon >= 0`` added to the std.

    Returns
    -------
    w1, w0 : ndarray, shape of ``p``
        ``w1 = E_k[(1 - (k+1)/G) / (sigma(k+1) + eps)] >= 0`` and
        ``w0 = -E_k[(k/G) / (sigma(k) + eps)] <= 0`` for ``k ~ Bin(G-1, p)``, each an exact
        finite sum over ``k = 0..G-1``. GRPO's weight is ``c_G(p) = w1 - w0``.
    """
    G = check_int(G, "group_size", 2)
    eps = _check_nonnegative(eps, "std_eps")
    p = np.asarray(p, dtype=float)
    check_memory(8.0 * G * max(p.size, 1), "the binomial weights of the GRPO advantage",
                 "group_size")
    k = np.arange(G, dtype=float)
    pmf = stats.binom.pmf(k, G - 1, p[..., None])
    a_pos = _ratio(1.0 - (k + 1) / G, group_std(k + 1, G, std) + eps)
    a_neg = _ratio(-k / G, group_std(k, G, std) + eps)
    return pmf @ a_pos, pmf @ a_neg


def _surrogate(name: str):
    """The clipped-surrogate function ``name`` of :mod:`rlstar_theory.rules.surrogate`."""
    try:
        from rlstar_theory.rules import surrogate
    except ImportError:
        surrogate = None
    fn = getattr(surrogate, name, None)
    if fn is None:
        raise ValueError(f"GRPO with epochs > 1 or beta > 0 needs the clipped surrogate "
                         f"rlstar_theory.rules.surrogate.{name}, which is not available; "
                         "use epochs=1 and beta=0")
    return fn


@dataclass(frozen=True)
class Grpo(TokenAveragedRule):
    """GRPO with outcome supervision: group-standardised advantages, ``w = rho c_G(p)/N``.

    Attributes
    ----------
    samples_per_question : int
        ``K``, a multiple of ``group_size``.
    group_size : int
        ``G >= 2`` (default 8, TRL's ``num_generations``).
    lr : float
        Step size on the logits.
    std : {"unbiased", "population"}
        Group std (TRL and verl use torch's unbiased std).
    std_eps : float
        ``epsilon`` added to the std (TRL: 1e-4).
    eps_clip : float
        Clip range of the ratio (0.2); inactive on the first epoch.
    epochs : int
        ``mu``: full-batch ascent steps on the surrogate per batch of samples (1).
    beta : float
        Coefficient of the k3 KL penalty to the reference policy (``P0``) in the loss (0).
    """

    name = "grpo"
    mode = "gradient"
    group_size: int = 8
    std: str = "unbiased"
    std_eps: float = 1e-4
    eps_clip: float = 0.2
    epochs: int = 1
    beta: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.group_size, "group_size", 2, what="grpo needs a group std")
        _check_std(self.std)
        _check_nonnegative(self.std_eps, "std_eps")
        _check_nonnegative(self.eps_clip, "eps_clip", positive=True)
        check_int(self.epochs, "epochs", 1)
        _check_nonnegative(self.beta, "beta")

    @property
    def uses_surrogate(self) -> bool:
        """Whether a step is the clipped surrogate (``epochs > 1`` or ``beta > 0``)."""
        return self.epochs > 1 or self.beta > 0

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``A = (r - c/G) / (sigma(c) + eps)`` (0 for a constant group)."""
        G = self.group_size
        r = np.asarray(r, dtype=float)
        c = np.asarray(c, dtype=float)
        return _ratio(r - c / G, group_std(c, G, self.std) + self.std_eps)

    def advantage_terms(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(w1, w0)`` of :func:`grpo_advantage_terms` with this rule's settings."""
        return grpo_advantage_terms(p, self.group_size, self.std, self.std_eps)

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``c_G(p) = E[A | correct] - E[A | wrong]`` (times ``1/N`` in :meth:`weights`)."""
        w1, w0 = self.advantage_terms(p)
        return w1 - w0

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> Any:
        """The reference policy of the KL penalty (``P0``), when ``beta > 0``."""
        return np.array(P0, dtype=float) if self.beta > 0 else None

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """One expected step: ``softmax(log P + lr G[rho c_G(p)/N])`` for one epoch, no KL.

        With ``epochs > 1`` or ``beta > 0`` the exact clipped surrogate of ALGORITHMS.md §3d
        with ``coef_pos = rho w1/N`` and ``coef_neg = rho w0/N`` is maximised by ``epochs``
        full-batch ascent steps of size ``lr``.
        """
        if not self.uses_surrogate:
            update = super().exact_step(P, model, state)
            return Update(P=update.P, samples=update.samples, train_edges=update.train_edges,
                          state=state)
        step = _surrogate("clipped_surrogate_step")
        P = np.asarray(P, dtype=float)
        p = success_probability(P, model.answers)
        rho = model.weights("train") * float(self.scale(model))
        w1, w0 = self.advantage_terms(p)
        P_ref = state if state is not None else P
        P_new = step(P, model, rho * w1, rho * w0, eps_clip=self.eps_clip, epochs=self.epochs,
                     lr=self.lr, beta=self.beta, P_ref=P_ref)
        edges = success_edges(P, rho * w1, model.answers, model.identity)
        return Update(P=np.asarray(P_new), samples=self.nominal_samples(model),
                      train_edges=edges, state=state)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """One step from ``K`` sampled trajectories per training question.

        One epoch without KL is the generic weighted step with ``a = A/N``. Several epochs or
        a KL penalty on samples are delegated to
        ``rlstar_theory.rules.surrogate.sampled_surrogate_step(rule, P, model, state, rng)``;
        ValueError when that is not available.
        """
        if not self.uses_surrogate:
            return super().sampled_step(P, model, state, rng)
        step = _surrogate("sampled_surrogate_step")
        return step(self, P, model, state, rng)


@dataclass(frozen=True)
class DrGrpo(TokenAveragedRule):
    """Dr. GRPO: GRPO without the std and with a constant length normaliser.

    ``a(c, r) = (r - c/G)/N``, so ``w = rho (G - 1)/(G N)`` for every ``p``: the group mean
    includes the sample itself, which shrinks the unbiased step by ``(G - 1)/G``.

    Attributes
    ----------
    group_size : int
        ``G >= 2`` (default 8).
    lr : float
        Step size on the logits.
    """

    name = "dr-grpo"
    mode = "gradient"
    group_size: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.group_size, "group_size", 2, what="dr-grpo needs a group baseline")

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``r - c/G`` (the ``1/N`` is applied by :class:`TokenAveragedRule`)."""
        return np.asarray(r, dtype=float) - np.asarray(c, dtype=float) / self.group_size

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``(G - 1)/G`` for every ``p`` (times ``1/N`` in :meth:`weights`)."""
        return np.full(np.shape(p), (self.group_size - 1) / self.group_size)
