"""Exact per-step advantages (an exact critic, GAE ``lambda = 0``), summed by edge and by sign.

Notation of ALGORITHMS.md §0.2 and §7b: ``P[n-1] = P_n``, ``F_n = P_1 ... P_n``, and a question
``s0`` with weight ``w(s0)`` (the question distribution included) visits the edge ``s -> s'``
at step ``n`` with probability ``F_{n-1}[s0, s] P_n[s, s']``.

**Visits.** ``Call_n[w][s, s'] = sum_{s0} w(s0) F_{n-1}[s0, s] P_n[s, s']``
(:func:`visit_edges`, ``O(N M^2)``).

**KL penalty in the reward.** A step ``s -> s'`` earns ``-beta L_n[s, s']`` with
``L_n = log(P_n / P_ref,n)``, and the final step also earns the outcome reward ``R``. With the
KL still to go ``K_N = 0``, ``K_{n-1}(s) = sum_{s'} P_n[s, s'] (L_n[s, s'] + K_n(s'))``
(:func:`kl_to_go`), the exact critic is

.. math::

    V^{KL}_n(s; s_0) = U_n(s; s_0) - \\beta K_n(s),

where ``U_n`` is the expected outcome reward to go: ``U_n(s; s0) = Pr(S_N = y(s0) | S_n = s)``
for the outcome reward and ``U_n = q`` (``n < N``) for a reward ``R ~ Bernoulli(q)`` independent
of the trajectory; ``U_N`` is the realised reward. The ``lambda = 0`` advantage of the step is

.. math::

    A_n = r_n + V^{KL}_n(s') - V^{KL}_{n-1}(s)
        = a^{KL}_n[s, s'] + U_n(s'; s_0) - U_{n-1}(s; s_0),\\qquad
    a^{KL}_n[s, s'] = -\\beta\\,(L_n[s, s'] + K_n(s') - K_{n-1}(s))

(:func:`penalty_advantages`). For the outcome reward it is deterministic given
``(s0, n, s, s')``; the Bernoulli reward makes the last step's advantage two-valued.

**Sums by sign.** The clipped surrogate treats positive and negative advantages differently, so
it needs ``pos_n[s, s'] = sum_{s0} w F_{n-1} P_n E[max(A_n, 0) | s0, s, s']`` and the same with
``min(A_n, 0)`` (:func:`critic_edges`). The sign depends on the question, so the positive
part costs ``O(N Q M^2)`` element-wise work for ``Q`` questions (:func:`positive_edge_sums`, in
blocks of about 2^21 entries, with the sum over questions as batched matrix products). The
sum ``pos + neg`` is linear and needs only matrix products (:func:`critic_mean_edges`):
``Call[w] ⊙ a^KL + C+[w] - P ⊙ rowsum(C+[w])`` for the outcome reward (the ``U_{n-1}(s)``
term sums to the row sums of ``C+``) and ``Call[w] ⊙ a^KL`` for the Bernoulli reward; the
negative part is that sum minus the positive part.

**Per-step rewards** (``step_rewards``, outcome reward only; ALGORITHMS.md §1d). A reward
``r_n(s'; s0)`` for arriving at ``s'`` at step ``n`` adds its expectation still to come
``G_N = 0``, ``G_{n-1}(s) = sum_{s'} P_n[s, s'] (r_n(s') + G_n(s'))`` (:func:`reward_to_go`) to
the critic, ``U_n -> U_n + G_n``, and ``r_n(s')`` to the step's advantage:
``A_n = a^KL_n + r_n(s') + U_n(s') - U_{n-1}(s)``. Its part of ``pos + neg`` is
``E - P ⊙ rowsum(E)`` with ``E_n[s, s'] = sum_{s0} w F_{n-1}[s0, s] P_n[s, s'] (r_n + G_n)(s')``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.mdp.exact import backward_values, success_edges
from rlstar_theory.mdp.model import ChainMDP

__all__ = [
    "REWARDS",
    "AdvantageTerm",
    "critic_edges",
    "critic_mean_edges",
    "kl_to_go",
    "log_ratio",
    "penalty_advantages",
    "positive_edge_sums",
    "reward_to_go",
    "visit_edges",
]

#: outcome rewards: the verifier's 1[S_N = y(s0)], or a coin independent of the trajectory
REWARDS = ("outcome", "bernoulli")

#: entries of one (questions, M, M) block of the sign split
CHUNK_ENTRIES = 2**21

def visit_edges(P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted visits of every edge: ``Call_n[w][s, s'] = sum_{s0} w F_{n-1}[s0, s] P_n[s, s']``.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        Policy (float64 or Fractions).
    w : ndarray, shape (M,)
        Question weights.

    Returns
    -------
    ndarray, shape (N, M, M)
        Computed forwards with one vector-matrix product per step (``d_n = d_{n-1} P_n``).
    """
    out = np.empty(P.shape, dtype=P.dtype)
    d = np.asarray(w)
    for n in range(P.shape[0]):
        out[n] = d[:, None] * P[n]
        d = d @ P[n]
    return out


