"""Consequences of the STaR update: improvement, error contraction, robustness.

With ``Lam = prod_k lam_k``, ``Lam_{-n} = prod_{k != n} lam_k`` and ``p_n = 1/M + (M-1) lam_n/M``:

.. math::

    \\lambda'_n - \\lambda_n
      = \\frac{\\Lambda_{-n}(1-\\lambda_n)(1+(M-1)\\lambda_n)}{1+(M-1)\\Lambda},
    \\qquad
    1 - \\lambda'_n = \\frac{(1-\\lambda_n)(1-\\Lambda_{-n})}{1+(M-1)\\Lambda},

    \\Pr(\\text{all steps correct} \\mid \\text{success}) = \\frac{\\prod_n p_n}{J},
    \\qquad
    \\Pr(\\text{step } n \\text{ wrong} \\mid \\text{success}) = 1 - p'_n .

Every identity is checked on the update *derived* from the posterior over paths
(:mod:`rlstar_theory.proofs.update`), not on the closed-form update.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from rlstar_theory.proofs.algebra import (
    M_SYMBOL,
    explicit_family_matrix,
    family,
    family_product,
    lam_symbols,
    p_correct,
)
from rlstar_theory.proofs.family import J_formula
from rlstar_theory.proofs.paths import enumerate_paths
from rlstar_theory.proofs.result import IDENTITY_CHECK, ProofResult, is_identity
from rlstar_theory.proofs.update import (
    DerivedUpdate,
    derive_chain_update,
    general_update,
    p_update_formula,
)

__all__ = [
    "improvement_formula",
    "contraction_formula",
    "prove_improvement",
    "prove_error_contraction",
    "prove_robust_all_correct",
    "prove_robust_step_wrong",
]

#: ``(lam_n, Lam_minus_n, Lam, M) -> expr``
StepFormula = Callable[[sp.Expr, sp.Expr, sp.Expr, sp.Expr], sp.Expr]

#: (M, N) pairs for brute-force path sums with explicit matrices
EXPLICIT_CASES = ((2, 1), (2, 2), (2, 3), (3, 2), (3, 3))


def improvement_formula(
    lam_n: sp.Expr, others: sp.Expr, Lam: sp.Expr, M: sp.Expr = M_SYMBOL
) -> sp.Expr:
    """Claimed ``lam'_n - lam_n = Lam_{-n}(1-lam_n)(1+(M-1)lam_n)/(1+(M-1)Lam)``."""
    M = sp.sympify(M)
    return others * (1 - lam_n) * (1 + (M - 1) * lam_n) / (1 + (M - 1) * Lam)


def contraction_formula(
    lam_n: sp.Expr, others: sp.Expr, Lam: sp.Expr, M: sp.Expr = M_SYMBOL
) -> sp.Expr:
    """Claimed ``1 - lam'_n = (1-lam_n)(1-Lam_{-n})/(1+(M-1)Lam)``."""
    M = sp.sympify(M)
    return (1 - lam_n) * (1 - others) / (1 + (M - 1) * Lam)


def _derived_cases(max_n: int) -> list[tuple[str, DerivedUpdate]]:
    cases = [("general N", general_update())]
    for N in range(1, max_n + 1):
        cases += [(f"N = {N}, n = {n}", derive_chain_update(N, n)) for n in range(1, N + 1)]
    return cases


def _step_identity(
    key: str,
    claim: str,
    lhs_of: Callable[[DerivedUpdate], sp.Expr],
    formula: StepFormula,
    max_n: int,
) -> ProofResult:
    bad = None
    for label, d in _derived_cases(max_n):
        if not is_identity(lhs_of(d), formula(d.lam_n, d.others, d.Lam, M_SYMBOL)):
            bad = label
            break
    n_values = tuple(range(1, max_n + 1))
    return ProofResult.conclude(
        key=key,
        claim=claim,
        method="sympy, symbolic M, on the λ'_n derived from the posterior over paths (see "
        f"star_update), {IDENTITY_CHECK}. General N: λ_n, a, b symbols with F = P(a), "
        "B = P(b), Λ₋ₙ = ab, Λ = λ_n·ab (valid for every N by closure); also every step n of "
        f"N = 1..{max_n} with one symbol per step.",
        failure=bad,
        checked=f"general N and every n of N = 1..{max_n}",
        n_values=n_values,
    )


def prove_improvement(max_n: int = 5, formula: StepFormula = improvement_formula) -> ProofResult:
    """Prove ``lam'_n - lam_n = Lam_{-n}(1-lam_n)(1+(M-1)lam_n)/(1+(M-1)Lam)``."""
    return _step_identity(
        "improvement",
        "Improvement: λ'_n − λ_n = Λ₋ₙ(1−λ_n)(1+(M−1)λ_n)/(1+(M−1)Λ).",
        lambda d: d.refit.x - d.lam_n,
        formula,
        max_n,
    )


