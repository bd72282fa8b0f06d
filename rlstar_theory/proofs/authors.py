"""The authors' theory script: N = 3 equal steps.

Their update and expected return, for ``lam_1 = lam_2 = lam_3 = lam``:

.. math::

    \\lambda' = \\frac{(M-2)\\lambda^3 + \\lambda^2 + \\lambda}{(M-1)\\lambda^3 + 1},
    \\qquad
    J = \\alpha^3 + 3(M-1)\\alpha\\beta^2 + (M-1)(M-2)\\beta^3,

with ``alpha = 1/M + (M-1) lam/M`` (diagonal) and ``beta = (1 - lam)/M`` (off-diagonal).
Both are shown to agree with the general formulas and with the derived update.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from rlstar_theory.proofs.algebra import (
    M_SYMBOL,
    explicit_family_matrix,
    family_product,
    lam_symbols,
)
from rlstar_theory.proofs.family import J_formula
from rlstar_theory.proofs.result import IDENTITY_CHECK, ProofResult, first_nonzero
from rlstar_theory.proofs.update import derive_chain_update, star_update_formula

__all__ = ["authors_update", "authors_J", "prove_authors_update", "prove_authors_J"]


def authors_update(lam: sp.Expr, M: sp.Expr = M_SYMBOL) -> sp.Expr:
    """The authors' N = 3 equal-step update ``((M-2)lam^3 + lam^2 + lam)/((M-1)lam^3 + 1)``."""
    return ((M - 2) * lam**3 + lam**2 + lam) / ((M - 1) * lam**3 + 1)


def authors_J(lam: sp.Expr, M: sp.Expr = M_SYMBOL) -> sp.Expr:
    """The authors' ``J = alpha^3 + 3(M-1) alpha beta^2 + (M-1)(M-2) beta^3``."""
    M = sp.sympify(M)
    alpha = 1 / M + (M - 1) * lam / M
    beta = (1 - lam) / M
    return alpha**3 + 3 * (M - 1) * alpha * beta**2 + (M - 1) * (M - 2) * beta**3


def prove_authors_update(
    max_n: int = 5, formula: Callable[[sp.Expr, sp.Expr], sp.Expr] = authors_update
) -> ProofResult:
    """Prove the authors' N = 3 equal-step update equals the general update at equal λ's.

    ``formula(lam, M)`` is replaceable so tests can show a wrong formula fails; ``max_n`` is
    unused (N = 3 is fixed by the claim).
    """
    M = M_SYMBOL
    lam = sp.Symbol("lambda")
    lams = lam_symbols(3)
    equal = dict.fromkeys(lams, lam)
    pairs = [
        (
            "general formula with Λ₋ₙ = λ², Λ = λ³",
            star_update_formula(lam, lam**2, lam**3, M),
            formula(lam, M),
        )
    ]
    for n in (1, 2, 3):
        d = derive_chain_update(3, n)
        pairs.append(
            (f"derived update, step n = {n}, all λ_k = λ", d.refit.x.subs(equal), formula(lam, M))
        )
    bad = first_nonzero(pairs)
    return ProofResult.conclude(
        key="authors_update",
        claim="Authors' N = 3 equal-step update: λ' = ((M−2)λ³ + λ² + λ)/((M−1)λ³ + 1), the "
        "general λ'_n at λ_1 = λ_2 = λ_3 = λ.",
        method=f"sympy, symbolic M and λ, {IDENTITY_CHECK}: against the general formula with "
        "Λ₋ₙ = λ², Λ = λ³, and against the update derived from the posterior over paths for "
        "each step n = 1, 2, 3 of N = 3 after substituting λ_1 = λ_2 = λ_3 = λ.",
        failure=bad,
        checked="matches the general formula and the derived update for n = 1, 2, 3",
        n_values=None,
    )


def prove_authors_J(
    max_n: int = 5, formula: Callable[[sp.Expr, sp.Expr], sp.Expr] = authors_J
) -> ProofResult:
    """Prove the authors' J polynomial equals ``(1 + (M-1) lam^3)/M`` and ``diag(P(lam)^3)``.

    Also compares with the explicit ``m x m`` matrix cube for m = 2..5. ``formula(lam, M)`` is
    replaceable for tests; ``max_n`` is unused (N = 3 is fixed by the claim).
    """
    M = M_SYMBOL
    lam = sp.Symbol("lambda")
    pairs = [
        ("general J with Λ = λ³", J_formula(lam**3, M), formula(lam, M)),
        ("diagonal of P(λ)³ in span{I,J}", family_product([lam] * 3).diag, formula(lam, M)),
    ]
    for m in (2, 3, 4, 5):
        cube = explicit_family_matrix(lam, m) ** 3
        pairs.append((f"explicit {m}x{m} cube, entry (0,0)", cube[0, 0], formula(lam, m)))
    bad = first_nonzero(pairs)
    return ProofResult.conclude(
        key="authors_J",
        claim="Authors' J for N = 3 equal steps: α³ + 3(M−1)αβ² + (M−1)(M−2)β³ = "
        "(1 + (M−1)λ³)/M, α = 1/M + (M−1)λ/M (diagonal), β = (1−λ)/M (off-diagonal).",
        method=f"sympy, symbolic M and λ, {IDENTITY_CHECK}: against the general J with Λ = λ³ "
        "and against the diagonal of P(λ)³ in span{I, J}; cross-check with the (0,0) entry of "
        "the explicit m×m matrix cube, m = 2..5.",
        failure=bad,
        checked="equals (1+(M−1)λ³)/M, diag P(λ)³ and explicit cubes m = 2..5",
        n_values=None,
    )
