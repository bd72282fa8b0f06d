"""The one-step STaR update, derived from the posterior over paths (not assumed).

With identity ground truth, uniform start ``D = 1/M`` and steps ``P_k = P(lam_k)``, the exact
STaR refit of step n is (SPEC §2)

.. math::

    P'_n[s, s'] = \\frac{\\Pr(S_{n-1}=s, S_n=s', \\text{succ})}{\\Pr(S_{n-1}=s, \\text{succ})},
    \\qquad
    \\Pr(S_{n-1}=s, S_n=s', \\text{succ})
      = \\sum_{s_0} D(s_0) F[s_0, s] P_n[s, s'] B[s', s_0]
      = \\tfrac1M P_n[s, s'] (BF)[s', s],

with ``F = P_1 ... P_{n-1}`` and ``B = P_{n+1} ... P_N``. In span{I, J} the numerator is the
entry-wise product ``(1/M) P_n ∘ (BF)^T``. The proofs show the refit row is ``P(lam'_n)`` with

.. math::

    \\lambda'_n = \\frac{\\lambda_n + \\Lambda_{-n} + (M-2)\\Lambda}{1 + (M-1)\\Lambda},
    \\qquad
    p'_n = p_n \\frac{1 + (M-1)\\Lambda_{-n}}{1 + (M-1)\\Lambda}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy as sp

from rlstar_theory.proofs.algebra import (
    M_SYMBOL,
    SpanIJ,
    explicit_family_matrix,
    family,
    family_product,
    lam_symbols,
    p_correct,
)
from rlstar_theory.proofs.paths import enumerate_paths
from rlstar_theory.proofs.result import IDENTITY_CHECK, ProofResult, first_nonzero, is_identity

__all__ = [
    "DerivedUpdate",
    "derive_update",
    "derive_chain_update",
    "general_update",
    "star_update_formula",
    "p_update_formula",
    "prove_star_update",
    "UpdateFormula",
]

#: ``(lam_n, Lam_minus_n, Lam, M) -> lam'_n``
UpdateFormula = Callable[[sp.Expr, sp.Expr, sp.Expr, sp.Expr], sp.Expr]


def star_update_formula(
    lam_n: sp.Expr, others: sp.Expr, Lam: sp.Expr, M: sp.Expr = M_SYMBOL
) -> sp.Expr:
    """Claimed update ``lam'_n = (lam_n + Lam_{-n} + (M-2) Lam) / (1 + (M-1) Lam)``."""
    M = sp.sympify(M)
    return (lam_n + others + (M - 2) * Lam) / (1 + (M - 1) * Lam)


def p_update_formula(
    lam_n: sp.Expr, others: sp.Expr, Lam: sp.Expr, M: sp.Expr = M_SYMBOL
) -> sp.Expr:
    """Claimed refitted diagonal ``p'_n = p_n (1 + (M-1) Lam_{-n}) / (1 + (M-1) Lam)``."""
    M = sp.sympify(M)
    return p_correct(lam_n, M) * (1 + (M - 1) * others) / (1 + (M - 1) * Lam)


@dataclass(frozen=True)
class DerivedUpdate:
    """The refit of one step computed from the posterior over paths, in span{I, J}.

    Attributes
    ----------
    numerator : SpanIJ
        ``Pr(S_{n-1}=s, S_n=s', success)`` as a matrix over ``(s, s')``.
    row_denominator : sympy.Expr
        ``Pr(S_{n-1}=s, success)`` as the row sum of ``numerator`` (the same for every s).
    direct_denominator : sympy.Expr
        The same probability computed independently, ``(1/M) (P_n B F)[s, s]``.
    refit : SpanIJ
        ``numerator / row_denominator``: the refitted step matrix.
    lam_n, others, Lam : sympy.Expr
        ``lam_n``, ``Lam_{-n}`` (product of the other steps' λ) and ``Lam``.
    """

    numerator: SpanIJ
    row_denominator: sp.Expr
    direct_denominator: sp.Expr
    refit: SpanIJ
    lam_n: sp.Expr
    others: sp.Expr
    Lam: sp.Expr


def derive_update(
    lam_n: sp.Expr, before: SpanIJ, after: SpanIJ, others: sp.Expr, M: sp.Expr = M_SYMBOL
) -> DerivedUpdate:
    """Refit step n from ``F = before`` (steps < n) and ``B = after`` (steps > n).

    ``numerator = (1/M) P(lam_n) ∘ (B F)^T`` (entry-wise product), rows divided by their sum.
    ``others`` is only recorded (it is the λ of ``BF``), not used in the computation.
    """
    M = sp.sympify(M)
    Pn = family(lam_n, M)
    BF = (after * before).normalized()
    numerator = Pn.hadamard(BF.T).scale(1 / M).normalized()
    row_den = sp.cancel(numerator.row_sum)
    direct_den = sp.cancel((Pn * BF).diag / M)
    refit = numerator.scale(1 / row_den)
    return DerivedUpdate(numerator, row_den, direct_den, refit, lam_n, others, lam_n * others)


