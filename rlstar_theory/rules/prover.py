"""The prover ``mu`` of the step-level rules: best-of-``K`` of a frozen base, or of the policy.

Setlur et al. score a step by its advantage under a prover policy ``mu`` (arXiv 2406.14532:
``BoK(pi_sft)`` with ``K = 5``; arXiv 2410.08146: ``BoK(pi)`` with ``K = 4`` was best). Here

* ``prover="base"``: ``mu = BoK_K(P0)``, the initial policy, frozen: its values are computed
  once (:func:`initial_prover`) and carried in the rule's state;
* ``prover="self"``: ``mu = BoK_K(P)``, the current policy (``K = 1``: ``mu = pi``).

The values are exact (:mod:`rlstar_theory.mdp.values`), as a learned verifier would approximate
them.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.mdp.values import StepValues, prover_values
from rlstar_theory.validation import check_int

__all__ = ["PROVERS", "check_prover_options", "initial_prover", "prover_for"]

#: "base": best-of-K of the frozen initial policy; "self": best-of-K of the current policy
PROVERS = ("base", "self")


def check_prover_options(prover: str, prover_k) -> None:
    """``prover`` in :data:`PROVERS` and ``prover_k >= 1`` (ValueError naming the option)."""
    if prover not in PROVERS:
        raise ValueError(f"prover must be one of {PROVERS}, got {prover!r}")
    check_int(prover_k, "prover_k", 1)


def initial_prover(prover: str, prover_k: int, P0: np.ndarray, answers) -> StepValues | None:
    """The frozen prover's values ``BoK_K(P0)`` for ``prover="base"``; None for ``"self"``."""
    return prover_values(P0, answers, prover_k) if prover == "base" else None


def prover_for(prover: str, prover_k: int, P: np.ndarray, answers,
               frozen: StepValues | None) -> StepValues:
    """The prover's values at policy ``P``: ``frozen`` (computed from ``P`` itself when the rule
    runs without a state) for ``"base"``, ``BoK_K(P)`` for ``"self"``."""
    if prover == "base" and frozen is not None:
        return frozen
    return prover_values(P, answers, prover_k)
