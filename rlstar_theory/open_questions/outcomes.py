"""Where exact training ends: the outcome of a rule iterated from many models at once.

For a batch of pre-trained models ``P_0[b]`` (one :class:`~rlstar_theory.mdp.model.ChainMDP`
shared by the batch) the rule's exact step is applied to all still-running models together,
``P_{t+1} = rule.exact_step(P_t)``, with ``J_t = sum_{s0} rho(s0) p_t(s0)`` the training
success rate. Each model gets one outcome, decided at the first ``t`` where one applies:

``escaped``
    ``J_t >= 1 - epsilon`` for some ``t <= T`` (``iterations_to_epsilon = t``);
``frozen``
    the start is a fixed point: ``max |P_1 - P_0| <= fixed_tol`` ("never moves");
``suboptimal``
    a later fixed point short of the target: ``max |P_{t+1} - P_t| <= fixed_tol`` at some
    ``0 < t < T`` with ``J_t < 1 - epsilon`` (recorded at that ``t``);
``undecided``
    none of these by ``t = T`` (still moving, e.g. lingering near a saddle, or a gradient rule
    that approaches a vertex of the simplex only like ``1/t``).

The test is operational: an iterate that would leave a saddle after moving by less than
``fixed_tol`` in one step counts as converged there. Exact STaR at temperature 1 is an EM
algorithm for ``J`` (the paths and questions are the latent variables), so its ``J_t`` never
decreases and its fixed points are the stationary points of ``J`` in the rows that get data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from rlstar_theory.mdp.batch_checks import check_batch_policy
from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.validation import check_int

__all__ = ["OUTCOME_NAMES", "Outcome", "OutcomeBatch", "check_batched_rule", "run_to_outcome"]


class Outcome(IntEnum):
    """Outcome codes (stored as integers in the sweep results)."""

    ESCAPED = 0
    SUBOPTIMAL = 1
    FROZEN = 2
    UNDECIDED = 3


#: outcome names in code order
OUTCOME_NAMES = tuple(o.name.lower() for o in Outcome)


@dataclass(frozen=True)
class OutcomeBatch:
    """Outcomes of a batch of runs.

    Attributes
    ----------
    outcome : ndarray of int64, shape (B,)
        :class:`Outcome` codes.
    iterations_to_epsilon : ndarray of int64, shape (B,)
        First ``t`` with ``J_t >= 1 - epsilon``; ``-1`` where not escaped.
    iterations_run : ndarray of int64, shape (B,)
        The ``t`` at which the outcome was decided (``T`` for undecided runs).
    J0, J_final : ndarray, shape (B,)
        ``J`` of the start and of the policy where the run stopped.
    movement : ndarray, shape (B,)
        ``max |P_stop - P_0|`` over all entries.
    gold_final : ndarray, shape (B,)
        ``min_n mean_s P_stop[n, s, g_n(s)]``: the least-learnt step of the final policy
        (near 1 for the ground truth; small for a "spurious" solution with ``J`` near 1).
    P_final : ndarray, shape (B, N, M, M)
        The policy where each run stopped.
    epsilon, fixed_tol : float
    iterations : int
        The budget ``T``.
    """

    outcome: np.ndarray
    iterations_to_epsilon: np.ndarray
    iterations_run: np.ndarray
    J0: np.ndarray
    J_final: np.ndarray
    movement: np.ndarray
    gold_final: np.ndarray
    P_final: np.ndarray
    epsilon: float
    fixed_tol: float
    iterations: int

    def counts(self) -> dict[str, int]:
        """Number of runs per outcome name."""
        n = np.bincount(self.outcome, minlength=len(Outcome))
        return {name: int(n[o]) for o, name in enumerate(OUTCOME_NAMES)}


def check_batched_rule(rule):
    """A rule whose exact step takes a batch axis: a registered name or a rule instance.

    Returns the rule object; ValueError for rules that are not a per-question weight and a
    mode (they have no batched exact step).
    """
    from rlstar_theory.rules.base import WeightedRule
    from rlstar_theory.rules.registry import make_rule

    if isinstance(rule, str):
        rule = make_rule(rule)
    if not isinstance(rule, WeightedRule) or getattr(rule, "uses_surrogate", False):
        name = getattr(rule, "name", type(rule).__name__)
        raise ValueError(f"rule must be a weighted rule with a batched exact step (star, ei, "
                         f"reinforce, rloo, online-rft, grpo, dr-grpo, fisft+, fisft-, "
                         f"fisft+-; one epoch, no KL), got {name!r}")
    return rule


def _check_positive(value, name: str, upper: float | None = None) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (upper is not None and value >= upper):
        rng = f"[0, {upper})" if upper is not None else ">= 0"
        raise ValueError(f"{name} must be a finite number in {rng}, got {value!r}")
    return float(value)


def run_to_outcome(rule, P0, model: ChainMDP | None = None, epsilon: float = 0.01,
                   iterations: int = 5000, fixed_tol: float = 1e-12,
                   progress: bool = False) -> OutcomeBatch:
    """Iterate a rule's exact step from every model of a batch until its outcome is decided.

    Parameters
    ----------
    rule : str or WeightedRule
        A registered rule name (default hyper-parameters) or a rule object, e.g.
        ``Star(temperature=1.5)``.
    P0 : array_like, shape (B, N, M, M)
        Pre-trained policies (float64), validated once here.
    model : ChainMDP, optional
        Shared truth, start and training split (default: identity truth, uniform start).
    epsilon : float
        Target shortfall, ``J >= 1 - epsilon`` counts as escaped; in ``(0, 1)``.
    iterations : int
        Budget ``T >= 0``.
    fixed_tol : float
        A step that moves no entry by more than this is a fixed point (``>= 0``).
    progress : bool
        Show a tqdm bar over the iterations.

    Returns
    -------
    OutcomeBatch
        Outcomes as defined in the module notes.
    """
    rule = check_batched_rule(rule)
    P, _ = check_batch_policy(P0, "P0")
    if P.dtype == object:
        raise ValueError("P0 must be a float64 array (exact Fractions are not supported here)")
    B, N, M = P.shape[0], P.shape[1], P.shape[-1]
    if model is None:
        model = ChainMDP.create(M, N)
    if not isinstance(model, ChainMDP) or (model.N, model.M) != (N, M):
        raise ValueError(f"model must be a ChainMDP with N = {N} and M = {M} (the shape of P0)")
    eps = _check_positive(epsilon, "epsilon", 1.0)
    if eps == 0:
        raise ValueError("epsilon must be > 0")
    T = check_int(iterations, "iterations", 0)
    tol = _check_positive(fixed_tol, "fixed_tol")
    w = model.weights("train")
    gold = model.truth

    P = np.array(P, dtype=float)
    P_start = P.copy()
    outcome = np.full(B, int(Outcome.UNDECIDED), dtype=np.int64)
    t_eps = np.full(B, -1, dtype=np.int64)
    t_run = np.full(B, T, dtype=np.int64)
    J0 = success_probability(P, model.answers) @ w
    J_final = J0.copy()
    active = np.arange(B)
    steps = range(T + 1)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"{rule.name} outcomes", unit="it", mininterval=0.5)
    for t in steps:
        Pa = P[active]
        J = success_probability(Pa, model.answers) @ w
        J_final[active] = J
        reached = J >= 1.0 - eps
        outcome[active[reached]] = int(Outcome.ESCAPED)
        t_eps[active[reached]] = t
        t_run[active[reached]] = t
        if t == T:
            break
        running = ~reached
        if not running.any():
            active = active[:0]
            break
        Pa = Pa[running]
        P_next = np.asarray(rule.exact_step(Pa, model).P, dtype=float)
        moved = np.abs(P_next - Pa).max(axis=(1, 2, 3))
        fixed = moved <= tol
        ids = active[running]
        outcome[ids[fixed]] = int(Outcome.FROZEN if t == 0 else Outcome.SUBOPTIMAL)
        t_run[ids[fixed]] = t
        P[ids[~fixed]] = P_next[~fixed]
        active = ids[~fixed]
        if not active.size:
            break
    rows = np.arange(M)
    gold_diag = np.stack([P[:, n, rows, gold[n]].mean(axis=-1) for n in range(N)], axis=-1)
    return OutcomeBatch(
        outcome=outcome, iterations_to_epsilon=t_eps, iterations_run=t_run, J0=J0,
        J_final=J_final, movement=np.abs(P - P_start).max(axis=(1, 2, 3)),
        gold_final=gold_diag.min(axis=-1), P_final=P, epsilon=eps, fixed_tol=tol,
        iterations=T)
