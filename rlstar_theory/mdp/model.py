"""The chain model: states, steps, ground truth, questions. Validated once, trusted afterwards.

A :class:`ChainMDP` holds everything about the task that does not change while a policy is
trained: ``M`` states per step, ``N`` steps, the ground-truth maps ``truth[n-1] = g_n``, the
question distribution ``start`` (``rho``) and an optional split of the start states into train
and test questions. The policy ``P`` (shape ``(N, M, M)``) is what the training rules change;
:meth:`ChainMDP.check_policy` validates it once per public entry point, and the engines below
the public API trust it.

The answer of question ``s0`` is ``y(s0) = g_N o ... o g_1 (s0)``; its gold chain is
``s*_n = g_n(s*_{n-1})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from rlstar_theory.validation import (
    check_M,
    check_N,
    check_start,
    check_transition,
    check_truth,
    is_exact,
    to_fraction,
)

__all__ = ["ChainMDP", "split_questions"]


def _answers_and_gold(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    M = truth.shape[1]
    gold = np.empty((M, truth.shape[0] + 1), dtype=np.int64)
    gold[:, 0] = np.arange(M)
    for n, g in enumerate(truth):
        gold[:, n + 1] = g[gold[:, n]]
    return gold[:, -1].copy(), gold


def _check_train(train, M: int) -> np.ndarray:
    if train is None:
        return np.ones(M, dtype=bool)
    arr = np.asarray(train)
    if arr.dtype == bool:
        if arr.shape != (M,):
            raise ValueError(f"train must be a boolean mask of length M = {M} or a list of "
                             f"question indices in [0, {M - 1}], got shape {arr.shape}")
        mask = arr.copy()
    else:
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(f"train must be a boolean mask of length M = {M} or a list of "
                             f"question indices in [0, {M - 1}]")
        if arr.size and (arr.min() < 0 or arr.max() >= M):
            raise ValueError(f"train indices must lie in [0, M-1] = [0, {M - 1}]")
        mask = np.zeros(M, dtype=bool)
        mask[arr] = True
    if not mask.any():
        raise ValueError("train must select at least one question")
    return mask


@dataclass(frozen=True)
class ChainMDP:
    """The RL-STaR chain: ``M`` states, ``N`` steps, ground truth, questions and their split.

    Build it with :meth:`create` (which validates); the fields are then trusted.

    Attributes
    ----------
    M, N : int
        States per step and reasoning steps.
    truth : ndarray of int64, shape (N, M)
        ``truth[n-1] = g_n``.
    start : ndarray, shape (M,)
        Question distribution ``rho`` (float64).
    start_exact : ndarray of Fraction, shape (M,), or None
        The same exactly, when it is known exactly (uniform, or given as rationals).
    train : ndarray of bool, shape (M,)
        Which start states are training questions (all by default).
    answers : ndarray of int64, shape (M,)
        ``y(s0)``.
    gold : ndarray of int64, shape (M, N + 1)
        Gold chain ``s*_0 = s0, ..., s*_N = y(s0)`` of every question.
    identity : bool
        Every ``g_n`` is the identity (the paper's relabelled setting).
    """

    M: int
    N: int
    truth: np.ndarray
    start: np.ndarray
    start_exact: np.ndarray | None
    train: np.ndarray
    answers: np.ndarray = field(repr=False)
    gold: np.ndarray = field(repr=False)
    identity: bool = True

    @classmethod
    def create(cls, M: int, N: int, truth=None, start=None, train=None) -> ChainMDP:
        """Validated chain model.

        Parameters
        ----------
        M, N : int
            ``M >= 2`` states, ``N >= 1`` steps.
        truth : array_like of int, shape (N, M), optional
            Ground-truth maps (any maps ``[M] -> [M]``); identity when omitted.
        start : array_like, shape (M,), optional
            Question distribution; uniform when omitted. Fractions (or strings such as
            ``"1/3"``) make it exact as well.
        train : array_like of bool (M,) or of int, optional
            Training questions (a mask or indices); all questions when omitted. The others are
            held-out test questions.
        """
        M, N = check_M(M), check_N(N)
        truth = check_truth(truth, N, M)
        if start is None:
            start_f = np.full(M, 1.0 / M)
            start_x = np.array([Fraction(1, M)] * M, dtype=object)
        elif any(isinstance(v, (Fraction, str)) for v in np.ravel(np.asarray(start, dtype=object))):
            start_x = check_start(np.array([to_fraction(v, "start") for v in np.ravel(start)],
                                           dtype=object), M, exact=True)
            start_f = start_x.astype(float)
        else:
            start_f = check_start(start, M)
            start_x = None
        answers, gold = _answers_and_gold(truth)
        return cls(M=M, N=N, truth=truth, start=start_f, start_exact=start_x,
                   train=_check_train(train, M), answers=answers, gold=gold,
                   identity=bool((truth == np.arange(M)).all()))

    @classmethod
    def from_policy(cls, P, truth=None, start=None, train=None) -> ChainMDP:
        """The model whose ``M`` and ``N`` are those of the policy ``P`` (shape (N, M, M))."""
        shape = np.shape(P)
        if len(shape) != 3:
            raise ValueError(f"P must have shape (N, M, M), got shape {shape}")
        return cls.create(shape[1], shape[0], truth, start, train)

    @property
    def test(self) -> np.ndarray:
        """Mask of held-out test questions (empty when every question trains)."""
        return ~self.train

    @property
    def has_test(self) -> bool:
        """Whether some question is held out."""
        return bool(self.test.any())

    def weights(self, split: str = "train", exact: bool = False) -> np.ndarray:
        """Question weights ``rho`` restricted to a split and renormalised to sum 1.

        Parameters
        ----------
        split : {"train", "test", "all"}
        exact : bool
            Return Fractions (needs an exactly known start).

        Returns
        -------
        ndarray, shape (M,)
            ``rho(s0) 1[s0 in split] / rho(split)``; all zeros when the split has no mass.
        """
        if exact:
            if self.start_exact is None:
                raise ValueError("exact arithmetic needs an exact start distribution: give "
                                 "start as Fractions or strings such as '1/3', or omit it")
            rho = self.start_exact
        else:
            rho = self.start
        if split == "all":
            mask = np.ones(self.M, dtype=bool)
        elif split in ("train", "test"):
            mask = self.train if split == "train" else self.test
        else:
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        w = np.where(mask, rho, 0 * rho[0])
        total = w.sum()
        if total == 0:
            return w
        return w / total

    def check_policy(self, P, name: str = "P") -> np.ndarray:
        """Validate a policy for this model: shape ``(N, M, M)``, row-stochastic.

        Float input is returned as float64; an object array of Fractions stays exact.
        """
        arr = check_transition(P, name)
        if arr.shape != (self.N, self.M, self.M):
            raise ValueError(f"{name} must have shape (N, M, M) = ({self.N}, {self.M}, "
                             f"{self.M}) for this model, got {arr.shape}")
        if is_exact(arr) and self.start_exact is None:
            raise ValueError("an exact (Fraction) policy needs an exact start distribution")
        return arr

    def gold_edges(self) -> np.ndarray:
        """Boolean ``(N, M, M)``: ``[n-1, s, s']`` is True when ``s' = g_n(s)``."""
        out = np.zeros((self.N, self.M, self.M), dtype=bool)
        rows = np.arange(self.M)
        for n in range(self.N):
            out[n, rows, self.truth[n]] = True
        return out


def split_questions(M: int, train_fraction: float, rng=None) -> np.ndarray:
    """Random train mask with ``round(train_fraction * M)`` (at least 1) training questions.

    Parameters
    ----------
    M : int
    train_fraction : float
        In ``(0, 1]``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    ndarray of bool, shape (M,)
    """
    M = check_M(M)
    f = float(train_fraction)
    if not 0 < f <= 1:
        raise ValueError(f"train_fraction must lie in (0, 1], got {train_fraction!r}")
    n_train = max(1, int(round(f * M)))
    mask = np.zeros(M, dtype=bool)
    mask[np.random.default_rng(rng).choice(M, n_train, replace=False)] = True
    return mask
