"""Sign facts behind the convergence criteria, from the derived update.

* All λ's in (0, 1] and λ_n < 1 ⇒ ``lam'_n - lam_n > 0`` (and ``lam'_n <= 1``).
* Two or more λ's equal to 0 ⇒ ``lam'_k = lam_k`` for every k (a fixed point, J = 1/M).
* Exactly one ``lam_n = 0``, the others in (0, 1] ⇒ the others do not move at t = 0, and
  ``lam'_n = Lam_{-n} > 0``.

Positivity is certified without sampling: the interval constraints are written as
substitutions by positive / non-negative parameters (``lam = 1/(1+u)``, u > 0, is every
λ in (0, 1); ``1/(1+v)``, v >= 0, every value in (0, 1]; ``M = 2 + m``, m >= 0), the
expression is brought to one fraction, and numerator and denominator are shown to be
polynomials with only non-negative coefficients that do not vanish when the non-negative
parameters are 0 (:func:`rlstar_theory.proofs.result.positive_certificate`).
"""

from __future__ import annotations

import itertools

import sympy as sp

from rlstar_theory.proofs.algebra import M_SYMBOL, lam_symbols
from rlstar_theory.proofs.family import J_formula
from rlstar_theory.proofs.result import (
    IDENTITY_CHECK,
    ProofResult,
    is_identity,
    positive_certificate,
)
from rlstar_theory.proofs.update import derive_chain_update, general_update

__all__ = ["prove_sign_improvement", "prove_sign_freeze", "prove_sign_one_zero"]

_u = sp.Symbol("u", positive=True)
_v, _w, _m = sp.symbols("v w m", nonnegative=True)

#: the substitutions encoding λ_n ∈ (0, 1), a, b ∈ (0, 1], M >= 2
POSITIVITY_SUBSTITUTION = (
    "λ_n = 1/(1+u) (u > 0), a = 1/(1+v), b = 1/(1+w) (v, w ≥ 0), M = 2 + m (m ≥ 0)"
)

POSITIVITY_METHOD = (
    "positivity certificate: after the substitution the expression is one fraction whose "
    "numerator and denominator are polynomials in (u, v, w, m) with only non-negative "
    "coefficients and a non-zero part at v = w = m = 0, hence > 0"
)


def prove_sign_improvement(max_n: int = 5) -> ProofResult:
    """Prove ``lam'_n - lam_n > 0`` and ``1 - lam'_n >= 0`` for λ's in (0, 1], λ_n < 1, M >= 2.

    Uses the general-N derived update (F = P(a), B = P(b), ``Lam_{-n} = a b`` with
    ``a, b`` in (0, 1] as products of λ's in (0, 1]). ``max_n`` is unused.
    """
    d = general_update()
    a, b = sorted(d.others.free_symbols, key=str)
    subs = {d.lam_n: 1 / (1 + _u), a: 1 / (1 + _v), b: 1 / (1 + _w), M_SYMBOL: 2 + _m}
    gain = (d.refit.x - d.lam_n).subs(subs)
    ok_gain = positive_certificate(gain, [_u], [_v, _w, _m])
    # 1 - λ' = (1-λ_n)(1-ab)/(1+(M-1)Λ) >= 0: the factor 1 - ab = 0 when a = b = 1, so
    # certify (1 - λ')/(1 - ab) > 0 where ab < 1, and 1 - λ' = 0 exactly when ab = 1
    rest = sp.cancel((1 - d.refit.x) / (1 - a * b)).subs(subs)
    ok_rest = positive_certificate(rest, [_u], [_v, _w, _m])
    ok_top = is_identity((1 - d.refit.x).subs({a: 1, b: 1}), 0)
    ok = ok_gain and ok_rest and ok_top
    return ProofResult.conclude(
        key="sign_improvement",
        claim="For λ's in (0, 1] and M ≥ 2: λ_n < 1 ⇒ λ'_n − λ_n > 0 (strict improvement), "
        "and λ'_n ≤ 1 (= 1 iff Λ₋ₙ = 1).",
        method="general N, on the update derived from the posterior over paths with F = P(a), "
        "B = P(b) (a = ∏_{k<n}λ_k, b = ∏_{k>n}λ_k ∈ (0, 1]); substitution "
        f"{POSITIVITY_SUBSTITUTION}; {POSITIVITY_METHOD}. Applied to λ'_n − λ_n (each factor "
        "of the improvement identity is positive) and to (1 − λ'_n)/(1 − ab); 1 − λ'_n = 0 at "
        "a = b = 1 checked exactly.",
        failure=None if ok else f"gain {ok_gain}, bound {ok_rest}, top {ok_top}",
        checked="certificates found for λ'_n − λ_n > 0 and (1−λ'_n)/(1−Λ₋ₙ) > 0",
        n_values=None,
    )


