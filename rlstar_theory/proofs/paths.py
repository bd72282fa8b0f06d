"""Brute-force sums over all paths with explicit matrices (concrete M, symbolic λ's).

Used as an independent cross-check of the span{I, J} derivations: nothing here uses closure or
the algebra, only the definition of the Markov chain with identity ground truth and a uniform
start, success meaning ``s_N = s_0``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

__all__ = ["PathSums", "enumerate_paths"]


@dataclass(frozen=True)
class PathSums:
    """Probabilities summed over all ``m^(N+1)`` paths ``(s_0, ..., s_N)``.

    Attributes
    ----------
    m : int
        Number of states.
    success : sympy.Expr
        ``Pr(success) = Pr(S_N = S_0)`` (uniform ``S_0``).
    all_correct_and_success : sympy.Expr
        ``Pr(S_n = S_{n-1} for every n)`` (such paths always succeed).
    numerators : tuple of sympy.Matrix
        ``numerators[n-1][s, s'] = Pr(S_{n-1} = s, S_n = s', success)``.
    """

    m: int
    success: sp.Expr
    all_correct_and_success: sp.Expr
    numerators: tuple[sp.Matrix, ...]

    def refit(self, n: int) -> sp.Matrix:
        """Maximum-likelihood refit of step ``n``: each numerator row over its row sum."""
        num = self.numerators[n - 1]
        rows = [num.row(i) / sum(num.row(i)) for i in range(self.m)]
        return sp.Matrix.vstack(*rows)

    def wrong_step_given_success(self, n: int) -> sp.Expr:
        """``Pr(S_n != S_{n-1} | success)``."""
        num = self.numerators[n - 1]
        wrong = sum(num[i, j] for i in range(self.m) for j in range(self.m) if i != j)
        return wrong / self.success


def enumerate_paths(mats: Sequence[sp.Matrix], m: int) -> PathSums:
    """Sum path probabilities for the chain ``mats[0], ..., mats[N-1]`` (each ``m x m``).

    Parameters
    ----------
    mats : sequence of sympy.Matrix
        Step matrices ``P_1 .. P_N`` (explicit, entries may be symbolic).
    m : int
        Number of states; the start ``S_0`` is uniform.
    """
    N = len(mats)
    success = sp.Integer(0)
    all_correct = sp.Integer(0)
    nums = [sp.zeros(m, m) for _ in range(N)]
    for path in itertools.product(range(m), repeat=N + 1):
        if path[-1] != path[0]:
            continue  # failed trajectory: dropped by STaR
        pr = sp.Rational(1, m)
        for k in range(N):
            pr *= mats[k][path[k], path[k + 1]]
        success += pr
        if all(path[k] == path[k + 1] for k in range(N)):
            all_correct += pr
        for k in range(N):
            nums[k][path[k], path[k + 1]] += pr
    return PathSums(m, success, all_correct, tuple(nums))
