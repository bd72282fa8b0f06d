"""The record every proof returns, and the exact checks the proofs are built from.

A proof is a plain function returning a :class:`ProofResult`. The checks here are *exact*:
an identity between rational functions is accepted only when the cross-multiplied difference is
the zero polynomial (:data:`IDENTITY_CHECK`), never by sampling numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

import sympy as sp

__all__ = [
    "ProofResult",
    "Status",
    "IDENTITY_CHECK",
    "is_identity",
    "first_nonzero",
    "positive_certificate",
]

Status = Literal["proved", "failed"]


@dataclass(frozen=True)
class ProofResult:
    """Outcome of one symbolic proof.

    The field names and order are a stable interface (the reproduce report reads them).

    Attributes
    ----------
    key : str
        Short stable identifier, e.g. ``"closure_pair"``.
    claim : str
        The statement, in words and as a formula.
    method : str
        Exactly how it was proved (which symbols, which sympy operation, which N, induction).
    status : {"proved", "failed"}
        ``"proved"`` only when every check of the proof passed.
    detail : str
        What was checked, or the first counter-example / error when it failed.
    n_values : tuple of int or None
        The numbers of steps N for which the statement was checked with one separate symbol per
        step; ``None`` when the statement does not depend on N or N is fixed by the claim.
        A general-N argument, when there is one, is described in ``method``.
    """

    key: str
    claim: str
    method: str
    status: Status
    detail: str
    n_values: tuple[int, ...] | None

    @classmethod
    def conclude(cls, key: str, claim: str, method: str, failure: str | None, checked: str,
                 n_values: tuple[int, ...] | None) -> ProofResult:
        """The result of a proof whose checks found ``failure`` (``None``: every check passed).

        ``status`` is ``"proved"`` exactly when ``failure is None``; ``detail`` is then
        ``checked`` (what was verified), otherwise ``"failed: " + failure``.
        """
        if failure is None:
            return cls(key, claim, method, "proved", checked, n_values)
        return cls(key, claim, method, "failed", f"failed: {failure}", n_values)

    @property
    def proved(self) -> bool:
        """``True`` when ``status == "proved"``."""
        return self.status == "proved"

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dictionary of the fields (``n_values`` as a list or None)."""
        d = asdict(self)
        d["n_values"] = None if self.n_values is None else list(self.n_values)
        return d


#: how :func:`is_identity` decides an identity (quoted in the proofs' ``method``)
IDENTITY_CHECK = "exact identity check (sympy.cancel each side to p/q; expand(p₁q₂ − p₂q₁) == 0)"


def is_identity(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """Whether ``lhs == rhs`` as rational functions of their symbols.

    Parameters
    ----------
    lhs, rhs : sympy expressions
        Rational functions (no assumptions on the symbols are used).

    Returns
    -------
    bool
        Each side is reduced to ``p/q`` by ``sympy.cancel``; the identity holds iff
        ``expand(p_lhs q_rhs - p_rhs q_lhs)`` is the zero polynomial. It then holds wherever
        both sides are defined (denominators non-zero).

    Raises
    ------
    TypeError
        If either side contains a floating-point number (the check must stay exact).
    """
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if lhs.has(sp.Float) or rhs.has(sp.Float):
        raise TypeError("is_identity is an exact check: floating-point numbers are not allowed")
    p1, q1 = sp.fraction(sp.cancel(sp.sympify(lhs)))
    p2, q2 = sp.fraction(sp.cancel(sp.sympify(rhs)))
    return sp.expand(p1 * q2 - p2 * q1) == 0


def first_nonzero(pairs: Iterable[tuple[str, sp.Expr, sp.Expr]]) -> str | None:
    """Label of the first ``(label, lhs, rhs)`` whose identity fails, or ``None`` if all hold."""
    for label, lhs, rhs in pairs:
        if not is_identity(lhs, rhs):
            return label
    return None


def _polynomial_positive(
    poly_expr: sp.Expr, positive: Iterable[sp.Symbol], nonnegative: Iterable[sp.Symbol]
) -> bool:
    """Positivity certificate for a polynomial.

    True when every coefficient (in the given variables) is >= 0 and the polynomial with all
    ``nonnegative`` variables set to 0 is not the zero polynomial. Then, for positive values of
    ``positive`` and non-negative values of ``nonnegative``,
    ``p(u, m) >= p(u, 0) > 0`` (each term is >= 0 and ``p(u, 0)`` has a strictly positive term).
    """
    positive = tuple(positive)
    nonnegative = tuple(nonnegative)
    gens = positive + nonnegative
    poly = sp.Poly(sp.expand(poly_expr), *gens)
    if poly.is_zero or any(c < 0 for c in poly.coeffs()):
        return False
    for c in poly.coeffs():
        if not (c.is_number and c.is_real):
            return False
    base = sp.expand(poly_expr.subs({m: 0 for m in nonnegative}))
    return base != 0


def positive_certificate(
    expr: sp.Expr, positive: Iterable[sp.Symbol], nonnegative: Iterable[sp.Symbol] = ()
) -> bool:
    """Certify ``expr > 0`` for all positive / non-negative values of the given symbols.

    ``expr`` is brought to one fraction ``num/den`` (``sympy.together`` then ``fraction``);
    each of ``num`` and ``den`` must pass the coefficient certificate of
    :func:`_polynomial_positive` (all coefficients >= 0, not zero when the non-negative
    variables vanish). Returns ``False`` when no certificate is found (which does not prove
    the expression can be <= 0).
    """
    positive = tuple(positive)
    nonnegative = tuple(nonnegative)
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    return _polynomial_positive(num, positive, nonnegative) and _polynomial_positive(
        den, positive, nonnegative
    )