def prove_error_contraction(
    max_n: int = 5, formula: StepFormula = contraction_formula
) -> ProofResult:
    """Prove ``1 - lam'_n = (1-lam_n)(1-Lam_{-n})/(1+(M-1)Lam)``."""
    return _step_identity(
        "error_contraction",
        "Error contraction: 1 − λ'_n = (1−λ_n)(1−Λ₋ₙ)/(1+(M−1)Λ) (quadratic near λ = 1).",
        lambda d: 1 - d.refit.x,
        formula,
        max_n,
    )


def _explicit_matrices(m: int, N: int):
    lams = lam_symbols(N)
    return lams, enumerate_paths([explicit_family_matrix(lam, m) for lam in lams], m)


def prove_robust_all_correct(max_n: int = 5) -> ProofResult:
    """Prove ``Pr(all steps correct | success) = prod_n p_n / J``.

    A path with every step correct stays at ``s_0`` and so succeeds; its probability is
    ``prod_n P_n[s0, s0] = prod_n p_n``. In span{I, J} (symbolic M) the all-correct
    probability is the product of the diagonals and ``Pr(success)`` the diagonal of the
    product; checked for N = 1..max_n, and by brute-force path sums with explicit matrices.
    """
    M = M_SYMBOL
    bad = None
    n_values = tuple(range(1, max_n + 1))
    for N in n_values:
        lams = lam_symbols(N)
        all_correct = sp.Mul(*(family(lam).diag for lam in lams))
        success = family_product(lams).diag
        target = sp.Mul(*(p_correct(lam) for lam in lams)) / J_formula(sp.Mul(*lams), M)
        if not is_identity(all_correct / success, target):
            bad = f"N = {N}"
            break
    for m, N in EXPLICIT_CASES:
        if bad:
            break
        lams, sums = _explicit_matrices(m, N)
        target = sp.Mul(*(p_correct(lam, m) for lam in lams)) / J_formula(sp.Mul(*lams), m)
        if not is_identity(sums.all_correct_and_success / sums.success, target):
            bad = f"explicit path sums M = {m}, N = {N}"
    cases = ", ".join(f"M={m} N={N}" for m, N in EXPLICIT_CASES)
    return ProofResult.conclude(
        key="robust_all_correct",
        claim="Robustness: Pr(all steps correct | success) = ∏_n p_n / J.",
        method="sympy, symbolic M, span{I, J}: an all-correct path never leaves s_0, so it "
        "succeeds and Pr(all correct, success) = Σ_{s0} D(s0)∏_n P_n[s0,s0] = ∏ diag(P(λ_n)); "
        f"Pr(success) = diag(∏P(λ_n)); {IDENTITY_CHECK} against ∏p_n/J for N = 1..{max_n} "
        f"(one symbol per step). Cross-check: brute-force sums over all paths, explicit "
        f"matrices ({cases}).",
        failure=bad,
        checked=f"N = 1..{max_n} symbolic M; explicit path sums {cases}",
        n_values=n_values,
    )


def prove_robust_step_wrong(max_n: int = 5) -> ProofResult:
    """Prove ``Pr(step n wrong | success) = 1 - p'_n``.

    ``Pr(S_n != S_{n-1}, success)`` is the sum of the off-diagonal numerator entries,
    ``M (M-1) off``, and ``Pr(success) = M * row_denominator``; the ratio is compared with
    ``1 - p'_n`` for the derived update (general N and N = 1..max_n) and with brute-force path
    sums for explicit matrices.
    """
    M = M_SYMBOL
    bad = None
    for label, d in _derived_cases(max_n):
        wrong = M * (M - 1) * d.numerator.off
        success = M * d.row_denominator
        if not is_identity(wrong / success, 1 - p_update_formula(d.lam_n, d.others, d.Lam, M)):
            bad = label
            break
    for m, N in EXPLICIT_CASES:
        if bad:
            break
        lams, sums = _explicit_matrices(m, N)
        Lam = sp.Mul(*lams)
        for n in range(1, N + 1):
            others = sp.Mul(*(lams[: n - 1] + lams[n:]))
            target = 1 - p_update_formula(lams[n - 1], others, Lam, m)
            if not is_identity(sums.wrong_step_given_success(n), target):
                bad = f"explicit path sums M = {m}, N = {N}, n = {n}"
                break
    n_values = tuple(range(1, max_n + 1))
    cases = ", ".join(f"M={m} N={N}" for m, N in EXPLICIT_CASES)
    return ProofResult.conclude(
        key="robust_step_wrong",
        claim="Robustness: Pr(step n wrong | success) = 1 − p'_n, with p'_n the refitted "
        "diagonal p_n(1+(M−1)Λ₋ₙ)/(1+(M−1)Λ).",
        method="sympy, symbolic M, on the numerator Pr(S_{n−1}=s, S_n=s', success) derived in "
        "star_update: Pr(step n wrong, success) = M(M−1)·(off-diagonal entry), Pr(success) = "
        f"M·(row sum); {IDENTITY_CHECK}. General N with F = P(a), B = P(b); every n of "
        f"N = 1..{max_n}; brute-force path sums with explicit matrices ({cases}).",
        failure=bad,
        checked=f"general N, every n of N = 1..{max_n}, explicit path sums {cases}",
        n_values=n_values,
    )
