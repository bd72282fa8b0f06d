"""Variable-length chains: an absorbing answer ("stop") action and a "revise" (backtrack) action.

In the chain model every trajectory has ``N`` steps, so the ``1/|o|`` of GRPO's loss is the
constant ``1/N`` (ALGORITHMS.md §0.5 F2) and there is no length effect. This module lets the
length vary, exactly.

**The chain.** A budget of ``N_max`` actions (``budget``; the clock ``n = 1..N_max``). The
running chain is at a state ``s in [M]``; at clock ``n`` the policy ``Q_n[s, :]`` (shape
``(N_max, M, A)``) chooses one action:

* *move* to ``s' in [M]`` (columns ``0..M-1``; at clocks ``n <= N`` the reasoning step ``n``);
* *stop* (column ``M``, when ``stop=True``): the chain enters the absorbing answer state and
  stays there; **the answer is the state before stopping**, ``s``;
* *revise* (the last column, when ``revise=True``): go back to the state before the last move.
  The chain keeps one state of history: it is at ``(p, s)`` (previous, current); a move to
  ``s'`` gives ``(s, s')``, a revise gives ``(p, p)``, so a second revise in a row has nothing
  left to undo and stays at ``p`` (it still costs its step). The start is ``(s0, s0)``.

Every action costs one step of the budget; a chain that is still running after ``N_max``
actions answers its current state. The **length** ``|o|`` is the number of actions taken
(moves, revisions and the stop action, like an end-of-sequence token): ``|o| = n`` when it stops
at clock ``n`` and ``|o| = N_max`` when the budget runs out. The reward is the outcome
``R = 1[answer = y(s0)]``, with ``y(s0)`` the gold answer after the ``N`` truth maps of the
:class:`~rlstar_theory.mdp.model.ChainMDP`. The policy depends on the clock and the current
state only; the previous state matters only for what a revise returns to.

With ``stop=False``, ``revise=False`` and ``N_max = N`` this is the fixed-length chain
(``Q = P``, ``|o| = N``), and every quantity below equals the fixed-length engine's.

**Exact quantities** (forward and backward products over the augmented states ``s`` or
``(p, s)``, ``O(N_max M^2)`` resp. ``O(N_max M^3)`` per question; no enumeration):

* :func:`length_outcome_distribution`: ``D[s0, r, l] = Pr(R = r, |o| = l | s0)``, from which
  the success probability ``p(s0) = sum_l D[s0, 1, l]`` and the expected length
  ``E|o| = sum_{r, l} l D[s0, r, l]`` follow (:func:`length_statistics`);
* :func:`weighted_edges`: for any terminal weight ``T[s0, r, l]`` and question weights ``w``,

  .. math::

      C_n[s, a] = \\sum_{s_0} w(s_0)\\, E\\big[T[s_0, R, |o|]\\;
          1[\\text{running at } s \\text{ after } n-1 \\text{ actions},\\ A_n = a]\\big],

  computed as ``f_{n-1}(s) Q_n[s, a] V(next)`` with the forward mass ``f`` and the backward
  value ``V_n(x) = E[T[s0, R, |o|] | X_n = x]``. Its softmax gradient
  ``C - Q rowsum(C)`` (:func:`rlstar_theory.mdp.operator.gradient`) is
  ``sum_{s0} w(s0) E[T[s0, R, |o|] grad log pi(tau)]`` with respect to the logits of ``Q``.

**GRPO's ``1/|o|``.** A sample with advantage ``A_i`` contributes ``(A_i/|o_i|) grad log
pi(tau_i)`` (the loss averages over the sample's own tokens). The other samples of the group
are independent of ``tau_i``, so its expectation is ``E[alpha_R(p) h(|o|) grad log pi]`` with
``alpha_1 = E[A | correct]``, ``alpha_0 = E[A | wrong]`` (the rule's exact advantage terms) and
``h(l) = 1/l``: the terminal weight ``T[s0, r, l] = alpha_r(p(s0)) h(l)``
(:func:`outcome_length_weights`). A correct answer (``alpha_1 > 0``) gets more credit per
token when short; a wrong one (``alpha_0 < 0``) gets less blame per token when long. Dr. GRPO
uses the constant ``h = 1/L`` (``L = N_max`` by default): then
``E[(alpha_R / L) grad log pi] = (alpha_1 - alpha_0)/L grad p`` carries no length term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.validation import (
    as_numeric_array,
    check_int,
    check_memory,
    is_exact,
    row_sum_tolerance,
    to_fraction,
)

__all__ = [
    "NORMALISERS",
    "LengthChain",
    "LengthStats",
    "extend_policy",
    "length_normaliser",
    "length_outcome_distribution",
    "length_statistics",
    "outcome_length_weights",
    "weighted_edges",
]

#: per-trajectory loss normalisers: ``1/|o|`` (GRPO), ``1/L`` (Dr. GRPO), none (sum of tokens)
NORMALISERS = ("length", "constant", "none")


@dataclass(frozen=True)
class LengthChain:
    """A chain model with a length budget and optional stop and revise actions.

    Build it with :meth:`create` (validated).

    Attributes
    ----------
    model : ChainMDP
        States, truth maps (``y(s0)``), questions and their split.
    budget : int
        ``N_max >= 1``: actions before the chain must answer.
    stop : bool
        Whether the stop (answer now) action exists (column ``M``).
    revise : bool
        Whether the revise (back one state) action exists (the last column).
    """

    model: ChainMDP
    budget: int
    stop: bool
    revise: bool

    @classmethod
    def create(cls, model: ChainMDP, budget: int | None = None, stop: bool = True,
               revise: bool = False) -> LengthChain:
        """Validated chain. ``budget`` defaults to ``model.N``."""
        if not isinstance(model, ChainMDP):
            raise ValueError(f"model must be a ChainMDP, got {type(model).__name__}")
        budget = model.N if budget is None else check_int(budget, "budget", 1,
                                                          what="length budget N_max")
        for name, flag in (("stop", stop), ("revise", revise)):
            if not isinstance(flag, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        return cls(model=model, budget=budget, stop=bool(stop), revise=bool(revise))

    @property
    def M(self) -> int:
        return self.model.M

    @property
    def actions(self) -> int:
        """``A = M + stop + revise``: columns of a policy row."""
        return self.M + int(self.stop) + int(self.revise)

    @property
    def stop_index(self) -> int | None:
        return self.M if self.stop else None

    @property
    def revise_index(self) -> int | None:
        return self.actions - 1 if self.revise else None

    @property
    def is_fixed_length(self) -> bool:
        """No stop, no revise and ``N_max = N``: the fixed-length chain."""
        return not self.stop and not self.revise and self.budget == self.model.N

    def check_policy(self, Q, name: str = "Q") -> np.ndarray:
        """Validate a policy for this chain: shape ``(N_max, M, A)``, every row stochastic.

        Float input is returned as float64; an object array of Fractions stays exact (rows
        must sum to exactly 1, and the model needs an exact start distribution).
        """
        shape = (self.budget, self.M, self.actions)
        exact = isinstance(Q, np.ndarray) and Q.dtype == object
        arr = as_numeric_array(Q, name, f"(N_max, M, A) = {shape}")
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape (N_max, M, A) = {shape} for this chain "
                             f"(A = M + stop + revise), got {np.shape(Q)}")
        if exact:
            if any(v < 0 for v in arr.ravel()) or any(s != 1 for s in arr.sum(-1).ravel()):
                raise ValueError(f"{name} must have entries >= 0 and rows summing to exactly 1")
            if self.model.start_exact is None:
                raise ValueError(f"an exact (Fraction) {name} needs an exact start distribution")
            return arr
        if not np.all(np.isfinite(arr)) or arr.min() < 0:
            raise ValueError(f"{name} must be finite with entries >= 0")
        tol = row_sum_tolerance(self.actions)
        if not (np.abs(arr.sum(-1) - 1.0) <= tol).all():
            raise ValueError(f"{name}: every row must sum to 1 (tolerance {tol:.1e})")
        return arr


def _probability(value, name: str):
    if is_exact(value):
        v = to_fraction(value, name)
    else:
        ok = isinstance(value, (int, float, np.floating, np.integer)) and \
            not isinstance(value, bool)
        v = float(value) if ok else float("nan")
    if not 0 <= v <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return v


def extend_policy(P, chain: LengthChain, stop_before=0.0, stop_after=0.0,
                  revise=0.0) -> np.ndarray:
    """A variable-length policy from a fixed-length one (a "pre-trained" starting point).

    At clocks ``n <= N`` the moves are ``P_n`` scaled by ``1 - stop_before - revise``; at clocks
    ``n > N`` (when ``N_max > N``) the moves keep the state (identity: extra steps that do not
    change the answer) scaled by ``1 - stop_after - revise``. The stop column gets
    ``stop_before`` resp. ``stop_after``, the revise column ``revise``.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Fixed-length policy (float64, or Fractions for an exact result).
    chain : LengthChain
    stop_before, stop_after : float or Fraction
        Stop probabilities at clocks ``<= N`` and ``> N``; must be 0 without a stop action.
    revise : float or Fraction
        Revise probability at every clock; must be 0 without a revise action.

    Returns
    -------
    ndarray, shape (N_max, M, A)
    """
    model = chain.model
    P = model.check_policy(P, "P")
    exact = is_exact(P)
    stop_before, stop_after, revise = (
        _probability(v, name) for v, name in
        ((stop_before, "stop_before"), (stop_after, "stop_after"), (revise, "revise")))
    if not chain.stop and (stop_before or stop_after):
        raise ValueError("stop_before and stop_after must be 0 for a chain without a stop "
                         "action (LengthChain.create(..., stop=True))")
    if not chain.revise and revise:
        raise ValueError("revise must be 0 for a chain without a revise action "
                         "(LengthChain.create(..., revise=True))")
    for name, s in (("stop_before", stop_before), ("stop_after", stop_after)):
        if s + revise > 1:
            raise ValueError(f"{name} + revise must be <= 1, got {s} + {revise}")
    M, N, A = model.M, model.N, chain.actions
    dtype = object if exact else float
    if exact:
        stop_before, stop_after, revise = (to_fraction(v) for v in
                                           (stop_before, stop_after, revise))
    Q = np.zeros((chain.budget, M, A), dtype=dtype)
    if exact:
        Q[...] = to_fraction(0)
    eye = np.eye(M, dtype=np.int64).astype(dtype)
    for n in range(chain.budget):
        stop_p = stop_before if n < N else stop_after
        moves = P[n] if n < N else eye
        Q[n, :, :M] = moves * (1 - stop_p - revise)
        if chain.stop:
            Q[n, :, M] = stop_p
        if chain.revise:
            Q[n, :, A - 1] = revise
    return Q


# --- forward and backward over the augmented states -------------------------------------------

def _check_size(chain: LengthChain) -> None:
    M = chain.M
    per_step = M * M * (M if chain.revise else 1)
    check_memory(8.0 * 3 * (chain.budget + 1) * per_step,
                 "the variable-length forward/backward arrays", "M or budget")


def _forward(Q: np.ndarray, chain: LengthChain) -> list[np.ndarray]:
    """Running mass after ``n`` actions, ``n = 0..N_max``: ``m[q, s]`` (no revise) or
    ``f[q, p, s]`` (revise; previous state ``p``)."""
    M = chain.M
    idx = np.arange(M)
    if chain.revise:
        f = np.zeros((M, M, M), dtype=np.int64)
        f[idx, idx, idx] = 1  # question s0 starts at (p, s) = (s0, s0)
        f = f.astype(Q.dtype)
    else:
        f = np.eye(M, dtype=np.int64).astype(Q.dtype)
    out = [f]
    R = chain.revise_index
    for n in range(chain.budget):
        moves = Q[n, :, :M]
        if chain.revise:
            new = f.sum(axis=1)[:, :, None] * moves[None]  # (q, p = s, s'): moves
            back = (f * Q[n, :, R][None, None, :]).sum(axis=2)  # (q, p): revisions to (p, p)
            new[:, idx, idx] = new[:, idx, idx] + back
            f = new
        else:
            f = f @ moves
        out.append(f)
    return out


def _marginal(f: np.ndarray, chain: LengthChain) -> np.ndarray:
    """``m[q, s]``: running mass at the current state."""
    return f.sum(axis=1) if chain.revise else f


def _terminal_by_state(chain: LengthChain, T: np.ndarray, length: int) -> np.ndarray:
    """``t[q, s] = T[q, 1[s = y(q)], length]``: the terminal weight of answering ``s``."""
    correct = chain.model.answers[:, None] == np.arange(chain.M)[None, :]
    return np.where(correct, T[:, 1, length][:, None], T[:, 0, length][:, None])


def _backward(Q: np.ndarray, chain: LengthChain, T: np.ndarray) -> list[np.ndarray]:
    """``V[n][q, (p,) s] = E[T[q, R, |o|] | running at (p,) s after n actions]``."""
    M, L = chain.M, chain.budget
    final = _terminal_by_state(chain, T, L)  # (q, s)
    V = np.repeat(final[:, None, :], M, axis=1) if chain.revise else final
    out = [V]
    R, S = chain.revise_index, chain.stop_index
    for n in range(L - 1, -1, -1):
        moves = Q[n, :, :M]
        if chain.revise:
            u = (V * moves[None]).sum(axis=2)  # (q, s): sum_s' Q[s, s'] V[q, s, s']
        else:
            u = V @ moves.T  # (q, s)
        if S is not None:
            u = u + Q[n, :, S][None, :] * _terminal_by_state(chain, T, n + 1)
        if chain.revise:
            idx = np.arange(M)
            diag = V[:, idx, idx]  # (q, p): V[q, p, p]
            V = u[:, None, :] + diag[:, :, None] * Q[n, :, R][None, None, :]
        else:
            V = u
        out.append(V)
    return out[::-1]


def length_outcome_distribution(Q, chain: LengthChain) -> np.ndarray:
    """Joint law of the outcome and the length, per question.

    Parameters
    ----------
    Q : ndarray, shape (N_max, M, A)
        Policy (validated by :meth:`LengthChain.check_policy`; Fractions stay exact).
    chain : LengthChain

    Returns
    -------
    ndarray, shape (M, 2, N_max + 1)
        ``D[s0, r, l] = Pr(R = r, |o| = l | s0)``; ``D[:, :, 0] = 0``. Stopping at clock ``n``
        from ``s`` adds ``m_{n-1}(s) Q_n[s, stop]`` at ``l = n``, ``r = 1[s = y(s0)]``; the
        mass still running after ``N_max`` actions is added at ``l = N_max``.
    """
    Q = chain.check_policy(Q)
    _check_size(chain)
    M, L = chain.M, chain.budget
    forward = _forward(Q, chain)
    D = np.zeros((M, 2, L + 1), dtype=Q.dtype)
    rows = np.arange(M)
    y = chain.model.answers

    def add(mass: np.ndarray, length: int) -> None:
        hit = mass[rows, y]
        D[:, 1, length] = D[:, 1, length] + hit
        D[:, 0, length] = D[:, 0, length] + (mass.sum(axis=1) - hit)

    if chain.stop:
        for n in range(1, L + 1):
            add(_marginal(forward[n - 1], chain) * Q[n - 1, :, M][None, :], n)
    add(_marginal(forward[L], chain), L)
    return D


def weighted_edges(Q, chain: LengthChain, terminal, w) -> np.ndarray:
    """Expected terminal-weighted action counts (the operator every length-aware rule uses).

    Parameters
    ----------
    Q : ndarray, shape (N_max, M, A)
    chain : LengthChain
    terminal : ndarray, shape (M, 2, N_max + 1)
        ``T[s0, r, l]``: the weight a trajectory of question ``s0`` with outcome ``r`` and
        length ``l`` gets.
    w : ndarray, shape (M,)
        Question weights (including the question distribution).

    Returns
    -------
    ndarray, shape (N_max, M, A)
        ``C[n-1, s, a] = sum_{s0} w(s0) E[T[s0, R, |o|] 1[running at s after n-1 actions,
        A_n = a] | s0]``; the softmax-logit gradient of ``sum w E[T]`` (with ``T`` held fixed)
        is ``C - Q rowsum(C)``.
    """
    Q = chain.check_policy(Q)
    M, L, A = chain.M, chain.budget, chain.actions
    T = np.asarray(terminal)
    if T.shape != (M, 2, L + 1):
        raise ValueError(f"terminal must have shape (M, 2, N_max + 1) = ({M}, 2, {L + 1}), "
                         f"got {T.shape}")
    w = np.asarray(w)
    if w.shape != (M,):
        raise ValueError(f"w must have shape (M,) = ({M},), got {w.shape}")
    _check_size(chain)
    forward, backward = _forward(Q, chain), _backward(Q, chain, T)
    C = np.zeros((L, M, A), dtype=np.result_type(Q.dtype, T.dtype, w.dtype))
    S, R = chain.stop_index, chain.revise_index
    idx = np.arange(M)
    for n in range(1, L + 1):
        f, V = forward[n - 1], backward[n]
        m = _marginal(f, chain) * w[:, None]  # (q, s), weighted
        if chain.revise:
            toward = (m[:, :, None] * V).sum(axis=0)  # sum_q w m[q, s] V[q, s, s']
        else:
            toward = m.T @ V
        C[n - 1, :, :M] = Q[n - 1, :, :M] * toward
        if S is not None:
            stop_value = (m * _terminal_by_state(chain, T, n)).sum(axis=0)
            C[n - 1, :, S] = Q[n - 1, :, S] * stop_value
        if R is not None:
            diag = V[:, idx, idx]  # (q, p)
            back = (f * (diag * w[:, None])[:, :, None]).sum(axis=(0, 1))  # (s,)
            C[n - 1, :, R] = Q[n - 1, :, R] * back
    return C


# --- normalisers and statistics ----------------------------------------------------------------

def length_normaliser(chain: LengthChain, kind: str, constant: float | None = None) -> np.ndarray:
    """``h(l)``, ``l = 0..N_max``: the per-trajectory factor of the loss (``h(0) = 0``).

    ``kind="length"``: ``1/l`` (GRPO's ``1/|o|``); ``"constant"``: ``1/L`` with
    ``L = constant`` (default ``N_max``; Dr. GRPO); ``"none"``: ``1`` (summed tokens).
    """
    L = chain.budget
    lengths = np.arange(L + 1, dtype=float)
    if kind == "length":
        h = np.divide(1.0, lengths, out=np.zeros(L + 1), where=lengths > 0)
    elif kind == "constant":
        value = float(L if constant is None else constant)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"constant must be a finite number > 0, got {constant!r}")
        h = np.full(L + 1, 1.0 / value)
    elif kind == "none":
        h = np.ones(L + 1)
    else:
        raise ValueError(f"normaliser must be one of {NORMALISERS}, got {kind!r}")
    h[0] = 0.0
    return h


def outcome_length_weights(alpha_correct, alpha_wrong, h) -> np.ndarray:
    """``T[s0, r, l] = alpha_r(s0) h(l)``: a trajectory's coefficient from its outcome and length.

    Parameters
    ----------
    alpha_correct, alpha_wrong : array_like, shape (M,)
        ``E[A | correct]`` and ``E[A | wrong]`` per question.
    h : array_like, shape (N_max + 1,)
        :func:`length_normaliser`.
    """
    alpha = np.stack([np.asarray(alpha_wrong), np.asarray(alpha_correct)], axis=1)  # (M, 2)
    return alpha[:, :, None] * np.asarray(h)[None, None, :]


@dataclass(frozen=True)
class LengthStats:
    """Exact outcome and length statistics of a policy on one split of the questions.

    Attributes
    ----------
    J : float
        ``sum w p(s0)``.
    expected_length : float
        ``E|o| = sum w sum_{r, l} l D[s0, r, l]``.
    length_correct, length_wrong : float
        ``E[|o| | R = 1]`` and ``E[|o| | R = 0]`` (NaN when that outcome has no mass).
    length_pmf : ndarray, shape (N_max + 1,)
        ``Pr(|o| = l)``.
    success : ndarray, shape (M,)
        ``p(s0)`` for every question (also those outside the split).
    lengths : ndarray, shape (M,)
        ``E[|o| | s0]`` for every question.
    """

    J: float
    expected_length: float
    length_correct: float
    length_wrong: float
    length_pmf: np.ndarray
    success: np.ndarray
    lengths: np.ndarray


def length_statistics(Q, chain: LengthChain, split: str = "train") -> LengthStats:
    """:class:`LengthStats` of ``Q`` on ``split`` (``"train"``, ``"test"`` or ``"all"``)."""
    D = np.asarray(length_outcome_distribution(Q, chain), dtype=float)
    w = chain.model.weights(split)
    ell = np.arange(chain.budget + 1, dtype=float)
    success = D[:, 1].sum(axis=1)
    lengths = D.sum(axis=1) @ ell
    by_outcome = np.einsum("q,qrl->rl", w, D)  # (2, L+1)
    mass = by_outcome.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(mass > 0, (by_outcome @ ell) / np.where(mass > 0, mass, 1.0), np.nan)
    return LengthStats(J=float(w @ success), expected_length=float(w @ lengths),
                       length_correct=float(cond[1]), length_wrong=float(cond[0]),
                       length_pmf=by_outcome.sum(axis=0), success=success, lengths=lengths)
