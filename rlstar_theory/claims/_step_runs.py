"""Shared pieces of the step-level claims (issue 11 §5): chains with held-out questions,
pre-trained policies centred on the gold map, fast exact loops, and exact step statistics.

**Chains.** The standard model of :mod:`rlstar_theory.claims.models` trains on every question
and has identity truth, so every question has its own answer and its own gold states. Two
other small chains are used where a claim needs them:

* :func:`split_model` (held-out questions whose answers the training questions share):
  ``g_n = id`` for ``n < N`` and ``g_N(s) = s mod (M/2)``; the first ``M/2`` questions train,
  the other ``M/2`` are held out. Test question ``M/2 + a`` has the answer of training question
  ``a``, but its gold states before the last step are its own start state, which a training
  question reaches only by an off-gold step. What the training data teaches at those states is
  therefore exactly what training questions do after a spurious step (how they recover), and
  the lecture notes' story -- spurious steps recover on training questions and derail on new
  ones -- has something to act on. (A random split of the identity chain does not: its test
  answers are never training answers, and every outcome rule drives test ``J`` to 0 by learning
  only training answers at the last step.)
* :func:`shift_model`: ``g_n(s) = s + 1 mod M`` at every step, so no answer can be read off
  before all ``N`` moves (the variable-length claim needs that: with identity truth, stopping
  at once answers correctly).

**Pre-trained policies.** :func:`gold_centred_p0` is the standard Dirichlet policy
(:func:`~rlstar_theory.claims.models.dirichlet_p0`) with each row's columns ``s`` and
``g_n(s)`` swapped, so that every row favours its gold transition as the standard policy does
on the identity chain (identical to it when the truth is the identity).

**Loops.** :func:`j_curve` runs a rule's own exact (or sampled) step (as
:func:`~rlstar_theory.rules.iterate.iterate` does) but records only ``J`` and the samples, and
stops once a target is reached: the sample-complexity sweeps need nothing else, and skipping
the other metrics makes them several times faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.claims.models import dirichlet_p0
from rlstar_theory.mdp.exact import forward_products, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule
from rlstar_theory.validation import check_int, check_iterations, check_rng

__all__ = ["JCurve", "j_curve", "gold_centred_p0", "monotone_gain", "shift_model",
           "split_model", "step_visits"]


def split_model(M: int = 6, N: int = 3) -> ChainMDP:
    """The chain with held-out questions that share their answers with training questions.

    ``g_n(s) = s`` for ``n < N``, ``g_N(s) = s mod (M/2)``; questions ``0 .. M/2 - 1`` train,
    the others are held out (module docstring).

    Parameters
    ----------
    M : int
        States, even and ``>= 4``.
    N : int
        Steps, ``>= 1``.
    """
    M = check_int(M, "M", 4)
    if M % 2:
        raise ValueError(f"M must be even (each test question shares a training answer), got {M}")
    N = check_int(N, "N", 1)
    states = np.arange(M)
    truth = np.array([states] * (N - 1) + [states % (M // 2)])
    return ChainMDP.create(M, N, truth=truth, train=states < M // 2)


def shift_model(M: int = 6, N: int = 3) -> ChainMDP:
    """``g_n(s) = s + 1 mod M`` at every step, every question training (module docstring)."""
    M, N = check_int(M, "M", 2), check_int(N, "N", 1)
    states = np.arange(M)
    return ChainMDP.create(M, N, truth=np.array([(states + 1) % M] * N))


def gold_centred_p0(model: ChainMDP, lam: float = 0.3, concentration: float = 10.0,
                    seed=0) -> np.ndarray:
    """:func:`~rlstar_theory.claims.models.dirichlet_p0` relabelled to favour the gold map.

    Row ``P_n[s]`` is the standard Dirichlet row with its entries ``s`` and ``g_n(s)`` swapped,
    so ``P_n[s] ~ Dirichlet(concentration (lam e_{g_n(s)} + (1 - lam)/M 1))``.

    Returns
    -------
    ndarray, shape (N, M, M)
        Equal to ``dirichlet_p0(M, N, lam, concentration, seed)`` on the identity chain.
    """
    if not isinstance(model, ChainMDP):
        raise ValueError(f"model must be a ChainMDP, got {type(model).__name__}")
    P = dirichlet_p0(model.M, model.N, lam, concentration, seed)
    out = P.copy()
    rows = np.arange(model.M)
    for n in range(model.N):
        g = model.truth[n]
        out[n, rows, g] = P[n, rows, rows]
        out[n, rows, rows] = P[n, rows, g]
    return out


@dataclass(frozen=True)
class JCurve:
    """``J`` on one split after ``t = 0..T`` exact steps (``T`` may stop early at a target).

    Attributes
    ----------
    J : ndarray, shape (T+1,)
    samples : ndarray of int, shape (T+1,)
        Cumulative nominal samples (0 at ``t = 0``).
    """

    J: np.ndarray
    samples: np.ndarray

    def samples_to_reach(self, target: float) -> int | None:
        """Cumulative samples when ``J`` first reaches ``target`` (None if it never does)."""
        hit = np.flatnonzero(self.J >= target)
        return int(self.samples[hit[0]]) if hit.size else None


def j_curve(rule: Rule, P0: np.ndarray, model: ChainMDP, iterations: int,
                split: str = "train", target: float | None = None, mode: str = "exact",
                rng=None) -> JCurve:
    """``J_t = sum_{s0} w(s0) p_t(s0)`` along ``P_{t+1} = rule.exact_step(P_t).P``.

    With ``mode="sampled"`` the steps are ``rule.sampled_step(P_t, rng=rng)`` (``J`` stays
    exact).

    Parameters
    ----------
    rule : Rule
    P0 : ndarray, shape (N, M, M)
        Pre-trained policy (validated here).
    model : ChainMDP
    iterations : int
        At most ``T`` steps.
    split : {"train", "test", "all"}
        The questions ``J`` is measured on (``w = model.weights(split)``).
    target : float, optional
        Stop at the first ``t`` with ``J_t >= target``.
    mode : {"exact", "sampled"}
    rng : None, int or numpy.random.Generator
        The sampled steps' randomness.
    """
    T = check_iterations(iterations)
    if mode not in ("exact", "sampled"):
        raise ValueError(f"mode must be 'exact' or 'sampled', got {mode!r}")
    gen = check_rng(rng) if mode == "sampled" else None
    P = np.asarray(model.check_policy(P0, "P0"), dtype=float)
    w = model.weights(split)
    state = rule.init_state(P, model)
    J, samples = [float(success_probability(P, model.answers) @ w)], [0]
    for _ in range(T):
        if target is not None and J[-1] >= target:
            break
        update = (rule.exact_step(P, model, state) if gen is None
                  else rule.sampled_step(P, model, state, gen))
        P, state = np.asarray(update.P, dtype=float), update.state
        J.append(float(success_probability(P, model.answers) @ w))
        samples.append(samples[-1] + int(update.samples))
    return JCurve(J=np.array(J), samples=np.array(samples, dtype=np.int64))


def step_visits(P: np.ndarray, model: ChainMDP) -> np.ndarray:
    """Per-question step probabilities ``F_{n-1}[s0, s] P_n[s, s']``.

    Returns
    -------
    ndarray, shape (N, M, M, M)
        ``X[n-1, s0, s, s'] = Pr(S_{n-1} = s, S_n = s' | s0)`` (float64).
    """
    P = np.asarray(P, dtype=float)
    F = forward_products(P)  # F[n] = P_1 ... P_n, n = 0..N
    return F[:-1, :, :, None] * P[:, None, :, :]


def monotone_gain(values, tolerance, min_gain: float) -> bool:
    """Whether a measured curve "gains along its axis".

    ``values[-1] - values[0] >= min_gain`` and no step down is larger than its tolerance:
    ``values[i+1] - values[i] >= -tolerance[i]`` (``tolerance`` a scalar or one per step).
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"values must be a 1-D curve of at least 2 points, got shape {v.shape}")
    tol = np.broadcast_to(np.asarray(tolerance, dtype=float), (len(v) - 1,))
    return bool(v[-1] - v[0] >= min_gain and np.all(np.diff(v) >= -tol))