def prove_sign_freeze(max_n: int = 5) -> ProofResult:
    """Prove: two or more λ's at 0 ⇒ every ``lam'_k = lam_k`` and ``J = 1/M``.

    General N: for any step n, at least one zero lies among the other steps, i.e. in
    ``a = prod_{k<n} lam_k`` or ``b = prod_{k>n} lam_k``; setting ``a = 0`` (or ``b = 0``) in
    the derived update gives ``lam'_n = lam_n``. Also every pair of zeros and every step of
    N = 2..max_n with separate symbols.
    """
    M = M_SYMBOL
    d = general_update()
    a, b = sorted(d.others.free_symbols, key=str)
    bad = None
    for z in (a, b):
        if not is_identity(d.refit.x.subs(z, 0), d.lam_n):
            bad = f"general N with {z} = 0"
    n_values = tuple(range(2, max_n + 1))
    for N in n_values:
        if bad:
            break
        for j, k in itertools.combinations(range(N), 2):
            lams = lam_symbols(N)
            for n in range(1, N + 1):
                dn = derive_chain_update(N, n)
                zero = {lams[j]: 0, lams[k]: 0}
                if not is_identity(dn.refit.x.subs(zero), dn.lam_n.subs(zero)):
                    bad = f"N = {N}, zeros at {j + 1}, {k + 1}, step {n}"
                    break
    if not bad and not is_identity(J_formula(sp.Integer(0), M), 1 / M):
        bad = "J at Λ = 0"
    return ProofResult.conclude(
        key="sign_freeze",
        claim="Two or more λ's equal to 0 ⇒ λ'_k = λ_k for every k: a fixed point, J stays 1/M.",
        method="general N: for every step n some other step has λ = 0, so a = 0 or b = 0 in the "
        "update derived with F = P(a), B = P(b); substitute and check λ'_n = λ_n "
        f"({IDENTITY_CHECK}) for a = 0 and for b = 0. Also every pair of zero steps and every "
        f"step of N = 2..{max_n} (one symbol per step); J = (1+(M−1)·0)/M = 1/M.",
        failure=bad,
        checked=f"general N (a = 0, b = 0) and all pairs/steps of N = 2..{max_n}",
        n_values=n_values,
    )


def prove_sign_one_zero(max_n: int = 5) -> ProofResult:
    """Prove: exactly one ``lam_n = 0`` ⇒ others unchanged at t = 0, ``lam'_n = Lam_{-n} > 0``.

    General N: step n with ``lam_n = 0`` gives ``lam'_n = a b`` (certified > 0 for a, b in
    (0, 1]); any other step has the zero in its a or b, so it does not move (as in
    :func:`prove_sign_freeze`). Also every n of N = 1..max_n with separate symbols.
    """
    d = general_update()
    a, b = sorted(d.others.free_symbols, key=str)
    bad = None
    moved = d.refit.x.subs(d.lam_n, 0)
    if not is_identity(moved, a * b):
        bad = "general N: λ'_n != Λ₋ₙ at λ_n = 0"
    elif not positive_certificate(moved.subs({a: 1 / (1 + _v), b: 1 / (1 + _w)}), [], [_v, _w]):
        bad = "general N: no positivity certificate for Λ₋ₙ"
    for z in (a, b):
        if not bad and not is_identity(d.refit.x.subs(z, 0), d.lam_n):
            bad = f"general N: a step with the zero in {z} moved"
    n_values = tuple(range(1, max_n + 1))
    for N in n_values:
        if bad:
            break
        for zero_at in range(1, N + 1):
            for n in range(1, N + 1):
                dn = derive_chain_update(N, n)
                lams = lam_symbols(N)
                zero = {lams[zero_at - 1]: 0}
                got = dn.refit.x.subs(zero)
                want = dn.others if n == zero_at else dn.lam_n
                if not is_identity(got, want):
                    bad = f"N = {N}, zero at {zero_at}, step {n}"
                    break
            if bad:
                break
    return ProofResult.conclude(
        key="sign_one_zero",
        claim="Exactly one λ_n = 0 (others in (0, 1]) ⇒ at t = 0 the other steps do not move "
        "and λ'_n = Λ₋ₙ > 0; from t = 1 all λ's are > 0.",
        method="general N, on the update derived with F = P(a), B = P(b): substitute λ_n = 0 "
        f"and check λ'_n = ab = Λ₋ₙ ({IDENTITY_CHECK}); ab > 0 by a positivity certificate "
        "(a = 1/(1+v), b = 1/(1+w), v, w ≥ 0); for any other step the zero lies in its a or "
        "b: substitute a = 0 / b = 0 and check λ' = λ. Also every zero position and every "
        f"step of N = 1..{max_n} (one symbol per step).",
        failure=bad,
        checked=f"general N and every zero position/step of N = 1..{max_n}",
        n_values=n_values,
    )
