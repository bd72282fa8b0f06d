"""The checks are not vacuous: wrong formulas and wrong algebra are reported as "failed"."""

from __future__ import annotations

import pytest
import sympy as sp

from rlstar_theory.proofs import algebra, registry
from rlstar_theory.proofs.algebra import SpanIJ
from rlstar_theory.proofs.authors import prove_authors_J, prove_authors_update
from rlstar_theory.proofs.family import prove_closure_pair, prove_expected_return
from rlstar_theory.proofs.identities import prove_error_contraction, prove_improvement
from rlstar_theory.proofs.minimal import prove_minimal
from rlstar_theory.proofs.result import is_identity, positive_certificate
from rlstar_theory.proofs.update import prove_star_update


def _wrong_update_no_M_minus_2(lam_n, others, Lam, M):
    return (lam_n + others) / (1 + (M - 1) * Lam)


def _wrong_update_M_minus_1(lam_n, others, Lam, M):
    return (lam_n + others + (M - 1) * Lam) / (1 + (M - 1) * Lam)


def _wrong_contraction(lam_n, others, Lam, M):
    return (1 - lam_n) * (1 - Lam) / (1 + (M - 1) * Lam)  # Λ instead of Λ₋ₙ


def _authors_wrong_update(lam, M):
    return ((M - 1) * lam**3 + lam**2 + lam) / ((M - 1) * lam**3 + 1)


def _authors_wrong_J(lam, M):
    a, b = 1 / M + (M - 1) * lam / M, (1 - lam) / M
    return a**3 + 3 * (M - 1) * a * b**2 + (M - 1) ** 2 * b**3


@pytest.mark.parametrize(
    "proof, wrong",
    [
        (prove_star_update, _wrong_update_no_M_minus_2),
        (prove_star_update, _wrong_update_M_minus_1),
        (prove_expected_return, lambda Lam, M: (1 + M * Lam) / M),
        (prove_improvement, lambda lam, c, Lam, M: c * (1 - lam) / (1 + (M - 1) * Lam)),
        (prove_error_contraction, _wrong_contraction),
        (prove_authors_update, _authors_wrong_update),
        (prove_authors_J, _authors_wrong_J),
        (prove_minimal, lambda lam, c, Lam, M: (lam + c + Lam) / (1 + Lam)),
    ],
)
def test_wrong_formula_is_reported_failed(proof, wrong):
    result = proof(3, formula=wrong)
    assert result.status == "failed"
    assert result.detail.startswith("failed")


def test_wrong_algebra_breaks_closure(monkeypatch):
    """With J² = J instead of J² = M·J the closure proof must fail."""

    def wrong_mul(self, other):
        y = self.x * other.y + self.y * other.x + self.y * other.y  # J·J = J: wrong
        return SpanIJ(self.x * other.x, y, self.M)

    monkeypatch.setattr(algebra.SpanIJ, "__mul__", wrong_mul)
    assert prove_closure_pair(2).status == "failed"


def test_is_identity_rejects_false_and_inexact():
    a, b, M = sp.symbols("a b M")
    assert is_identity((a + b) ** 2, a**2 + 2 * a * b + b**2)
    assert not is_identity((a + b) ** 2, a**2 + b**2)
    assert not is_identity((1 + (M - 1) * a) / M, (1 + M * a) / M)
    with pytest.raises(TypeError, match="exact"):
        is_identity(a * 0.5, a / 2)


def test_positive_certificate_is_not_vacuous():
    u = sp.Symbol("u", positive=True)
    v = sp.Symbol("v", nonnegative=True)
    assert positive_certificate((1 + u) / (2 + v), [u], [v])
    assert not positive_certificate(u - 1, [u])  # negative for u < 1
    assert not positive_certificate(v, [], [v])  # zero at v = 0
    assert not positive_certificate(1 / (1 + u) - sp.Rational(1, 2), [u])


def test_exception_in_a_proof_is_reported_failed(monkeypatch):
    def broken(max_n):
        """A proof that crashes."""
        raise RuntimeError("boom")

    monkeypatch.setitem(registry.PROOFS, "closure_pair", broken)
    result = registry.run_proof("closure_pair", 2)
    assert result.status == "failed"
    assert "RuntimeError: boom" in result.detail
