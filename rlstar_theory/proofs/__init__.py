"""Symbolic proofs (sympy) of the RL-STaR facts in SPEC §3.

Each proof is a plain function ``f(max_n=5) -> ProofResult``; :func:`all_proofs` (alias
:func:`run_all`) runs them all in order. Modules:

``result``      the :class:`ProofResult` record and the exact identity / positivity checks;
``algebra``     span{I, J} with symbolic M (matrices ``x I + y 11^T``);
``paths``       brute-force sums over all paths with explicit matrices (cross-checks);
``family``      closure ``P(a)P(b) = P(ab)``, N-fold closure by induction, ``J``;
``update``      the STaR update derived from the posterior over paths;
``identities``  improvement, error contraction, robustness;
``authors``     the authors' N = 3 equal-step update and J polynomial;
``minimal``     N = M = 2 by brute force;
``signs``       sign facts behind the convergence criteria;
``registry``    the ordered list of proofs.
"""

from rlstar_theory.proofs.registry import MAX_N_RANGE, PROOFS, all_proofs, run_all, run_proof
from rlstar_theory.proofs.result import ProofResult

__all__ = ["ProofResult", "PROOFS", "MAX_N_RANGE", "all_proofs", "run_all", "run_proof"]
