"""The field's claims, measured on the exact RL-STaR model (issues 10 and 11).

Each module registers its claims with :func:`rlstar_theory.claims.registry.claim`;
:func:`evaluate_claims` measures them and ``rlstar reproduce`` puts them in the report.
"""

import importlib

from rlstar_theory.claims.registry import (
    CLAIMS,
    CONDITIONAL,
    FAILS,
    HOLDS,
    Claim,
    ClaimResult,
    Measurement,
    claim,
    evaluate_claims,
)

#: the modules that register claims (one per topic); importing them registers the claims
CLAIM_MODULES: tuple[str, ...] = ("outcome_havrilla", "outcome_passk", "outcome_weights",
                                  "sampled_effects", "step_level")


def load_claim_modules() -> None:
    """Import every module of :data:`CLAIM_MODULES` (registration happens on import)."""
    for name in CLAIM_MODULES:
        importlib.import_module(f"rlstar_theory.claims.{name}")


__all__ = ["CLAIMS", "CLAIM_MODULES", "CONDITIONAL", "FAILS", "HOLDS", "Claim", "ClaimResult",
           "Measurement", "claim", "evaluate_claims", "load_claim_modules"]
