"""Every symbolic proof holds, and the results have the documented shape."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from rlstar_theory.proofs import PROOFS, ProofResult, all_proofs, run_all
from rlstar_theory.proofs.authors import authors_J, authors_update
from rlstar_theory.proofs.family import J_formula
from rlstar_theory.proofs.registry import check_max_n
from rlstar_theory.proofs.update import star_update_formula


@pytest.fixture(scope="module")
def results() -> list[ProofResult]:
    return all_proofs(max_n=5)


def test_every_fact_is_proved(results):
    failed = [(r.key, r.detail) for r in results if r.status != "proved"]
    assert failed == []


def test_registry_order_and_keys(results):
    assert [r.key for r in results] == list(PROOFS)
    assert run_all is all_proofs
    for key in (
        "closure_pair", "closure_product", "expected_return", "star_update", "improvement",
        "error_contraction", "robust_all_correct", "robust_step_wrong", "authors_update",
        "authors_J", "minimal_N2_M2", "sign_improvement", "sign_freeze", "sign_one_zero",
    ):  # fmt: skip
        assert key in PROOFS


def test_result_fields_are_stable(results):
    names = [f.name for f in dataclasses.fields(ProofResult)]
    assert names == ["key", "claim", "method", "status", "detail", "n_values"]
    r = results[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "failed"  # type: ignore[misc]
    for r in results:
        assert r.claim and r.method and r.detail
        assert r.n_values is None or all(isinstance(n, int) for n in r.n_values)
        d = r.to_dict()
        assert set(d) == set(names)


def test_n_values_follow_max_n(results):
    by_key = {r.key: r for r in results}
    assert by_key["star_update"].n_values == (1, 2, 3, 4, 5)
    assert by_key["closure_product"].n_values == (1, 2, 3, 4, 5)
    assert by_key["minimal_N2_M2"].n_values == (2,)
    assert by_key["authors_update"].n_values is None
    assert "induction on N" in by_key["closure_product"].method
    assert "general N" in by_key["star_update"].method.replace("General N", "general N")


def test_small_max_n_also_proves():
    res = all_proofs(max_n=1, keys=["star_update", "sign_freeze"])
    assert [r.status for r in res] == ["proved", "proved"]
    assert res[1].n_values == ()  # no N with two zeros when N <= 1; general N still proved


@pytest.mark.parametrize("bad", [0, 9, -1, 2.5, True, "5"])
def test_max_n_validation(bad):
    with pytest.raises(ValueError, match=r"max_n must be an integer in 1\.\.8"):
        check_max_n(bad)
    with pytest.raises(ValueError, match="max_n"):
        all_proofs(max_n=bad)


def test_unknown_key_is_rejected():
    with pytest.raises(ValueError, match="unknown proof"):
        all_proofs(keys=["no_such_proof"])


def test_spec_numbers_authors_curve():
    """SPEC §3: M = 64, λ0 = 0.2 gives J = 0.023500, 0.130984, 0.869432, 0.999777, 1.000000."""
    lam, M = sp.Rational(1, 5), sp.Integer(64)
    got = []
    for _ in range(5):
        got.append(f"{float(authors_J(lam, M)):.6f}")
        assert authors_J(lam, M) == J_formula(lam**3, M)
        nxt = authors_update(lam, M)
        assert nxt == star_update_formula(lam, lam**2, lam**3, M)
        lam = nxt
    assert got == ["0.023500", "0.130984", "0.869432", "0.999777", "1.000000"]
