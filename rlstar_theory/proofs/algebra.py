"""The two-dimensional matrix algebra span{I, J} with a *symbolic* number of states M.

Every matrix of the symmetric family is ``x I + y J`` with ``J = 1 1^T`` (M x M). Since
``I J = J I = J`` and ``J^2 = M J`` (``(J^2)[s, s'] = sum_t 1 = M``), such matrices form a
commutative algebra in which

.. math::

    (x_1 I + y_1 J)(x_2 I + y_2 J) = x_1 x_2 I + (x_1 y_2 + y_1 x_2 + M y_1 y_2) J .

Entries are read off directly: ``(xI + yJ)[s, s'] = x [s = s'] + y`` (diagonal ``x + y``,
every off-diagonal ``y``, row sum ``x + M y``), and such matrices are symmetric. Representing
matrices by the pair ``(x, y)`` keeps M a symbol, so identities proved here hold for every M.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "SpanIJ",
    "M_SYMBOL",
    "family",
    "family_product",
    "lam_symbols",
    "p_correct",
    "explicit_family_matrix",
]

#: the number of states per step, as a sympy symbol
M_SYMBOL = sp.Symbol("M")


@dataclass(frozen=True)
class SpanIJ:
    """The matrix ``x I + y J`` of size ``M x M`` (``J = 1 1^T``), M possibly symbolic.

    Attributes
    ----------
    x, y : sympy.Expr
        Coefficients of ``I`` and ``J``.
    M : sympy.Expr
        Number of states.
    """

    x: sp.Expr
    y: sp.Expr
    M: sp.Expr = M_SYMBOL

    def _same_M(self, other: SpanIJ) -> None:
        if self.M != other.M:
            raise ValueError(f"M mismatch: {self.M} vs {other.M}")

    def __mul__(self, other: SpanIJ) -> SpanIJ:
        """Matrix product, using ``IJ = JI = J`` and ``J^2 = M J``."""
        self._same_M(other)
        return SpanIJ(
            self.x * other.x,
            self.x * other.y + self.y * other.x + self.M * self.y * other.y,
            self.M,
        )

    def hadamard(self, other: SpanIJ) -> SpanIJ:
        """Entry-wise product: diagonal ``(x1+y1)(x2+y2)``, off-diagonal ``y1 y2``."""
        self._same_M(other)
        off = self.y * other.y
        diag = (self.x + self.y) * (other.x + other.y)
        return SpanIJ(diag - off, off, self.M)

    def scale(self, k: sp.Expr) -> SpanIJ:
        """The matrix ``k (x I + y J)``."""
        return SpanIJ(k * self.x, k * self.y, self.M)

    def normalized(self) -> SpanIJ:
        """The same matrix with both coefficients put in canonical form by ``sympy.cancel``."""
        return SpanIJ(sp.cancel(self.x), sp.cancel(self.y), self.M)

    @property
    def T(self) -> SpanIJ:
        """Transpose (``I`` and ``J`` are symmetric, so the matrix itself)."""
        return self

    @property
    def diag(self) -> sp.Expr:
        """Every diagonal entry, ``x + y``."""
        return self.x + self.y

    @property
    def off(self) -> sp.Expr:
        """Every off-diagonal entry, ``y``."""
        return self.y

    @property
    def row_sum(self) -> sp.Expr:
        """Every row sum, ``x + M y``."""
        return self.x + self.M * self.y

    def matrix(self, m: int) -> sp.Matrix:
        """The explicit ``m x m`` sympy matrix, with ``M`` replaced by the integer ``m``."""
        x = sp.sympify(self.x).subs(self.M, m) if isinstance(self.M, sp.Symbol) else self.x
        y = sp.sympify(self.y).subs(self.M, m) if isinstance(self.M, sp.Symbol) else self.y
        return sp.Matrix(m, m, lambda i, j: x * (1 if i == j else 0) + y)


def family(lam: sp.Expr, M: sp.Expr = M_SYMBOL) -> SpanIJ:
    """``P(lam) = lam I + (1 - lam)/M J`` in span{I, J}."""
    M = sp.sympify(M)
    return SpanIJ(sp.sympify(lam), (1 - sp.sympify(lam)) / M, M)


def identity(M: sp.Expr = M_SYMBOL) -> SpanIJ:
    """The identity ``I = P(1)``."""
    return SpanIJ(sp.Integer(1), sp.Integer(0), M)


def family_product(lams: Iterable[sp.Expr], M: sp.Expr = M_SYMBOL) -> SpanIJ:
    """``P(lam_1) P(lam_2) ... P(lam_k)`` multiplied in the algebra (``I`` for no factor)."""
    out = identity(M)
    for lam in lams:
        out = (out * family(lam, M)).normalized()
    return out


def lam_symbols(N: int) -> tuple[sp.Symbol, ...]:
    """One separate symbol per step: ``lambda_1 .. lambda_N``."""
    return tuple(sp.Symbol(f"lambda_{k}") for k in range(1, N + 1))


def p_correct(lam: sp.Expr, M: sp.Expr = M_SYMBOL) -> sp.Expr:
    """Probability of the correct move, ``p = 1/M + (M-1) lam / M``."""
    M = sp.sympify(M)
    return 1 / M + (M - 1) * lam / M


def explicit_family_matrix(lam: sp.Expr, m: int) -> sp.Matrix:
    """The explicit ``m x m`` matrix ``lam I + (1-lam)/m 11^T`` (built entry by entry)."""
    off = (1 - lam) / sp.Integer(m)
    return sp.Matrix(m, m, lambda i, j: lam + off if i == j else off)
