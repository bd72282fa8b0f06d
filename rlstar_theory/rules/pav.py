"""Online RL with a process advantage verifier (``pav-rl``; Setlur et al., arXiv 2410.08146).

The outcome reward ``R = 1[S_N = y(s0)]`` is supplemented by a dense per-step term from a
prover ``mu`` (:mod:`rlstar_theory.rules.prover`; best-of-``K`` of the frozen initial policy by
default) whose values are known exactly, as a learned PAV would approximate them
(:mod:`rlstar_theory.mdp.values`). With ``V^pi`` the policy's values and ``V^mu`` the prover's,
the dense term of the step-``n`` transition ``s -> s'`` is

* ``dense="A"``: ``d_n = A^mu_n(s, s') = V^mu_n(s') - V^mu_{n-1}(s)`` (progress), or
* ``dense="Q"``: ``d_n = Q^mu_n(s, s') = V^mu_n(s')``.

Each sampled step pushes up ``log P_n[s_{n-1}, s_n]`` (softmax logits) with a coefficient

* ``credit="step"`` (the paper's Eq. 5): ``c_n = R + alpha d_n``, where ``R`` is the Monte
  Carlo estimate of ``Q^pi_n(s, s') = V^pi_n(s')``;
* ``credit="return"``: ``c_n = R + alpha sum_{m >= n} d_m``, the dense rewards summed to go
  (REINFORCE with per-step rewards).

**Exact step** (ALGORITHMS.md §6d). The expected coefficients are weighted by the visits
``w(s0) F_{n-1}[s0, s] P_n[s, s']`` (``w = model.weights("train")``):

.. math::

    E_n[s, s'] = P_n[s, s'] \\sum_{s_0} w F_{n-1}[s_0, s]\\,
                 \\big(X_n(s'; s_0) - \\alpha\\, b_{n-1}(s; s_0)\\big),

with ``X_n = V^pi_n + alpha V^mu_n`` and ``b = V^mu`` for ``("step", "A")``; ``X_n = V^pi_n +
alpha V^mu_n`` and ``b = 0`` for ``("step", "Q")``; ``X_n = (1 + alpha) V^pi_n`` and
``b = V^mu`` for ``("return", "A")`` (the sum telescopes to ``R - V^mu_{n-1}(s)``, since
``V^mu_N(s) = 1[s = y]``); ``X_n = V^pi_n + alpha (V^mu_n + U_n)`` and ``b = 0`` for
``("return", "Q")``, where ``U_N = 0`` and ``U_{n-1} = P_n (V^mu_n + U_n)`` is the prover value
still to be collected. Every term is a matrix product. The step is the softmax gradient step
``theta_n += lr (E_n - P_n rowsum(E_n))`` (:func:`rlstar_theory.mdp.operator.gradient_step`).

Consequences, each tested:

* the ``b`` term is a per-state baseline and drops out of the gradient, so ``dense="Q"`` and
  ``dense="A"`` give the same exact step with ``credit="step"`` (they differ in variance);
* with ``mu = pi`` (``prover="self"``, ``prover_k=1``) and ``credit="step"``, ``E = (1 + alpha)
  C+[w]`` up to the baseline: outcome REINFORCE (``w = rho``) scaled by ``1 + alpha``;
* ``credit="return"`` with ``dense="A"`` is potential-based shaping: ``1 + alpha`` times
  REINFORCE for *every* prover; ``dense="Q"`` is not, and rewards reaching high-``V^mu``
  states at every step, whether or not it is progress (the paper's App. G).
* with ``mu`` held fixed, ``credit="step"`` is the gradient of ``J + alpha sum_n E[V^mu_n(S_n)]``
  with the visits of ``S_{n-1}`` held fixed, and ``credit="return"`` is the full gradient of
  ``E[R + alpha sum_n d_n]``.

**Sampled step.** ``K`` trajectories per training question from the current policy; the edge
weights are ``sum_i w(s0)/K c_{i,n}`` over the steps they take, whose expectation is ``E``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import backward_values
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.values import StepValues
from rlstar_theory.rules.base import Rule, Update
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.rules.prover import check_prover_options, initial_prover, prover_for
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_rng

__all__ = ["CREDITS", "DENSE_REWARDS", "PavRl"]

#: the dense term: the prover's advantage (progress) or its Q-value
DENSE_REWARDS = ("A", "Q")
#: "step": the step's own dense term (Eq. 5); "return": dense rewards summed to go
CREDITS = ("step", "return")


def _check_nonnegative(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


@dataclass(frozen=True)
class PavRl(Rule):
    """Policy gradient on ``Q^pi + alpha A^mu`` (or ``alpha Q^mu``) with an exact prover.

    Attributes
    ----------
    samples_per_question : int
        ``K`` (sampled mode; nominal in exact mode).
    alpha : float
        Weight ``>= 0`` of the dense term (the paper's RL runs used 3 and 5).
    prover : {"base", "self"}
        ``mu = BoK_K(P0)`` frozen, or ``BoK_K`` of the current policy (``K = 1``: ``mu = pi``).
    prover_k : int
        ``K`` of the best-of-``K`` prover (4 was best in the paper's ablation).
    dense : {"A", "Q"}
        The prover's advantage or its Q-value as the dense term.
    credit : {"step", "return"}
        The step's own dense term (Eq. 5) or the dense rewards summed to go.
    lr : float
        Step size on the logits.
    """

    name = "pav-rl"
    mode = "gradient"
    alpha: float = 3.0
    prover: str = "base"
    prover_k: int = 4
    dense: str = "A"
    credit: str = "step"
    lr: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_nonnegative(self.alpha, "alpha")
        check_prover_options(self.prover, self.prover_k)
        if self.dense not in DENSE_REWARDS:
            raise ValueError(f"dense must be one of {DENSE_REWARDS}, got {self.dense!r}")
        if self.credit not in CREDITS:
            raise ValueError(f"credit must be one of {CREDITS}, got {self.credit!r}")
        if not (_check_nonnegative(self.lr, "lr") > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")

    def init_state(self, P0: np.ndarray, model: ChainMDP) -> StepValues | None:
        """The frozen prover's values ``BoK_K(P0)`` (``prover="base"``), else None."""
        return initial_prover(self.prover, self.prover_k, np.asarray(P0, dtype=float),
                              model.answers)

    def prover_values(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> np.ndarray:
        """``V^mu[n, s, s0]`` at policy ``P`` (float64)."""
        frozen = state if isinstance(state, StepValues) else None
        return np.asarray(prover_for(self.prover, self.prover_k, P, model.answers, frozen).V,
                          dtype=float)

    def _after_before(self, P: np.ndarray, V_pi: np.ndarray,
                      V_mu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``X[n, s', s0]`` and ``b[n, s, s0]`` of the module docstring (``b`` None when 0)."""
        a = float(self.alpha)
        if self.credit == "return" and self.dense == "A":
            return (1.0 + a) * V_pi, a * V_mu
        X = V_pi + a * V_mu
        if self.credit == "return":  # dense = "Q": add the prover value still to come, U_n
            U = np.zeros(V_mu.shape)
            for n in range(P.shape[0], 0, -1):
                U[n - 1] = P[n - 1] @ (V_mu[n] + U[n])
            X = X + a * U
        return X, (a * V_mu if self.dense == "A" else None)

    def exact_edges(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> np.ndarray:
        """Expected coefficient-weighted visits ``E_n[s, s']`` (module docstring).

        Returns
        -------
        ndarray, shape (N, M, M)
            Their softmax gradient ``E - P rowsum(E)`` is the exact step's direction.
        """
        P = np.asarray(P, dtype=float)
        V_pi = backward_values(P, model.answers)
        X, b = self._after_before(P, V_pi, self.prover_values(P, model, state))
        Fw = np.diag(model.weights("train"))  # Fw_0[s0, s] = w(s0) 1[s = s0]
        E = np.empty(P.shape)
        for n in range(1, model.N + 1):
            inner = Fw.T @ X[n].T  # (s, s')
            if b is not None:
                inner = inner - (Fw.T * b[n - 1]).sum(axis=1)[:, None]
            E[n - 1] = P[n - 1] * inner
            Fw = Fw @ P[n - 1]
        return E

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """The expected softmax gradient step (module docstring)."""
        P = np.asarray(P, dtype=float)
        E = self.exact_edges(P, model, state)
        return Update(P=operator.gradient_step(P, E, self.lr),
                      samples=self.nominal_samples(model), train_edges=np.maximum(E, 0.0),
                      state=state)

    def sampled_coefficients(self, paths: np.ndarray, model: ChainMDP,
                             V_mu: np.ndarray) -> np.ndarray:
        """``c[i, n-1]``: the coefficient of step ``n`` of trajectory ``i`` (module docstring).
        """
        N = model.N
        s0 = paths[:, 0]
        R = (paths[:, N] == model.answers[s0]).astype(float)
        steps = np.arange(1, N + 1)
        d = V_mu[steps, paths[:, 1:], s0[:, None]]
        if self.dense == "A":
            d = d - V_mu[steps - 1, paths[:, :-1], s0[:, None]]
        if self.credit == "return":
            d = np.cumsum(d[:, ::-1], axis=1)[:, ::-1]
        return R[:, None] + float(self.alpha) * d

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """REINFORCE on ``K`` trajectories per training question with exact dense terms."""
        P = np.asarray(P, dtype=float)
        V_mu = self.prover_values(P, model, state)
        w = model.weights("train")
        K = self.samples_per_question
        paths = sample_trajectories(P, K, check_rng(rng), w)
        c = self.sampled_coefficients(paths, model, V_mu)
        E = path_edge_sums(paths, (w[paths[:, 0]] / K)[:, None] * c, model.M)
        return Update(P=operator.gradient_step(P, E, self.lr), samples=len(paths),
                      train_edges=np.maximum(E, 0.0), state=state)
