"""All symbolic proofs, in order.

Stable interface (used by the ``rlstar prove`` command and the reproduce report):

* :func:`all_proofs` ``(max_n=5) -> list[ProofResult]`` runs every proof in :data:`PROOFS`
  order; :func:`run_all` is the same function.
* :data:`PROOFS` maps each key to its function ``f(max_n) -> ProofResult``.
* :func:`run_proof` ``(key, max_n=5)`` runs one proof.

A proof that raises is reported as ``status="failed"`` with the exception in ``detail``, so
one broken proof never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Integral

from rlstar_theory.proofs.authors import prove_authors_J, prove_authors_update
from rlstar_theory.proofs.family import (
    prove_closure_pair,
    prove_closure_product,
    prove_expected_return,
)
from rlstar_theory.proofs.identities import (
    prove_error_contraction,
    prove_improvement,
    prove_robust_all_correct,
    prove_robust_step_wrong,
)
from rlstar_theory.proofs.minimal import prove_minimal
from rlstar_theory.proofs.result import ProofResult
from rlstar_theory.proofs.signs import (
    prove_sign_freeze,
    prove_sign_improvement,
    prove_sign_one_zero,
)
from rlstar_theory.proofs.update import prove_star_update

__all__ = ["PROOFS", "MAX_N_RANGE", "check_max_n", "run_proof", "all_proofs", "run_all"]

#: key -> proof function ``f(max_n) -> ProofResult``, in the order they are reported
PROOFS: dict[str, Callable[[int], ProofResult]] = {
    "closure_pair": prove_closure_pair,
    "closure_product": prove_closure_product,
    "expected_return": prove_expected_return,
    "star_update": prove_star_update,
    "improvement": prove_improvement,
    "error_contraction": prove_error_contraction,
    "robust_all_correct": prove_robust_all_correct,
    "robust_step_wrong": prove_robust_step_wrong,
    "authors_update": prove_authors_update,
    "authors_J": prove_authors_J,
    "minimal_N2_M2": prove_minimal,
    "sign_improvement": prove_sign_improvement,
    "sign_freeze": prove_sign_freeze,
    "sign_one_zero": prove_sign_one_zero,
}

#: allowed values of ``max_n`` (largest N checked with one symbol per step), inclusive
MAX_N_RANGE = (1, 8)


def check_max_n(max_n) -> int:
    """``max_n`` must be an integer in ``MAX_N_RANGE`` (1..8); raises ValueError otherwise."""
    lo, hi = MAX_N_RANGE
    if isinstance(max_n, bool) or not isinstance(max_n, Integral) or not lo <= max_n <= hi:
        raise ValueError(f"max_n must be an integer in {lo}..{hi}, got {max_n!r}")
    return int(max_n)


def run_proof(key: str, max_n: int = 5) -> ProofResult:
    """Run the proof ``key``; an exception becomes a ``"failed"`` result.

    Raises
    ------
    ValueError
        Unknown ``key`` (the message lists the valid keys) or ``max_n`` out of range.
    """
    max_n = check_max_n(max_n)
    if key not in PROOFS:
        raise ValueError(f"unknown proof {key!r}; valid keys: {', '.join(PROOFS)}")
    func = PROOFS[key]
    try:
        return func(max_n)
    except Exception as exc:  # report, do not hide the other proofs
        return ProofResult(
            key=key,
            claim=(func.__doc__ or key).strip().splitlines()[0],
            method="(not completed)",
            status="failed",
            detail=f"error: {type(exc).__name__}: {exc}",
            n_values=None,
        )


def all_proofs(max_n: int = 5, keys: Iterable[str] | None = None) -> list[ProofResult]:
    """Run every proof (or only ``keys``, in registry order) and return the results in order.

    Parameters
    ----------
    max_n : int
        Largest number of steps N checked with one symbol per step (1..8; default 5).
    keys : iterable of str, optional
        Subset of :data:`PROOFS` to run; all when ``None``.

    Returns
    -------
    list of ProofResult
        One result per proof, in :data:`PROOFS` order.
    """
    max_n = check_max_n(max_n)
    wanted = list(PROOFS) if keys is None else list(keys)
    unknown = [k for k in wanted if k not in PROOFS]
    if unknown:
        raise ValueError(f"unknown proof(s) {', '.join(unknown)}; valid keys: {', '.join(PROOFS)}")
    return [run_proof(k, max_n) for k in PROOFS if k in wanted]


#: alias of :func:`all_proofs`
run_all = all_proofs