def log_ratio(P: np.ndarray, P_ref: np.ndarray) -> np.ndarray:
    """``L_n[s, s'] = log(P_n[s, s'] / P_ref,n[s, s'])`` where ``P > 0``, else 0.

    Raises ValueError when ``P_ref`` is 0 on an edge where ``P`` is not (the penalty would be
    infinite).
    """
    P = np.asarray(P, dtype=float)
    P_ref = np.asarray(P_ref, dtype=float)
    used = P > 0
    if np.any(used & (P_ref <= 0)):
        raise ValueError("P_ref must be > 0 wherever the policy is > 0: the KL penalty "
                         "log(P / P_ref) is infinite on an edge that P_ref never takes")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(used, np.log(np.where(used, P, 1.0) / np.where(used, P_ref, 1.0)), 0.0)


def kl_to_go(P: np.ndarray, P_ref: np.ndarray) -> np.ndarray:
    """Expected log-ratio still to come: ``K_N = 0``, ``K_{n-1} = sum_{s'} P_n (L_n + K_n(s'))``.

    Returns
    -------
    ndarray, shape (N + 1, M)
        ``K[n, s] = E[sum_{m > n} L_m(S_{m-1}, S_m) | S_n = s]``; ``K[0, s0]`` is the KL of the
        path distributions ``KL(pi(.|s0) || pi_ref(.|s0))``.
    """
    P = np.asarray(P, dtype=float)
    L = log_ratio(P, P_ref)
    N, M = P.shape[0], P.shape[1]
    K = np.zeros((N + 1, M))
    for n in range(N, 0, -1):
        K[n - 1] = (P[n - 1] * (L[n - 1] + K[n][None, :])).sum(axis=1)
    return K


def penalty_advantages(P: np.ndarray, P_ref: np.ndarray, beta: float) -> np.ndarray:
    """The KL penalty's part of the exact advantage: ``-beta (L_n + K_n(s') - K_{n-1}(s))``.

    Parameters
    ----------
    P, P_ref : ndarray, shape (N, M, M)
        The policy that samples and the reference.
    beta : float
        Coefficient of the per-step penalty ``-beta log(P / P_ref)``.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``a[n-1, s, s']`` (0 everywhere when ``beta = 0``). Its ``P_n``-average over ``s'`` is 0
        on every row: the penalty's advantage has mean 0 under the policy.
    """
    P = np.asarray(P, dtype=float)
    if beta == 0:
        return np.zeros(P.shape)
    L = log_ratio(P, P_ref)
    K = kl_to_go(P, P_ref)
    return -beta * (L + K[1:, None, :] - K[:-1, :, None])


@dataclass(frozen=True)
class AdvantageTerm:
    """One value of a step's advantage, for a block of questions.

    ``A[q, s, s'] = const[q] + scale[q] base[s, s'] + after[q, s'] - before[q, s]``, taken with
    probability ``prob[q, s']`` given ``(q, s, s')``. A missing part is 0 (``scale``: 1,
    ``prob``: 1).
    """

    base: np.ndarray | None = None
    const: np.ndarray | None = None
    scale: np.ndarray | None = None
    after: np.ndarray | None = None
    before: np.ndarray | None = None
    prob: np.ndarray | None = None

    def positive_part(self, out: np.ndarray, idx: slice) -> np.ndarray:
        """``prob max(A, 0)`` for the questions ``idx``, written into ``out`` (in place)."""
        if self.base is None:
            out[...] = 0.0
        elif self.scale is None:
            out[...] = self.base
        else:
            np.multiply(self.scale[idx][:, None, None], self.base[None], out=out)
        if self.const is not None:
            out += self.const[idx][:, None, None]
        if self.after is not None:
            out += self.after[idx][:, None, :]
        if self.before is not None:
            out -= self.before[idx][:, :, None]
        np.maximum(out, 0.0, out=out)
        if self.prob is not None:
            out *= self.prob[idx][:, None, :]
        return out