@cache
def derive_chain_update(N: int, n: int) -> DerivedUpdate:
    """:func:`derive_update` for step ``n`` of a chain of N steps with symbols λ_1..λ_N."""
    lams = lam_symbols(N)
    F = family_product(lams[: n - 1])
    B = family_product(lams[n:])
    others = sp.Mul(*(lams[: n - 1] + lams[n:]))
    return derive_update(lams[n - 1], F, B, others)


def general_update() -> DerivedUpdate:
    """General-N derivation: ``F = P(a)``, ``B = P(b)`` with a, b symbols, so ``Λ₋ₙ = a b``.

    By closure, for any N and n the steps before n multiply to ``P(a)`` with
    ``a = prod_{k<n} lam_k`` and the steps after to ``P(b)`` with ``b = prod_{k>n} lam_k``
    (``a = 1`` or ``b = 1`` for an empty product).
    """
    a, b, lam = sp.symbols("a b lambda_n")
    return derive_update(lam, family(a), family(b), a * b)


def _check(d: DerivedUpdate, formula: UpdateFormula) -> str | None:
    M = M_SYMBOL
    return first_nonzero(
        [
            (
                "row sum of numerator vs (1/M)(P_n B F)[s,s]",
                d.row_denominator,
                d.direct_denominator,
            ),
            ("refit row sums to 1 (refit is P(x) for its I-coefficient x)", d.refit.row_sum, 1),
            ("λ'_n", d.refit.x, formula(d.lam_n, d.others, d.Lam, M)),
            ("p'_n", d.refit.diag, p_update_formula(d.lam_n, d.others, d.Lam, M)),
        ]
    )


def _explicit_check(N: int, m: int, formula: UpdateFormula) -> str | None:
    lams = lam_symbols(N)
    sums = enumerate_paths([explicit_family_matrix(lam, m) for lam in lams], m)
    Lam = sp.Mul(*lams)
    for n in range(1, N + 1):
        refit = sums.refit(n)
        others = sp.Mul(*(lams[: n - 1] + lams[n:]))
        target = explicit_family_matrix(formula(lams[n - 1], others, Lam, sp.Integer(m)), m)
        for i in range(m):
            for j in range(m):
                if not is_identity(refit[i, j], target[i, j]):
                    return f"explicit path sum M = {m}, N = {N}, n = {n}, entry ({i},{j})"
    return None


def prove_star_update(max_n: int = 5, formula: UpdateFormula = star_update_formula) -> ProofResult:
    """Prove the STaR update keeps the family and maps λ_n to ``formula(λ_n, Λ₋ₙ, Λ, M)``.

    Parameters
    ----------
    max_n : int
        Largest N checked with separate symbols (every step n = 1..N).
    formula : callable ``(lam_n, Lam_minus_n, Lam, M) -> lam'_n``
        The claimed update (replaceable so tests can show a wrong formula fails).
    """
    bad = _check(general_update(), formula)
    bad = f"general N: {bad}" if bad else None
    n_values = tuple(range(1, max_n + 1))
    for N in n_values:
        if bad:
            break
        for n in range(1, N + 1):
            label = _check(derive_chain_update(N, n), formula)
            if label:
                bad = f"N = {N}, n = {n}: {label}"
                break
    for N, m in ((3, 3), (2, 4)):
        if bad:
            break
        bad = _explicit_check(N, m, formula)
    checked = (
        "general N (symbols M, λ_n, a, b); every n of N = "
        f"1..{max_n} (separate symbols); explicit path sums M = 3 N = 3, M = 4 N = 2: "
        "numerator row sums = direct denominator, refit rows sum to 1 and lie in the family, "
        "λ'_n and p'_n match"
    )
    return ProofResult.conclude(
        key="star_update",
        claim="One exact STaR step keeps the family: refit of step n is P(λ'_n) with "
        "λ'_n = (λ_n + Λ₋ₙ + (M−2)Λ)/(1+(M−1)Λ), i.e. p'_n = p_n(1+(M−1)Λ₋ₙ)/(1+(M−1)Λ) "
        "(identity truth, uniform start; where 1+(M−1)Λ ≠ 0).",
        method="derived from the posterior over paths: numerator Pr(S_{n−1}=s, S_n=s', success) "
        "= Σ_{s0} D(s0)F[s0,s]P_n[s,s']B[s',s0] = (1/M)·P_n[s,s']·(BF)[s',s], computed as the "
        "entry-wise product (1/M)·P_n∘(BF)ᵀ in span{I, J} with symbolic M; row denominator = "
        "its row sum, cross-checked against (1/M)(P_n B F)[s,s]; refit = numerator/denominator; "
        f"{IDENTITY_CHECK} for: refit row sum = 1 (so the refit, being in span{{I, J}}, is "
        "P(its I-coefficient)), I-coefficient = λ'_n, diagonal = p'_n. "
        "General N: F = P(a), B = P(b) with a, b symbols (valid for every N and n by closure; "
        "F·B only enters through Λ₋ₙ = ab, Λ = λ_n·ab). Also for every step n of N = "
        f"1..{max_n} with one symbol per step, and against a brute-force sum over all paths "
        "with explicit matrices (M = 3, N = 3; M = 4, N = 2).",
        failure=bad,
        checked=checked,
        n_values=n_values,
    )
