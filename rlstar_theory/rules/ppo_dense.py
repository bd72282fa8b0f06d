"""PPO with a dense reward for reaching the gold state (``ppo-dense``; ALGORITHMS.md §1d, §7b).

Havrilla et al. (arXiv 2403.04642) also train PPO with dense rewards "matching intermediate
steps in a reference solution". On the chain, step ``n`` earns

.. math::

    r_n = \\lambda_d\\, 1[S_n = s^*_n(S_0)] \\quad (n = 1..N),\\qquad
    \\text{plus } 1[S_N = y(S_0)] \\text{ at the end}

(:func:`gold_step_rewards`; ``s*_N = y``, so a correct last step earns ``1 + lambda_d``). The
exact critic is the dense value of §1d (:func:`dense_values`),

.. math::

    V^d_N(s) = 1[s = y],\\qquad
    V^d_{n-1}(s) = \\sum_{s'} P_n[s, s']\\,\\big(\\lambda_d 1[s' = s^*_n] + V^d_n(s')\\big),

i.e. ``V^d_n = V_n + lambda_d G_n`` with ``G_n(s) = sum_{m > n} Pr(S_m = s*_m | S_n = s)`` the
expected number of gold states still to come, and the ``lambda = 0`` advantage of a step is
``A_n = r_n + V^d_n(s') - V^d_{n-1}(s)`` (plus the KL penalty's part with ``kl="reward"``).
Everything else is :class:`rlstar_theory.rules.ppo.Ppo`: the rule only supplies the per-step
rewards (:meth:`PpoDense.step_rewards`), which the exact critic
(:mod:`rlstar_theory.rules.critic`, "Per-step rewards") and the sampled advantages take in.

With one epoch (no clip in effect, ``r = 1``) the step is the softmax gradient step of
``J + lambda_d E[#gold states hit]`` (weighted by the training questions): the policy-gradient
theorem with an exact critic. ``lambda_d = 0`` is ``ppo``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.mdp.exact import backward_values
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.critic import reward_to_go
from rlstar_theory.rules.ppo import Ppo

__all__ = ["PpoDense", "dense_values", "gold_step_rewards"]


def _check_lambda_d(lambda_d) -> float:
    ok = isinstance(lambda_d, (int, float, np.integer, np.floating)) and \
        not isinstance(lambda_d, bool)
    v = float(lambda_d) if ok else np.nan
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"lambda_d must be a finite number in [0, inf), got {lambda_d!r}")
    return v


def gold_step_rewards(model: ChainMDP, lambda_d: float) -> np.ndarray:
    """The dense rewards ``r[n-1, s', s0] = lambda_d 1[s' = s*_n(s0)]``.

    Parameters
    ----------
    model : ChainMDP
        Its gold chains ``s*_n(s0)``.
    lambda_d : float
        Reward ``>= 0`` for each gold state reached.

    Returns
    -------
    ndarray, shape (N, M, M)
        State axis before question axis, as the critic's values.
    """
    lam = _check_lambda_d(lambda_d)
    N, M = model.N, model.M
    r = np.zeros((N, M, M))
    questions = np.arange(M)
    for n in range(1, N + 1):
        r[n - 1, model.gold[:, n], questions] = lam
    return r


def dense_values(P, model: ChainMDP, lambda_d: float) -> np.ndarray:
    """The dense critic ``V^d[n, s, s0]`` of §1d, ``n = 0..N`` (module docstring).

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        The policy (validated here).
    model : ChainMDP
    lambda_d : float
        Coefficient ``>= 0`` of the gold-state reward.

    Returns
    -------
    ndarray, shape (N+1, M, M)
        ``V^d_n(s; s0) = Pr(S_N = y(s0) | S_n = s) + lambda_d sum_{m > n}
        Pr(S_m = s*_m(s0) | S_n = s)``.
    """
    P = np.asarray(model.check_policy(P), dtype=float)
    rewards = gold_step_rewards(model, lambda_d)
    return backward_values(P, model.answers) + reward_to_go(P, rewards)


@dataclass(frozen=True)
class PpoDense(Ppo):
    """PPO-clip with the exact dense critic: reward ``lambda_d`` per gold state plus the outcome.

    Attributes
    ----------
    lambda_d : float
        Reward ``>= 0`` for each step that reaches the gold state ``s*_n(s0)`` (0.1).
    samples_per_question, lr, eps_clip, epochs, beta, kl
        As in :class:`~rlstar_theory.rules.ppo.Ppo`. The outcome reward is the verifier's
        (``reward="outcome"`` only).
    """

    name = "ppo-dense"
    lambda_d: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_lambda_d(self.lambda_d)
        if self.reward != "outcome":
            raise ValueError(f"reward must be 'outcome' for ppo-dense (the dense reward goes "
                             f"with the verifier), got {self.reward!r}")

    def step_rewards(self, model: ChainMDP) -> np.ndarray:
        """``lambda_d 1[s' = s*_n(s0)]`` (:func:`gold_step_rewards`; zeros for ``lambda_d = 0``).
        """
        return gold_step_rewards(model, self.lambda_d)
