"""STaR with rationalization (Zelikman et al., arXiv 2203.14465; ALGORITHMS.md §4.2d).

Each round draws ``K`` attempts per training question and keeps the correct ones. A question
whose ``K`` attempts all fail is *rationalized*: one trajectory is drawn with the answer as a
hint and kept as if it had been produced without it. The idealised hint samples the posterior
``Pr(tau | s0, S_N = y(s0))``, which is the Doob transform

.. math::

    P^{hint}_n[s, s'] = \\frac{P_n[s, s']\\,\\beta_n(s')}{\\beta_{n-1}(s)},\\qquad
    \\beta_n(s) = \\Pr(S_N = y(s_0) \\mid S_n = s)

(:func:`rlstar_theory.mdp.exact.backward_values`). Counting every kept trajectory with weight
``rho(s0)``, the expected count of an edge is ``K E^+`` from the attempts (``E^+ =
Pr(edge, success | s0)``) plus ``(1-p)^K E^+/p`` from the rationalization (probability
``(1-p)^K`` that all fail, times the posterior ``E^+/p``). So the exact update is STaR's refit
with the per-question weight

.. math::

    w(s_0) = \\rho(s_0)\\Big(K + \\frac{(1 - p)^K}{p}\\Big),\\qquad w = 0 \\text{ where } p = 0,

(a question with ``p = 0`` cannot be rationalized inside the support, §0.5 F7). ``K = 1``
gives ``w = rho/p``: every solvable question weighs the same in the data, where STaR's
weighs ``rho p``. When every question has the same ``p`` (the symmetric family with a uniform
start) ``w`` is a constant times ``rho`` and the refit is STaR's.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import backward_values, success_edges, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Update, WeightedRule
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_rng, is_exact

__all__ = ["Rationalization", "hint_policy", "posterior_trajectories"]


def hint_policy(P: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The Doob transform of ``P`` towards one answer: the policy given the hint.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        Float64 policy.
    beta : ndarray, shape (N + 1, M)
        ``beta_n(s) = Pr(S_N = y | S_n = s)`` for ``n = 0..N``.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``P^hint_n[s, s'] = P_n[s, s'] beta_n(s') / sum_b P_n[s, b] beta_n(b)`` (the denominator
        is ``beta_{n-1}(s)``, summed again so every row sums to 1 in floating point). Rows with
        ``beta_{n-1}(s) = 0`` are never reached under the hint; they keep ``P_n[s]``.
    """
    tilted = P * beta[1:, None, :]
    mass = tilted.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mass > 0, tilted / np.where(mass > 0, mass, 1.0), P)


