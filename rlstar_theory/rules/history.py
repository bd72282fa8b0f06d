"""One record of a training run, for every rule, every mode and every metric."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["History", "SplitMetrics"]


@dataclass(frozen=True)
class SplitMetrics:
    """Exact metrics of the policies ``P_0..P_T`` on one split of the questions.

    Attributes
    ----------
    J : ndarray, shape (T+1,)
        Expected return (= maj@1).
    pass_at_k : dict[int, ndarray]
        ``k -> (T+1,)`` array of ``sum rho (1 - (1 - p)^k)``.
    maj_at_k : dict[int, ndarray]
        ``k -> (T+1,)`` array of the majority-vote accuracy of ``k`` answers.
    greedy : ndarray, shape (T+1,)
        Greedy maj@1: weight of the questions whose greedy path is right.
    answer_entropy : ndarray, shape (T+1,)
        ``sum rho H(q(s0, .))`` in nats.
    spurious_steps : ndarray, shape (T+1,), or None
        Probability that a step of the policy's own solution is spurious (off the gold map,
        answer still reachable under the policy), averaged over the ``N`` steps
        (:func:`rlstar_theory.mdp.spurious.spurious_steps`).
    """

    J: np.ndarray
    pass_at_k: dict[int, np.ndarray]
    maj_at_k: dict[int, np.ndarray]
    greedy: np.ndarray
    answer_entropy: np.ndarray
    spurious_steps: np.ndarray | None = None

    def to_dict(self) -> dict:
        out = {
            "J": self.J.tolist(),
            "pass_at_k": {str(k): v.tolist() for k, v in self.pass_at_k.items()},
            "maj_at_k": {str(k): v.tolist() for k, v in self.maj_at_k.items()},
            "greedy": self.greedy.tolist(),
            "answer_entropy": self.answer_entropy.tolist(),
        }
        if self.spurious_steps is not None:
            out["spurious_steps"] = self.spurious_steps.tolist()
        return out


@dataclass(frozen=True)
class History:
    """A run of one rule in one mode: ``t = 0..T`` (``t = 0`` is ``P0``).

    Attributes
    ----------
    rule : str
    mode : {"exact", "sampled"}
    settings : dict
        The rule's hyper-parameters.
    train : SplitMetrics
        Metrics on the training questions (all questions when there is no split).
    test : SplitMetrics or None
        Metrics on the held-out questions, when the model has some.
    samples : ndarray of int, shape (T+1,)
        Trajectories drawn so far (cumulative; 0 at ``t = 0``).
    support : ndarray of int, shape (T+1,)
        Edges with ``P_n[s, s'] > 0``.
    policy_entropy : ndarray, shape (T+1,)
        Mean row entropy of the policy (nats).
    wrong_step_rate : ndarray, shape (T+1,)
        Share of off-gold transitions in the data that produced ``P_t`` (NaN at ``t = 0``).
    P : ndarray, shape (T+1, N, M, M), or None
        The policies, when kept.
    spurious_data_rate : ndarray, shape (T+1,), or None
        Share of the data that produced ``P_t`` that is spurious, judged per question with the
        policy before the step (NaN at ``t = 0``;
        :func:`rlstar_theory.mdp.spurious.spurious_data_rate`).
    """

    rule: str
    mode: str
    settings: dict
    train: SplitMetrics
    test: SplitMetrics | None
    samples: np.ndarray
    support: np.ndarray
    policy_entropy: np.ndarray
    wrong_step_rate: np.ndarray
    P: np.ndarray | None = field(default=None, repr=False)
    spurious_data_rate: np.ndarray | None = None

    @property
    def J(self) -> np.ndarray:
        """Train ``J`` over ``t`` (the usual quantity of interest)."""
        return self.train.J

    @property
    def iterations(self) -> int:
        return len(self.samples) - 1

    def samples_to_reach(self, target: float, split: str = "train") -> int | None:
        """Cumulative samples when ``J`` first reaches ``target`` (None if it never does)."""
        J = (self.train if split == "train" else self.test).J
        hit = np.flatnonzero(J >= target)
        return int(self.samples[hit[0]]) if hit.size else None

    def to_dict(self) -> dict:
        """JSON-ready arrays (floats as lists; NaN is written as null by the JSON writers)."""
        return {
            "rule": self.rule,
            "mode": self.mode,
            "settings": self.settings,
            "samples": self.samples.tolist(),
            "support": self.support.tolist(),
            "policy_entropy": self.policy_entropy.tolist(),
            "wrong_step_rate": self.wrong_step_rate.tolist(),
            "train": self.train.to_dict(),
            "test": None if self.test is None else self.test.to_dict(),
            **({} if self.spurious_data_rate is None
               else {"spurious_data_rate": self.spurious_data_rate.tolist()}),
        }
