"""The minimal case N = M = 2 by brute force.

Explicit 2 x 2 matrices ``P_k = [[p_k, 1-p_k], [1-p_k, p_k]]`` with ``p_k = (1 + lam_k)/2``;
all paths ``(s_0, s_1, s_2)`` (2 starts x 2² continuations) are summed with symbolic λ's.
General formulas at M = N = 2: ``J = (1 + lam_1 lam_2)/2`` and
``lam'_1 = lam'_2 = (lam_1 + lam_2)/(1 + lam_1 lam_2)``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from rlstar_theory.proofs.family import J_formula
from rlstar_theory.proofs.result import IDENTITY_CHECK, ProofResult, is_identity
from rlstar_theory.proofs.update import UpdateFormula, star_update_formula

__all__ = ["prove_minimal"]


def prove_minimal(max_n: int = 5, formula: UpdateFormula = star_update_formula) -> ProofResult:
    """Prove the N = M = 2 case by brute-force path sums with explicit 2 x 2 matrices.

    Checks ``J``, that each refitted matrix is again symmetric of the form
    ``[[q, 1-q], [1-q, q]]``, and that its λ' = 2q - 1 equals ``formula`` (replaceable for
    tests). ``max_n`` is unused (N = 2 is fixed by the claim).
    """
    l1, l2 = sp.symbols("lambda_1 lambda_2")
    lams = (l1, l2)
    mats = [
        sp.Matrix([[(1 + lam) / 2, (1 - lam) / 2], [(1 - lam) / 2, (1 + lam) / 2]]) for lam in lams
    ]
    success = sp.Integer(0)
    nums = [sp.zeros(2, 2), sp.zeros(2, 2)]
    n_paths = 0
    for s0, s1, s2 in itertools.product(range(2), repeat=3):
        n_paths += 1
        pr = sp.Rational(1, 2) * mats[0][s0, s1] * mats[1][s1, s2]
        if s2 == s0:
            success += pr
            nums[0][s0, s1] += pr
            nums[1][s1, s2] += pr
    bad = None
    if not is_identity(success, J_formula(l1 * l2, 2)):
        bad = "J"
    for n in (1, 2):
        if bad:
            break
        num = nums[n - 1]
        refit = [[num[i, j] / (num[i, 0] + num[i, 1]) for j in range(2)] for i in range(2)]
        q = refit[0][0]
        if not (
            is_identity(refit[1][1], q)
            and is_identity(refit[0][1], 1 - q)
            and is_identity(refit[1][0], 1 - q)
        ):
            bad = f"refit of step {n} is not of the form [[q, 1−q], [1−q, q]]"
            break
        other = lams[2 - n]
        if not is_identity(2 * q - 1, formula(lams[n - 1], other, l1 * l2, sp.Integer(2))):
            bad = f"λ'_{n}"
    return ProofResult.conclude(
        key="minimal_N2_M2",
        claim="Minimal case N = M = 2: J = (1+λ_1λ_2)/2 and λ'_1 = λ'_2 = (λ_1+λ_2)/(1+λ_1λ_2), "
        "the general formulas at N = M = 2.",
        method=f"brute force: explicit 2×2 matrices with symbols λ_1, λ_2, sum over all {n_paths} "
        "paths (s_0, s_1, s_2) (2 starts × 2² continuations) of Pr(path)·[s_2 = s_0]; refit rows "
        f"= numerator/row sum; {IDENTITY_CHECK} against the general J and λ'_n.",
        failure=bad,
        checked="J, symmetric refit and λ'_1, λ'_2 match the general formulas",
        n_values=(2,),
    )
