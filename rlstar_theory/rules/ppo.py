"""PPO with an exact critic (GAE ``lambda = 0``) and the clipped surrogate (ALGORITHMS.md §7b).

One PPO step samples from ``P_old = P``, scores every step with the advantage of an exact critic

.. math::

    A_n = r_n + V^{KL}_n(s_n) - V^{KL}_{n-1}(s_{n-1}),\\qquad
    r_n = -\\beta \\log\\frac{P_n[s_{n-1}, s_n]}{P_{ref,n}[s_{n-1}, s_n]} + 1[n = N]\\, R

(:mod:`rlstar_theory.rules.critic`; ``beta = 0`` unless ``kl="reward"``), and takes
``mu = epochs`` full-batch ascent steps of size ``lr`` on the clipped surrogate
(:mod:`rlstar_theory.rules.surrogate`) with the ratio ``r = P_theta / P_old`` per edge. With
``lambda = 0`` the advantage is deterministic given ``(s0, n, s, s')``, so the expectation of
the sampled surrogate is exact:
``L(theta) = sum rho F^old_{n-1} P^old_n min(r A, clip(r) A)``.

* ``kl="reward"``: the per-step penalty above goes through the critic (LLM PPO practice).
* ``kl="loss"``: no penalty in the reward; ``- beta sum rho F^old_{n-1} P^old_n k3`` with
  ``k3 = P_ref/P_theta - log(P_ref/P_theta) - 1`` is added to the surrogate.

The reference ``P_ref`` is the initial policy (the rule's state). Every step's advantage is
summed over the ``N`` steps of a trajectory (no ``1/|o|``), so **one epoch without KL is
REINFORCE**: ``pos + neg = C+[rho] - P rowsum(C+[rho])``, whose softmax gradient is that of
``C+[rho]`` (ALGORITHMS.md §0.5 F1: per-step advantages and uniform credit have the same
expected gradient).

**Spurious rewards** (Shao et al., arXiv 2506.10947): ``reward="bernoulli"`` replaces the
verifier by ``R ~ Bernoulli(1/2)`` independent of the trajectory. The exact critic is then
``U_n = 1/2`` at every step, every advantage before the last is 0 and the last is
``R - 1/2``, whose expectation is 0 given ``(s0, s, s')``. So the expected (exact) gradient of
the unclipped surrogate is 0 at every ``theta``, and the exact step leaves ``P`` unchanged for
any number of epochs: starting from ``r = 1`` the clipped expectation
``1/4 (min(r, 1+eps) - max(r, 1-eps))`` has zero gradient inside the trust region. Any drift
comes from finite samples and the clip (sampled mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp.exact import backward_values
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.critic import (
    REWARDS,
    critic_edges,
    critic_mean_edges,
    penalty_advantages,
    reward_to_go,
    visit_edges,
)
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.rules.surrogate import check_surrogate_options, clipped_surrogate_ascent
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_rng

__all__ = ["PPO_KL_MODES", "SPURIOUS_REWARD_PROB", "Ppo"]

#: ``kl="reward"``: penalty in the reward (through the critic); ``kl="loss"``: k3 in the loss
PPO_KL_MODES = ("reward", "loss")

#: success probability of the spurious (random) reward
SPURIOUS_REWARD_PROB = 0.5


@dataclass(frozen=True)
class Ppo(Rule):
    """PPO-clip with an exact critic and a KL to the initial policy.

    Attributes
    ----------
    samples_per_question : int
        ``K`` (sampled mode; nominal in exact mode).
    lr : float
        Step size of each ascent step on the logits.
    eps_clip : float
        Clip range ``eps`` in ``(0, inf]`` (0.2; ``inf`` is unclipped).
    epochs : int
        ``mu``: full-batch ascent steps per batch of samples (1).
    beta : float
        KL coefficient (0).
    kl : {"reward", "loss"}
        The KL as a per-step reward penalty ``-beta log(P/P_ref)`` or as k3 in the loss.
    reward : {"outcome", "bernoulli"}
        The verifier ``1[S_N = y(s0)]``, or a spurious ``Bernoulli(1/2)`` reward independent of
        the trajectory.
    """

    name = "ppo"
    mode = "surrogate"
    lr: float = 1.0
    eps_clip: float = 0.2
    epochs: int = 1
    beta: float = 0.0
    kl: str = "reward"
    reward: str = "outcome"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_surrogate_options(self.eps_clip, self.epochs, self.lr, self.beta)
        if self.kl not in PPO_KL_MODES:
            raise ValueError(f"kl must be one of {PPO_KL_MODES}, got {self.kl!r}")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {self.reward!r}")

    @property
    def reward_beta(self) -> float:
        """The penalty coefficient in the reward (``beta`` with ``kl="reward"``, else 0)."""
        return self.beta if self.kl == "reward" else 0.0

    @property
    def loss_beta(self) -> float:
        """The k3 coefficient in the loss (``beta`` with ``kl="loss"``, else 0)."""
        return self.beta if self.kl == "loss" else 0.0

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> np.ndarray:
        """The reference policy of the KL: ``P0``."""
        return np.array(P0, dtype=float)

    def step_rewards(self, model: ChainMDP) -> np.ndarray | None:
        """Per-step rewards ``r[n-1, s', s0]`` on top of the outcome reward (None: none).

        The hook of reward variants (:class:`rlstar_theory.rules.ppo_dense.PpoDense`); they go
        through the exact critic (:mod:`rlstar_theory.rules.critic`, "Per-step rewards").
        """
        return None

    def _ascend(self, P, pos, neg, P_ref, kl_visits) -> np.ndarray:
        return clipped_surrogate_ascent(P, pos, neg, eps_clip=self.eps_clip, epochs=self.epochs,
                                        lr=self.lr, beta=self.loss_beta, P_ref=P_ref,
                                        kl_visits=kl_visits)

    def exact_edges(self, P: np.ndarray, model: ChainMDP,
                    P_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected advantage-weighted visits ``(pos, neg)`` of one batch from ``P``.

        With one epoch only ``pos + neg`` matters; it is returned as ``(pos + neg, 0)``
        (:func:`~rlstar_theory.rules.critic.critic_mean_edges`, matrix products only).
        """
        w = model.weights("train")
        rewards = self.step_rewards(model)
        if self.epochs == 1:
            total = critic_mean_edges(P, model, w, self.reward_beta, P_ref, self.reward,
                                      rewards)
            return total, np.zeros(total.shape)
        return critic_edges(P, model, w, self.reward_beta, P_ref, self.reward,
                            SPURIOUS_REWARD_PROB, rewards)

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """Maximise the exact clipped surrogate (the infinite-sample limit of a step)."""
        P = np.asarray(P, dtype=float)
        P_ref = P if state is None else state
        pos, neg = self.exact_edges(P, model, P_ref)
        visits = visit_edges(P, model.weights("train")) if self.loss_beta > 0 else None
        return Update(P=self._ascend(P, pos, neg, P_ref, visits),
                      samples=self.nominal_samples(model),
                      train_edges=np.maximum(pos + neg, 0.0), state=state)

    def sampled_advantages(self, P: np.ndarray, model: ChainMDP, paths: np.ndarray,
                           P_ref: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Exact-critic advantages ``A[i, n-1]`` of every step of sampled trajectories.

        ``A_{i,n} = a^KL_n[s_{n-1}, s_n] + U_n(s_n; s0) - U_{n-1}(s_{n-1}; s0)`` with
        ``U_N`` the realised reward (:mod:`rlstar_theory.rules.critic`); with per-step rewards
        (:meth:`step_rewards`) ``U`` includes their expectation to go and ``A`` adds
        ``r_n(s_n; s0)``.
        """
        N = model.N
        s0 = paths[:, 0]
        U = np.empty(paths.shape)
        rewards = self.step_rewards(model)
        if self.reward == "outcome":
            V = backward_values(P, model.answers)  # V[n, s, s0]
            if rewards is not None:
                V = V + reward_to_go(P, rewards)
            for n in range(N + 1):
                U[:, n] = V[n][paths[:, n], s0]
        else:
            U[:, :N] = SPURIOUS_REWARD_PROB
            U[:, N] = rng.random(len(paths)) < SPURIOUS_REWARD_PROB
        a_kl = penalty_advantages(P, P_ref, self.reward_beta)
        steps = np.arange(N)
        penalty = a_kl[steps[None, :], paths[:, :-1], paths[:, 1:]]
        if rewards is not None:
            penalty = penalty + rewards[steps[None, :], paths[:, 1:], s0[:, None]]
        return penalty + U[:, 1:] - U[:, :-1]

    def sampled_edges(self, P: np.ndarray, model: ChainMDP, P_ref: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Advantage-weighted visits of ``K`` trajectories per training question.

        Returns
        -------
        pos, neg, visits : ndarray, shape (N, M, M)
            ``pos_n[s, s'] = sum_i rho(s0)/K max(A_{i,n}, 0) 1[(s_{i,n-1}, s_{i,n}) = (s, s')]``,
            ``neg`` with ``min`` and ``visits = sum_i rho(s0)/K 1[edge]``: unbiased for the exact
            :func:`~rlstar_theory.rules.critic.critic_edges` and
            :func:`~rlstar_theory.rules.critic.visit_edges`.
        drawn : int
            Trajectories sampled.
        """
        w = model.weights("train")
        K, M = self.samples_per_question, model.M
        paths = sample_trajectories(P, K, rng, w)
        A = self.sampled_advantages(P, model, paths, P_ref, rng)
        weight = (w[paths[:, 0]] / K)[:, None]
        pos = path_edge_sums(paths, weight * np.maximum(A, 0.0), M)
        neg = path_edge_sums(paths, weight * np.minimum(A, 0.0), M)
        visits = path_edge_sums(paths, weight[:, 0], M)
        return pos, neg, visits, len(paths)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """The clipped surrogate on ``K`` trajectories per question (:meth:`sampled_edges`),
        with the importance ratio per visited edge and exact-critic advantages."""
        P = np.asarray(P, dtype=float)
        P_ref = P if state is None else state
        pos, neg, visits, drawn = self.sampled_edges(P, model, P_ref, check_rng(rng))
        return Update(P=self._ascend(P, pos, neg, P_ref, visits), samples=drawn,
                      train_edges=np.maximum(pos + neg, 0.0), state=state)
