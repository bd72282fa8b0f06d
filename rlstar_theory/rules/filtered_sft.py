"""Iterative filtered SFT on positives, negatives or both (Samineni et al., arXiv 2505.13697).

Each question gets a group of ``G`` samples, ``c`` of them correct. F-ISFT+ minimises the
negative log-likelihood of the positives *averaged over the positives* of the group, F-ISFT-
maximises the negative log-likelihood of the negatives averaged over the negatives (pushes them
down), F-ISFT+- does both; every trajectory's loss is averaged over its ``N`` tokens. Per group,
the objective is ``sum_i coef_i log pi(tau_i)`` with

.. math::

    \\text{coef}^+_i = \\frac{r_i}{c\\,N},\\qquad
    \\text{coef}^-_i = -\\frac{1 - r_i}{(G - c)\\,N}

(0 when the sign group is empty). The rules' update sums over the ``K = G`` samples with
``rho/K``, so the per-sample coefficient is ``a = G coef``: ``a^+(c, r) = G r/(c N)`` and
``a^-(c, r) = -G (1 - r)/((G - c) N)``. With ``k ~ Bin(G-1, p)`` (ALGORITHMS.md §0.4)

.. math::

    w^+ = \\rho\\,G\\,E\\Big[\\frac1{1+k}\\Big]\\frac1N = \\rho\\,\\frac{1-(1-p)^G}{p}\\,\\frac1N,
    \\qquad
    w^- = \\rho\\,G\\,E\\Big[\\frac1{G-k}\\Big]\\frac1N = \\rho\\,\\frac{1-p^G}{1-p}\\,\\frac1N,

both positive (pushing a wrong sample down raises ``p``, §0.5 F3), and ``w^{+-} = w^+ + w^-``.
They are computed as the geometric sums ``sum_{j<G} (1-p)^j`` and ``sum_{j<G} p^j``, finite at
``p = 0`` and ``p = 1`` (value ``G``).

Gradient mode (one softmax step per batch). A refit of a loss with negative coefficients is
unbounded (§0.5 F5), so ``fisft-`` and ``fisft+-`` refuse ``refit=True``. ``fisft+`` with
``refit=True`` fits its loss to convergence: the refit of ``C+[rho (1-(1-p)^G)/p]``, which is
exactly STaR (``w = rho``) for ``G = 1`` and tilts towards hard questions for ``G > 1``
(``G -> infinity``: ``w = rho/p``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from rlstar_theory.rules.policy_gradient import TokenAveragedRule

__all__ = ["FilteredSft", "FilteredSftBoth", "FilteredSftNegative", "FilteredSftPositive",
           "geometric_weight"]


def geometric_weight(q: np.ndarray, G: int) -> np.ndarray:
    """``sum_{j=0}^{G-1} q^j = (1 - q^G)/(1 - q)`` (``G`` at ``q = 1``); floats or Fractions.

    ``geometric_weight(1 - p, G) = (1 - (1-p)^G)/p`` is F-ISFT+'s weight and
    ``geometric_weight(p, G) = (1 - p^G)/(1 - p)`` F-ISFT-'s.
    """
    q = np.asarray(q)
    total = np.zeros(q.shape, dtype=q.dtype) if q.dtype == object else np.zeros(q.shape)
    power = np.ones(q.shape, dtype=np.int64).astype(total.dtype)
    for _ in range(G):  # G terms (a group size); exact for Fractions
        total = total + power
        power = power * q
    return total


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    return np.divide(num, den, out=np.zeros(num.shape), where=num != 0)


@dataclass(frozen=True)
class FilteredSft(TokenAveragedRule):
    """Base of the three F-ISFT rules: which sign groups are used, and the refit guard.

    Attributes
    ----------
    samples_per_question : int
        ``K``, a multiple of ``group_size``.
    group_size : int
        ``G``: the group the positives and negatives are averaged within (default 8).
    lr : float
        Step size on the logits (gradient mode).
    refit : bool
        Fit the loss to convergence instead of one gradient step. Only ``fisft+`` allows it;
        with negatives the refit is unbounded (ALGORITHMS.md §0.5 F5).
    """

    mode = "gradient"
    positives: ClassVar[bool] = False
    negatives: ClassVar[bool] = False
    group_size: int = 8
    refit: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True or False, got {self.refit!r}")
        if self.refit and self.negatives:
            raise ValueError(
                f"refit=True is ill-posed for {self.name}: its loss pushes down negative "
                "samples, and maximising sum c log P with a negative coefficient drives that "
                "probability to 0 and the objective to infinity (ALGORITHMS.md §0.5 F5); use "
                "gradient steps (refit=False), or fisft+ for a refit")

    def settings(self) -> dict:
        """Name, mode (``"refit"`` when ``refit=True``) and hyper-parameters."""
        return {**super().settings(), "mode": "refit" if self.refit else "gradient"}

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``G r / c`` (positives) plus ``-G (1 - r)/(G - c)`` (negatives), 0 for empty groups.

        The ``1/N`` is applied by :class:`TokenAveragedRule`.
        """
        G = self.group_size
        r = np.asarray(r, dtype=float)
        c = np.asarray(c, dtype=float)
        a = np.zeros(np.broadcast_shapes(r.shape, c.shape))
        if self.positives:
            a = a + _safe_ratio(G * r, c)
        if self.negatives:
            a = a - _safe_ratio(G * (1.0 - r), G - c)
        return a

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``(1-(1-p)^G)/p`` and/or ``(1-p^G)/(1-p)`` (times ``1/N`` in :meth:`weights`)."""
        p = np.asarray(p, dtype=float)
        w = np.zeros(p.shape)
        if self.positives:
            w = w + geometric_weight(1.0 - p, self.group_size)
        if self.negatives:
            w = w + geometric_weight(p, self.group_size)
        return w

    def question_weight_exact(self, p: np.ndarray) -> np.ndarray:
        """The weight in Fractions (F-ISFT+'s refit runs on exact policies)."""
        if not self.refit:
            return super().question_weight_exact(p)
        one = Fraction(1)
        return geometric_weight(np.array([one - v for v in np.ravel(p)], dtype=object)
                                .reshape(np.shape(p)), self.group_size)

    def refits(self) -> bool:
        """``refit=True`` fits the loss to convergence (``fisft+`` only)."""
        return bool(self.refit)


@dataclass(frozen=True)
class FilteredSftPositive(FilteredSft):
    """F-ISFT+: SFT on the positives, averaged over them; ``w = rho (1-(1-p)^G)/(p N)``."""

    name = "fisft+"
    positives = True


@dataclass(frozen=True)
class FilteredSftNegative(FilteredSft):
    """F-ISFT-: push down the negatives, averaged over them; ``w = rho (1-p^G)/((1-p) N)``."""

    name = "fisft-"
    negatives = True


@dataclass(frozen=True)
class FilteredSftBoth(FilteredSft):
    """F-ISFT+-: both sign groups, each averaged within itself; ``w = w^+ + w^-``."""

    name = "fisft+-"
    positives = True
    negatives = True
