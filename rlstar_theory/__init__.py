"""rlstar_theory: exact theory, proofs and experiments for RL-STaR.

The model (see README): ``N`` reasoning steps over ``M`` states, a row-stochastic policy
``P[n-1] = P_n`` per step, ground-truth maps ``truth[n-1] = g_n``, a question distribution
``start``; only the final answer is rewarded. One RL-STaR iteration keeps the successful
trajectories and refits ``P`` on them.

Main entry points
-----------------
star_step, expected_return, robustness, iterate_dense
    exact engine for any matrices (forward/backward products), float64 or Fractions.
iterate_symmetric, iterate_symmetric_exact, sweep_symmetric, symmetric_star_step, symmetric_matrix
    closed form for the paper's family ``P(lam) = lam I + (1 - lam)/M 11^T``.
finite_sample_star_step, iterate_finite_sample
    the algorithm with K sampled trajectories per question.
classify_start, iterations_to_reach
    what the paper's criteria predict for a pre-trained model.
ChainMDP, make_rule, iterate, RULES
    the training rules of the field on the same model (``rlstar_theory.rules``): STaR, EI,
    GRPO, PPO, REINFORCE, filtered SFT, ... each exact and sampled, through one loop.
lam_to_delta_diag, delta_diag_to_lam
    the two "delta" conventions (mixing weight vs diagonal excess).
"""

from rlstar_theory.conventions import (
    delta_diag_to_lam,
    diag_prob_to_lam,
    lam_to_delta_diag,
    lam_to_diag_prob,
)
from rlstar_theory.criteria import StartClass, StartPrediction, classify_start, iterations_to_reach
from rlstar_theory.dense import (
    DenseRun,
    Robustness,
    diag_excess,
    expected_return,
    iterate_dense,
    posterior,
    refit,
    robustness,
    star_step,
)
from rlstar_theory.mdp import ChainMDP
from rlstar_theory.rules import RULES, History, iterate, make_rule
from rlstar_theory.sampling import (
    FiniteSampleRun,
    FiniteSampleStep,
    finite_sample_star_step,
    iterate_finite_sample,
    sample_trajectories,
)
from rlstar_theory.symmetric import (
    SymmetricRun,
    SymmetricSweep,
    iterate_symmetric,
    iterate_symmetric_exact,
    sweep_symmetric,
    symmetric_matrix,
    symmetric_star_step,
)
from rlstar_theory.tempering import temper, temper_lam

__version__ = "0.2.0"

__all__ = [
    "RULES",
    "ChainMDP",
    "DenseRun",
    "History",
    "FiniteSampleRun",
    "FiniteSampleStep",
    "Robustness",
    "StartClass",
    "StartPrediction",
    "SymmetricRun",
    "SymmetricSweep",
    "classify_start",
    "delta_diag_to_lam",
    "diag_excess",
    "diag_prob_to_lam",
    "expected_return",
    "finite_sample_star_step",
    "iterate",
    "iterate_dense",
    "iterate_finite_sample",
    "iterate_symmetric",
    "iterate_symmetric_exact",
    "iterations_to_reach",
    "lam_to_delta_diag",
    "lam_to_diag_prob",
    "make_rule",
    "posterior",
    "refit",
    "robustness",
    "sample_trajectories",
    "star_step",
    "symmetric_matrix",
    "symmetric_star_step",
    "sweep_symmetric",
    "temper",
    "temper_lam",
]