def posterior_trajectories(P: np.ndarray, model: ChainMDP, questions: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """One trajectory per question from ``Pr(tau | s0, S_N = y(s0))`` (the rationalization).

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        Float64 policy.
    model : ChainMDP
    questions : ndarray of int
        Distinct questions with ``p(s0) > 0``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (len(questions), N + 1)
        Rows as in :func:`rlstar_theory.sampling.sample_trajectories`; every one ends at its
        question's answer. Questions sharing an answer share one hint policy
        (:func:`hint_policy`), so this costs ``O(N M^2)`` per distinct answer.
    """
    V = backward_values(P, model.answers)  # V[n, s, s0]
    answers = model.answers[questions]
    blocks = []
    for y in np.unique(answers):
        group = questions[answers == y]
        start = np.zeros(model.M)
        start[group] = 1.0 / len(group)
        blocks.append(sample_trajectories(hint_policy(P, V[:, :, group[0]]), 1, rng, start))
    if not blocks:
        return np.empty((0, model.N + 1), dtype=np.int64)
    return np.concatenate(blocks)


@dataclass(frozen=True)
class Rationalization(WeightedRule):
    """STaR with idealised rationalization: ``w = rho (K + (1-p)^K/p)``, refit (module docstring).

    Attributes
    ----------
    samples_per_question : int
        ``K``: attempts per question before rationalizing (it enters the exact weight).
    """

    name = "rationalization"
    mode = "refit"

    def advantage(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``K r``: the un-hinted attempts, each correct one counted with weight ``rho``.

        (``sampled_edges`` scales by ``rho/K``.) Its generic expectation is the ``K`` of the
        weight; the rationalized draw adds ``(1-p)^K/p`` (:meth:`question_weight`).
        """
        return self.samples_per_question * np.asarray(r, dtype=float)

    def question_weight(self, p: np.ndarray) -> np.ndarray:
        """``K + (1-p)^K/p`` for ``p > 0`` and ``0`` for ``p = 0``.

        In float64 ``1/p`` overflows below ``p ~ 1e-308``; use a Fraction policy there.
        """
        p = np.asarray(p, dtype=float)
        K = self.samples_per_question
        solvable = p > 0
        with np.errstate(divide="ignore", over="ignore"):
            hint = np.power(1.0 - p, K) / np.where(solvable, p, 1.0)
        return np.where(solvable, K + hint, 0.0)

    def question_weight_exact(self, p: np.ndarray) -> np.ndarray:
        """``K + (1-p)^K/p`` (``0`` at ``p = 0``) in Fractions."""
        K = self.samples_per_question
        flat = [Fraction(0) if v == 0 else K + (1 - Fraction(v)) ** K / Fraction(v)
                for v in np.ravel(p)]
        return np.array(flat, dtype=object).reshape(np.shape(p))

    def _hinted_samples(self, p: np.ndarray, model: ChainMDP) -> int:
        """Expected rationalizations ``sum_{train s0, p > 0} (1-p)^K``, rounded."""
        K = self.samples_per_question
        used = (model.weights("train") > 0) & (np.asarray(p, dtype=float) > 0)
        if is_exact(p):
            return int(round(float(sum((1 - v) ** K for v in p[used]))))
        return int(round(float(np.power(1.0 - p[used], K).sum())))

    def exact_step(self, P: np.ndarray, model: ChainMDP, state: Any = None) -> Update:
        """STaR's refit of ``C+[rho (K + (1-p)^K/p)]``.

        ``samples`` is the nominal ``K`` per question plus the expected number of rationalized
        draws, rounded.
        """
        p = success_probability(P, model.answers)
        if is_exact(P):
            w = model.weights("train", exact=True) * self.question_weight_exact(p)
        else:
            w = model.weights("train") * self.question_weight(p)
        edges = success_edges(P, w, model.answers, model.identity)
        samples = self.nominal_samples(model) + self._hinted_samples(p, model)
        return Update(P=operator.refit(P, edges), samples=samples, train_edges=edges)

    def sampled_step(self, P: np.ndarray, model: ChainMDP, state: Any = None,
                     rng: np.random.Generator | None = None) -> Update:
        """Refit on the correct attempts plus one posterior draw per all-failed question.

        Every kept trajectory counts ``rho(s0)``: ``C^_n = sum_kept rho(s0) 1[edge in tau]``,
        whose expectation is the exact ``C+[rho (K + (1-p)^K/p)]``. ``samples`` counts the
        attempts and the rationalized draws.
        """
        P = np.asarray(P, dtype=float)
        gen = check_rng(rng)
        K, N = self.samples_per_question, model.N
        rho = model.weights("train")
        paths = sample_trajectories(P, K, gen, rho)
        correct = paths[:, N] == model.answers[paths[:, 0]]
        questions = paths[::K, 0]
        failed = questions[~correct.reshape(-1, K).any(axis=1)]
        failed = failed[success_probability(P, model.answers)[failed] > 0]
        hinted = posterior_trajectories(P, model, failed, gen)
        kept = np.concatenate([paths[correct], hinted])
        edges = path_edge_sums(kept, rho[kept[:, 0]], model.M)
        return Update(P=operator.refit(P, edges), samples=len(paths) + len(hinted),
                      train_edges=edges)