def positive_edge_sums(rows: np.ndarray, P_n: np.ndarray, terms: list[AdvantageTerm],
                       chunk_entries: int = CHUNK_ENTRIES) -> np.ndarray:
    """Expected positive part of a step's advantage, summed over questions, by edge.

    Parameters
    ----------
    rows : ndarray, shape (Q, M)
        ``rows[q, s]``: weighted probability that question ``q`` is in state ``s`` before the
        step (``w(s0) F_{n-1}[s0, s]``).
    P_n : ndarray, shape (M, M)
        The step's transition matrix.
    terms : list of AdvantageTerm
        The values the advantage takes given ``(q, s, s')`` and their probabilities.
    chunk_entries : int
        Entries of one ``(questions, M, M)`` work block (two such blocks are allocated).

    Returns
    -------
    ndarray, shape (M, M)
        ``pos[s, s'] = sum_q rows[q, s] P_n[s, s'] sum_terms prob max(A, 0)``. The negative part
        is the (linear) mean minus this.
    """
    Q, M = rows.shape
    chunk = max(1, min(Q, chunk_entries // (M * M)))
    buffer = np.empty((chunk, M, M))
    total = np.empty((chunk, M, M)) if len(terms) > 1 else None
    pos = np.zeros((M, M))
    for lo in range(0, Q, chunk):
        idx = slice(lo, min(Q, lo + chunk))
        size = idx.stop - lo
        part = terms[0].positive_part(buffer[:size], idx)
        if total is not None:
            acc = total[:size]
            acc[...] = part
            for term in terms[1:]:
                acc += term.positive_part(buffer[:size], idx)
            part = acc
        # pos[s, t] += sum_q rows[q, s] part[q, s, t]: a batch of M vector-matrix products
        pos += np.matmul(rows[idx].T[:, None, :], part.transpose(1, 0, 2))[:, 0, :]
    return pos * P_n


def reward_to_go(P: np.ndarray, step_rewards: np.ndarray) -> np.ndarray:
    """Expected per-step reward still to come: ``G_N = 0``, ``G_{n-1} = P_n (r_n + G_n)``.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        The policy.
    step_rewards : ndarray, shape (N, M, Q)
        ``r[n-1, s', q]``: the reward for arriving at ``s'`` at step ``n`` on question ``q``.

    Returns
    -------
    ndarray, shape (N + 1, M, Q)
        ``G[n, s, q] = E[sum_{m > n} r_m(S_m; q) | S_n = s]``.
    """
    P = np.asarray(P, dtype=float)
    N, M = P.shape[0], P.shape[1]
    G = np.zeros((N + 1, M, step_rewards.shape[-1]))
    for n in range(N, 0, -1):
        G[n - 1] = P[n - 1] @ (step_rewards[n - 1] + G[n])
    return G


def _step_reward_mean_edges(P: np.ndarray, w: np.ndarray, step_rewards: np.ndarray) -> np.ndarray:
    """``E - P ⊙ rowsum(E)``, ``E_n[s, s'] = P_n[s, s'] sum_{s0} w F_{n-1}[s0, s] (r_n + G_n)``."""
    G = reward_to_go(P, step_rewards)
    rows = np.diag(w)
    E = np.empty(P.shape)
    for n in range(1, P.shape[0] + 1):
        E[n - 1] = P[n - 1] * (rows.T @ (step_rewards[n - 1] + G[n]).T)
        rows = rows @ P[n - 1]
    return E - P * E.sum(axis=-1, keepdims=True)


def _check_reward(reward: str) -> str:
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    return reward


def critic_edges(P: np.ndarray, model: ChainMDP, w: np.ndarray, beta: float = 0.0,
                 P_ref: np.ndarray | None = None, reward: str = "outcome",
                 reward_prob: float = 0.5,
                 step_rewards: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact positive and negative parts of the ``lambda = 0`` advantages, by edge.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        The (validated, float64) policy that samples.
    model : ChainMDP
    w : ndarray, shape (M,)
        Question weights (the question distribution included).
    beta : float
        Coefficient of the per-step KL penalty ``-beta log(P / P_ref)`` in the reward.
    P_ref : ndarray, shape (N, M, M), optional
        Reference policy of the penalty (needed when ``beta > 0``).
    reward : {"outcome", "bernoulli"}
        ``1[S_N = y(s0)]``, or ``R ~ Bernoulli(reward_prob)`` independent of the trajectory.
    reward_prob : float
        ``q`` of the Bernoulli reward.
    step_rewards : ndarray, shape (N, M, M), optional
        Per-step rewards ``r[n-1, s', s0]`` on top of the outcome reward (module docstring;
        ``reward="outcome"`` only).

    Returns
    -------
    pos, neg : ndarray, shape (N, M, M)
        ``pos_n[s, s'] = sum_{s0} w(s0) F_{n-1}[s0, s] P_n[s, s'] E[max(A_n, 0) | s0, s, s']``
        with ``A_n = a^KL_n[s, s'] + U_n(s'; s0) - U_{n-1}(s; s0)`` (module docstring);
        ``neg`` the same with ``min``. ``pos >= 0 >= neg``.
    """
    _check_reward(reward)
    if step_rewards is not None and reward != "outcome":
        raise ValueError(f"step_rewards need reward='outcome', got reward={reward!r}")
    P = np.asarray(P, dtype=float)
    w = np.asarray(w, dtype=float)
    N, M = P.shape[0], P.shape[1]
    a_kl = penalty_advantages(P, P_ref, beta) if beta > 0 else None
    pos = np.empty((N, M, M))
    if reward == "bernoulli":  # U_n = q for n < N: every advantage is question-independent
        q = reward_prob
        d = w[None, :]
        for n in range(1, N + 1):
            base = None if a_kl is None else a_kl[n - 1]
            if n < N:
                terms = [AdvantageTerm(base=base)]
            else:
                terms = [AdvantageTerm(base, const=np.array([1.0 - q]), prob=np.full((1, M), q)),
                         AdvantageTerm(base, const=np.array([-q]), prob=np.full((1, M), 1 - q))]
            pos[n - 1] = positive_edge_sums(d, P[n - 1], terms)
            d = d @ P[n - 1]
    else:
        V = backward_values(P, model.answers)  # V[n, s, s0] = U_n(s; s0)
        if step_rewards is not None:
            V = V + reward_to_go(P, step_rewards)
        questions = np.flatnonzero(w != 0)
        rows = np.eye(M)[questions] * w[questions, None]
        for n in range(1, N + 1):
            after = V[n] if step_rewards is None else V[n] + step_rewards[n - 1]
            term = AdvantageTerm(None if a_kl is None else a_kl[n - 1],
                                 after=np.ascontiguousarray(after[:, questions].T),
                                 before=np.ascontiguousarray(V[n - 1][:, questions].T))
            pos[n - 1] = positive_edge_sums(rows, P[n - 1], [term])
            rows = rows @ P[n - 1]
    mean = critic_mean_edges(P, model, w, beta, P_ref, reward, step_rewards)
    neg = np.minimum(mean - pos, 0.0)
    return pos, neg


def critic_mean_edges(P: np.ndarray, model: ChainMDP, w: np.ndarray, beta: float = 0.0,
                      P_ref: np.ndarray | None = None, reward: str = "outcome",
                      step_rewards: np.ndarray | None = None) -> np.ndarray:
    """``pos + neg`` of :func:`critic_edges` with matrix products only (``O(N M^3)``).

    Returns
    -------
    ndarray, shape (N, M, M)
        ``Call[w] ⊙ a^KL + C+[w] - P ⊙ rowsum(C+[w])`` (outcome reward; plus
        ``E - P ⊙ rowsum(E)`` for ``step_rewards``, module docstring) or ``Call[w] ⊙ a^KL``
        (Bernoulli reward: its advantage has mean 0 at every step).
    """
    _check_reward(reward)
    if step_rewards is not None and reward != "outcome":
        raise ValueError(f"step_rewards need reward='outcome', got reward={reward!r}")
    P = np.asarray(P, dtype=float)
    w = np.asarray(w, dtype=float)
    total = visit_edges(P, w) * penalty_advantages(P, P_ref, beta) if beta > 0 \
        else np.zeros(P.shape)
    if reward == "outcome":
        C = success_edges(P, w, model.answers, model.identity)
        total += C - P * C.sum(axis=-1, keepdims=True)
        if step_rewards is not None:
            total += _step_reward_mean_edges(P, w, step_rewards)
    return total
