"""Closure of the symmetric family under products, and the expected return J.

Facts proved here (``P(lam) = lam I + (1 - lam)/M 11^T``, ``Lam = prod_k lam_k``):

* ``P(a) P(b) = P(a b)`` for symbolic M, a, b;
* ``P(lam_1) ... P(lam_N) = P(Lam)`` for every N, by induction on N;
* ``J = (1 + (M - 1) Lam) / M``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from rlstar_theory.proofs.algebra import (
    M_SYMBOL,
    SpanIJ,
    explicit_family_matrix,
    family,
    family_product,
    lam_symbols,
)
from rlstar_theory.proofs.result import IDENTITY_CHECK, ProofResult, first_nonzero, is_identity

__all__ = ["prove_closure_pair", "prove_closure_product", "prove_expected_return", "J_formula"]

#: explicit matrix sizes used for the cross-checks with concrete M
EXPLICIT_M = (2, 3, 4)


def J_formula(Lam: sp.Expr, M: sp.Expr = M_SYMBOL) -> sp.Expr:
    """Claimed expected return ``J = (1 + (M-1) Lam) / M``."""
    M = sp.sympify(M)
    return (1 + (M - 1) * Lam) / M


def prove_closure_pair(max_n: int = 5) -> ProofResult:
    """Prove ``P(a) P(b) = P(a b)`` with M, a, b symbols.

    Also checks the span{I, J} product rule against explicit ``m x m`` matrices
    ``(x1 I + y1 J)(x2 I + y2 J)`` with symbolic x's, y's for m = 2, 3, 4, and ``P(a)P(b)``
    against explicit matrices for the same m. ``max_n`` is unused (the claim has no N).
    """
    M = M_SYMBOL
    a, b = sp.symbols("a b")
    ab = family(a) * family(b)
    target = family(a * b)
    bad = first_nonzero([("I-coefficient", ab.x, target.x), ("J-coefficient", ab.y, target.y)])
    checks = ["symbolic M: I- and J-coefficients of P(a)P(b) and P(ab) agree"]
    # the product rule of the algebra versus explicit matrices
    x1, y1, x2, y2 = sp.symbols("x1 y1 x2 y2")
    for m in EXPLICIT_M:
        if bad:
            break
        A, B = SpanIJ(x1, y1, M), SpanIJ(x2, y2, M)
        lhs = A.matrix(m) * B.matrix(m)
        if (lhs - (A * B).matrix(m)).applyfunc(sp.expand) != sp.zeros(m, m):
            bad = f"span{{I,J}} product rule vs explicit {m}x{m} matrices"
            break
        lhs = explicit_family_matrix(a, m) * explicit_family_matrix(b, m)
        if (lhs - explicit_family_matrix(a * b, m)).applyfunc(sp.cancel) != sp.zeros(m, m):
            bad = f"explicit {m}x{m} P(a)P(b) != P(ab)"
    if not bad:
        checks.append(
            f"product rule and P(a)P(b) = P(ab) also hold entry-wise for explicit m x m "
            f"matrices, m = {', '.join(map(str, EXPLICIT_M))}"
        )
    return ProofResult.conclude(
        key="closure_pair",
        claim="The family is closed under products: P(a) P(b) = P(ab), where "
        "P(λ) = λI + (1−λ)/M·11ᵀ.",
        method="sympy, symbolic M, a, b: matrices represented in the commutative algebra "
        "span{I, J} (J = 11ᵀ, IJ = JI = J, J² = M·J) as pairs (x, y) = xI + yJ with "
        "(x1,y1)(x2,y2) = (x1x2, x1y2 + y1x2 + M·y1y2); "
        f"{IDENTITY_CHECK} on the I- and J-coefficients of P(a)P(b) and P(ab). "
        "Cross-check: the product rule and P(a)P(b) = P(ab) with explicit m×m sympy matrices, "
        f"m = {', '.join(map(str, EXPLICIT_M))}.",
        failure=bad,
        checked="; ".join(checks),
        n_values=None,
    )


def prove_closure_product(max_n: int = 5) -> ProofResult:
    """Prove ``P(lam_1) ... P(lam_N) = P(lam_1 ... lam_N)`` for every N by induction.

    Base N = 1: the product of one factor is ``P(lam_1)``. Step: with the induction hypothesis
    ``P(lam_1)...P(lam_N) = P(L)`` (L a symbol), ``P(L) P(lam_{N+1}) = P(L lam_{N+1})`` with
    symbolic M, L, lam_{N+1}. Also checks N = 1..max_n directly (one symbol per step) and
    N = 2, 3 with explicit m x m matrices (m = 2, 3, 4).
    """
    L, lam_next = sp.symbols("L lambda_next")
    checks: list[str] = []
    bad: str | None = None
    # base case
    lam1 = sp.Symbol("lambda_1")
    base = family_product([lam1])
    if first_nonzero([("base x", base.x, family(lam1).x), ("base y", base.y, family(lam1).y)]):
        bad = "base case N = 1"
    # inductive step (left and right multiplication: the algebra is commutative anyway)
    if not bad:
        step_r = family(L) * family(lam_next)
        step_l = family(lam_next) * family(L)
        tgt = family(L * lam_next)
        bad = first_nonzero(
            [
                ("inductive step x", step_r.x, tgt.x),
                ("inductive step y", step_r.y, tgt.y),
                ("inductive step (left) x", step_l.x, tgt.x),
                ("inductive step (left) y", step_l.y, tgt.y),
            ]
        )
    if not bad:
        checks.append(
            "base case N=1 and inductive step P(L)P(λ_{N+1}) = P(L·λ_{N+1}) hold "
            "symbolically (M, L, λ_{N+1} symbols)"
        )
    n_values = tuple(range(1, max_n + 1))
    for N in n_values:
        if bad:
            break
        lams = lam_symbols(N)
        prod = family_product(lams)
        tgt = family(sp.Mul(*lams))
        if first_nonzero([("x", prod.x, tgt.x), ("y", prod.y, tgt.y)]):
            bad = f"direct product for N = {N}"
    if not bad:
        checks.append(f"direct products with separate symbols λ_1..λ_N, N = 1..{max_n}")
    for N, m in itertools.product((2, 3), EXPLICIT_M):
        if bad:
            break
        lams = lam_symbols(N)
        prod = sp.eye(m)
        for lam in lams:
            prod = prod * explicit_family_matrix(lam, m)
        diff = (prod - explicit_family_matrix(sp.Mul(*lams), m)).applyfunc(sp.cancel)
        if diff != sp.zeros(m, m):
            bad = f"explicit {m}x{m} matrices, N = {N}"
    if not bad:
        checks.append("explicit m×m matrices, N = 2, 3, m = 2, 3, 4")
    return ProofResult.conclude(
        key="closure_product",
        claim="For every N: P(λ_1)P(λ_2)…P(λ_N) = P(Λ), Λ = ∏_k λ_k.",
        method="induction on N, each case proved with sympy in span{I, J} with symbolic M: "
        "base N=1 trivial; step: hypothesis ∏_{k≤N}P(λ_k) = P(L) with L a symbol, then "
        f"P(L)P(λ_{{N+1}}) = P(L·λ_{{N+1}}) (both orders) by {IDENTITY_CHECK}. Also direct "
        f"symbolic products for N = 1..{max_n} (one symbol per step) and explicit m×m matrices.",
        failure=bad,
        checked="; ".join(checks),
        n_values=n_values,
    )


def prove_expected_return(max_n: int = 5, formula=J_formula) -> ProofResult:
    """Prove ``J = (1 + (M-1) Lam)/M`` (identity ground truth, uniform start).

    ``J = (1/M) sum_{s0} Pr(S_N = s0 | s0) = (1/M) trace(prod_n P(lam_n))``; by closure the
    product is ``P(Lam)``, whose diagonal is ``Lam + (1 - Lam)/M``. Checked for general N with
    Lam a symbol, for N = 1..max_n with separate symbols, and by summing over all paths with
    explicit matrices (m = 2, 3; N = 1, 2, 3).

    Parameters
    ----------
    max_n : int
        Largest N checked with separate symbols.
    formula : callable ``(Lam, M) -> expr``
        The claimed J (replaceable so tests can show a wrong formula fails).
    """
    M = M_SYMBOL
    Lam = sp.Symbol("Lambda")
    bad: str | None = None
    checks: list[str] = []
    # general N via closure: the product is P(Lam); J = (1/M) * M * diagonal
    PL = family(Lam)
    J_general = (M * PL.diag) / M  # trace / M: M equal diagonal entries
    if not is_identity(J_general, formula(Lam, M)):
        bad = "general N: diagonal of P(Λ)"
    else:
        checks.append("general N: J = trace(P(Λ))/M = diag(P(Λ)) with Λ symbolic")
    n_values = tuple(range(1, max_n + 1))
    for N in n_values:
        if bad:
            break
        lams = lam_symbols(N)
        if not is_identity(family_product(lams).diag, formula(sp.Mul(*lams), M)):
            bad = f"N = {N} with separate symbols"
    if not bad:
        checks.append(f"N = 1..{max_n}: diagonal of the span{{I,J}} product, separate symbols")
    for m, N in itertools.product((2, 3), (1, 2, 3)):
        if bad:
            break
        lams = lam_symbols(N)
        mats = [explicit_family_matrix(lam, m) for lam in lams]
        total = sp.Integer(0)
        for path in itertools.product(range(m), repeat=N + 1):
            if path[-1] != path[0]:
                continue  # reward 1 only when the answer equals the truth s_N* = s_0
            pr = sp.Rational(1, m)
            for k in range(N):
                pr *= mats[k][path[k], path[k + 1]]
            total += pr
        if not is_identity(total, formula(sp.Mul(*lams), sp.Integer(m))):
            bad = f"path sum, M = {m}, N = {N}"
    if not bad:
        checks.append("sum over all paths with explicit matrices, M = 2, 3 and N = 1, 2, 3")
    return ProofResult.conclude(
        key="expected_return",
        claim="J = Pr(S_N = s*_N) = (1 + (M−1)Λ)/M (identity truth, uniform start; the same "
        "for any start distribution since all diagonal entries of P(Λ) are equal).",
        method="general N: by closure (closure_product) the N-step product is P(Λ); with Λ and M "
        "symbols, trace(P(Λ))/M = (1+(M−1)Λ)/M in span{I, J} by "
        f"{IDENTITY_CHECK}. Also for "
        f"N = 1..{max_n} with separate symbols λ_1..λ_N, and by brute-force summation over all "
        "paths with explicit M×M matrices for M = 2, 3, N = 1, 2, 3.",
        failure=bad,
        checked="; ".join(checks),
        n_values=n_values,
    )
