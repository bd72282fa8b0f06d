"""Exact engines for a batch of models at once: ``P`` of shape ``(B, N, M, M)``.

One call validates the whole batch with vectorised checks (:mod:`.batch_checks`) and then runs
the trusted kernels of :mod:`rlstar_theory.mdp.exact` and :mod:`rlstar_theory.mdp.operator` on
stacked matrices: every step is one stacked ``matmul`` over the batch, never a Python loop over
the models. Model ``b`` gets exactly what the unbatched engine gives ``P[b]`` (up to the order
of float64 sums; identically with Fractions).

* ``truth`` is shared, shape ``(N, M)``, or per model, ``(B, N, M)`` (``None``: identity);
* ``start`` is shared, shape ``(M,)``, or per model, ``(B, M)`` (``None``: uniform);
* ``y_b(s0) = g_{b,N} o ... o g_{b,1}(s0)`` is model ``b``'s answer to question ``s0``.

For model ``b`` (dropping ``b``), with ``F_{n-1} = P_1 ... P_{n-1}`` and ``B_n = P_{n+1} ... P_N``:

.. math::

    \\text{joint}_n[s, s'] = P_n[s, s'] \\sum_{s_0} D(s_0) F_{n-1}[s_0, s] B_n[s', y(s_0)],
    \\qquad p(s_0) = F_N[s_0, y(s_0)], \\qquad J = \\sum_{s_0} D(s_0)\\, p(s_0).

Memory: one ``(B, N, M, M)`` result and two ``(B, M, M)`` buffers (plus the tempered policy at
``temperature != 1``), checked against the available memory before anything is allocated
(:func:`rlstar_theory.validation.check_memory`).

Backends: numpy arrays (float64, or object arrays of Fractions for exact results) and, through
the optional ``array_api_compat``, arrays of other array-API libraries such as torch tensors
on CUDA (float64 or float32; same code, :mod:`rlstar_theory.mdp.backend`). Results come back in
the input's library and device. The rules' exact steps (:func:`exact_step_batched`) and
:func:`maj_at_k_batched` compute on numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.backend import device_of, to_numpy
from rlstar_theory.mdp.batch_checks import (
    batch_answers,
    check_batch_policy,
    check_batch_start,
    check_batch_truth,
)
from rlstar_theory.mdp.exact import answer_indicator, success_edges, success_probability
from rlstar_theory.mdp.majority import maj_at_k
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.tempering import temper
from rlstar_theory.validation import (
    check_int,
    check_memory,
    check_temperature,
    exact_temperature_power,
)

__all__ = [
    "BatchedPosterior",
    "answer_distribution_batched",
    "answer_entropy_batched",
    "exact_step_batched",
    "expected_return_batched",
    "greedy_correct_batched",
    "maj_at_k_batched",
    "pass_at_k_batched",
    "policy_entropy_batched",
    "posterior_batched",
    "star_step_batched",
    "success_probability_batched",
    "support_size_batched",
    "wrong_step_rate_batched",
]


@dataclass(frozen=True)
class _Batch:
    """A validated batch: policies, answers and start on the policies' device."""

    P: Any  # (B, N, M, M)
    answers: Any  # (M,) or (B, M), int64
    start: Any  # (M,) or (B, M), P's dtype
    identity: bool  # every answer map is the identity
    xp: ModuleType

    @property
    def exact(self) -> bool:
        return self.xp is np and self.P.dtype == object


def _to_device(xp: ModuleType, x: np.ndarray, like, dtype=None):
    if xp is np:
        return x
    return xp.asarray(x, dtype=dtype, device=device_of(like))


def _memory(P, blocks: float, what: str) -> None:
    """Refuse work that needs ``blocks`` more arrays of ``P``'s size (host arrays only)."""
    if str(device_of(P)) != "cpu":
        return  # device memory: the library reports its own out-of-memory error
    itemsize = 8 if getattr(P.dtype, "kind", "") == "O" else int(
        getattr(P.dtype, "itemsize", 8))
    B, N, M = P.shape[0], P.shape[1], P.shape[-1]
    check_memory(blocks * B * N * M * M * itemsize,
                 f"{what}: {blocks:g} arrays of shape ({B}, {N}, {M}, {M})",
                 "the batch size B (split the batch)")


def _prepare(P, truth=None, start=None, temperature=None) -> _Batch:
    P, xp = check_batch_policy(P)
    B, N, M = P.shape[0], P.shape[1], P.shape[-1]
    exact = xp is np and P.dtype == object
    if temperature is not None:
        if exact:
            exact_temperature_power(temperature)
        else:
            check_temperature(temperature)
    answers, identity = batch_answers(check_batch_truth(truth, B, N, M))
    D = check_batch_start(start, B, M, exact=exact)
    return _Batch(P=P, answers=_to_device(xp, answers, P),
                  start=_to_device(xp, D, P, dtype=P.dtype), identity=identity, xp=xp)


def _temper(batch: _Batch, temperature):
    """The sampling policy ``P_tau`` (rows ``∝ P^{1/tau}``); ``P`` itself at ``tau = 1``."""
    xp, P = batch.xp, batch.P
    if xp is np:
        return temper(P, temperature)
    if check_temperature(temperature) == 1.0:
        return P
    logp = xp.log(P) / float(temperature)  # log 0 = -inf: zeros stay zero
    e = xp.exp(logp - xp.max(logp, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def _refit(xp: ModuleType, P, C):
    """:func:`rlstar_theory.mdp.operator.refit` (in place into ``C`` where it can): rows of
    ``C`` normalised, rows without mass keep ``P``'s row."""
    if xp is np:
        steps = np.moveaxis(C, 1, 0)  # the step-major block success_edges stores C in
        if C.dtype != object and steps.flags.c_contiguous:
            rows = steps.reshape(-1, C.shape[-1])  # every row of the batch: one 2-D block
            den = rows @ np.ones(C.shape[-1])
            if (den > 0).all():  # the common case: every row has data
                np.divide(rows, den[:, None], out=rows)
                return C
        return operator.refit(P, C, out=C)
    den = xp.sum(C, axis=-1, keepdims=True)
    visited = den > 0
    return xp.where(visited, C / xp.where(visited, den, xp.ones_like(den)), P)


@dataclass(frozen=True)
class BatchedPosterior:
    """Posterior joints of a batch of models.

    Attributes
    ----------
    joint : array, shape (B, N, M, M)
        ``joint[b, n-1, s, s'] = Pr_b(S_{n-1} = s, S_n = s', success)``.
    success : array, shape (B,)
        ``Pr_b(success)`` of each model's sampling policy (``joint[b, n].sum()`` for every n).
    """

    joint: Any
    success: Any


def _posterior(batch: _Batch, Ps) -> BatchedPosterior:
    joint = success_edges(Ps, batch.start, batch.answers, batch.identity)
    return BatchedPosterior(joint=joint, success=batch.xp.sum(joint[:, 0, :, :], axis=(-2, -1)))


def posterior_batched(P, truth=None, start=None, temperature: float = 1.0) -> BatchedPosterior:
    """Posterior over step transitions given success, for every model of a batch.

    Parameters
    ----------
    P : array, shape (B, N, M, M)
        Row-stochastic policies: float64 numpy, an object array of Fractions (exact), or an
        array-API array (torch on CUDA or the CPU, float64 or float32).
    truth : array_like of int, shape (N, M) or (B, N, M), optional
        Ground-truth maps, shared or per model; identity when omitted.
    start : array_like, shape (M,) or (B, M), optional
        Question distributions, shared or per model; uniform when omitted.
    temperature : float
        The trajectories are sampled from the tempered policies (rows ``∝ P^{1/tau}``).

    Returns
    -------
    BatchedPosterior
        ``joint[b, n-1, s, s'] = P_n[s, s'] sum_{s0} D(s0) F_{n-1}[s0, s] B_n[s', y(s0)]`` of
        model ``b`` (tempered ``P``), and ``success[b] = sum_{s0} D(s0) p(s0)``.
    """
    batch = _prepare(P, truth, start, temperature)
    _memory(batch.P, 1 + (temperature != 1) + 2 / batch.P.shape[1], "posterior_batched")
    return _posterior(batch, _temper(batch, temperature))


def star_step_batched(P, truth=None, start=None, temperature: float = 1.0):
    """One exact (infinite-sample) RL-STaR step of every model of a batch.

    Parameters
    ----------
    P, truth, start, temperature
        As in :func:`posterior_batched`.

    Returns
    -------
    array, shape (B, N, M, M)
        ``P'_b,n[s, s'] = joint_b,n[s, s'] / sum_{s''} joint_b,n[s, s'']`` (the posterior of
        the tempered policy); a row no successful trajectory visits keeps its previous,
        untempered row. Row ``b`` equals :func:`rlstar_theory.star_step` of model ``b``.
    """
    batch = _prepare(P, truth, start, temperature)
    _memory(batch.P, 1 + (temperature != 1) + 2 / batch.P.shape[1], "star_step_batched")
    joint = _posterior(batch, _temper(batch, temperature)).joint
    return _refit(batch.xp, batch.P, joint)  # the joint is ours: normalised in place


def success_probability_batched(P, truth=None):
    """Per-question success probabilities ``p_b(s0) = (P_1 ... P_N)_b[s0, y_b(s0)]``.

    Parameters
    ----------
    P, truth
        As in :func:`posterior_batched`.

    Returns
    -------
    array, shape (B, M)
    """
    batch = _prepare(P, truth)
    return success_probability(batch.P, batch.answers)


def expected_return_batched(P, truth=None, start=None, temperature: float = 1.0):
    """Expected return ``J_b = sum_{s0} D_b(s0) (P_1 ... P_N)_b[s0, y_b(s0)]`` of each model.

    Parameters
    ----------
    P, truth, start
        As in :func:`posterior_batched`.
    temperature : float
        Evaluate the tempered policies instead of ``P`` itself.

    Returns
    -------
    array, shape (B,)
        Probability that the final answer is right (Fractions for exact input).
    """
    batch = _prepare(P, truth, start, temperature)
    xp = batch.xp
    _memory(batch.P, float(temperature != 1), "expected_return_batched: the tempered policies")
    p = success_probability(_temper(batch, temperature), batch.answers)
    return xp.sum(p * batch.start, axis=-1)


def _answer_distribution(xp: ModuleType, P):
    """``P_1 ... P_N`` per model (a new array), shape ``(B, M, M)``."""
    q = P[:, 0, :, :]
    for n in range(1, P.shape[1]):
        q = xp.matmul(q, P[:, n, :, :])
    if P.shape[1] == 1:
        q = q.copy() if xp is np else xp.asarray(q, copy=True)
    return q


def answer_distribution_batched(P):
    """``q_b[s0, y] = Pr_b(S_N = y | s0) = (P_1 ... P_N)_b[s0, y]``, shape ``(B, M, M)``."""
    batch = _prepare(P)
    return _answer_distribution(batch.xp, batch.P)


def _check_ks(ks) -> list[int]:
    values = [ks] if np.ndim(ks) == 0 else list(np.ravel(ks))
    if not values:
        raise ValueError("ks must hold at least one number of attempts k >= 1")
    return [check_int(k, "ks", 1) for k in values]


def pass_at_k_batched(P, ks, truth=None, start=None):
    """``pass@k = sum_{s0} D(s0) (1 - (1 - p(s0))^k)`` of every model, for each ``k`` in ``ks``.

    Parameters
    ----------
    P, truth, start
        As in :func:`posterior_batched` (``start`` weighs the questions: pass
        ``model.weights("test")`` for the test split).
    ks : int or sequence of int
        Numbers of attempts, each ``>= 1``.

    Returns
    -------
    array, shape (B, len(ks))
        Float as ``-expm1(k log1p(-p))`` (small ``p`` keeps its precision); Fractions for exact
        input.
    """
    k_list = _check_ks(ks)
    batch = _prepare(P, truth, start)
    xp = batch.xp
    p = success_probability(batch.P, batch.answers)
    if batch.exact:
        return np.stack([((1 - (1 - p) ** k) * batch.start).sum(axis=-1) for k in k_list],
                        axis=-1)
    k_arr = xp.asarray(np.asarray(k_list, dtype=float), dtype=p.dtype, device=device_of(p))
    with np.errstate(divide="ignore"):
        log_fail = xp.log1p(-xp.clip(p, 0.0, 1.0))  # -inf where p = 1
    solved = -xp.expm1(k_arr[:, None] * log_fail[..., None, :])  # (B, K, M)
    return xp.sum(solved * batch.start[..., None, :], axis=-1)


def maj_at_k_batched(P, ks, truth=None, start=None):
    """Exact maj@k of every model (:func:`rlstar_theory.mdp.majority.maj_at_k`), weighted by
    ``start``: ``sum_{s0} D(s0) maj@k(q(s0, .), y(s0))``.

    All ``B M`` questions go to one call of the majority engine (numpy; a torch input is
    copied to the host and the result back to its device).

    Returns
    -------
    array, shape (B, len(ks))
    """
    batch = _prepare(P, truth, start)
    B, M = batch.P.shape[0], batch.P.shape[-1]
    q = to_numpy(_answer_distribution(batch.xp, batch.P)).astype(float)
    answers = np.broadcast_to(to_numpy(batch.answers), (B, M)).reshape(-1)
    per_question = maj_at_k(q.reshape(B * M, M), answers, ks).reshape(-1, B, M)
    w = np.asarray(to_numpy(batch.start), dtype=float)
    out = np.ascontiguousarray((per_question * w).sum(axis=-1).T)
    return _to_device(batch.xp, out, batch.P)


def greedy_correct_batched(P, truth=None):
    """Whether each model's greedy path from each question ends at its answer; bool ``(B, M)``.

    The greedy path takes ``argmax_{s'} P_n[s, s']`` at every step (lowest index on ties).
    """
    batch = _prepare(P, truth)
    xp = batch.xp
    Pf = batch.P.astype(float) if batch.exact else batch.P
    choice = to_numpy(xp.argmax(Pf, axis=-1))  # (B, N, M): first maximum
    B, N, M = choice.shape
    state = np.broadcast_to(np.arange(M), (B, M))
    for n in range(N):
        state = np.take_along_axis(choice[:, n, :], state, axis=-1)
    return _to_device(xp, state == to_numpy(batch.answers), batch.P)


def _entropy_rows(xp: ModuleType, rows):
    positive = rows > 0
    safe = xp.where(positive, rows, xp.ones_like(rows))
    return -xp.sum(xp.where(positive, rows * xp.log(safe), xp.zeros_like(rows)), axis=-1)


def _float_policies(P):
    batch = _prepare(P)
    return batch, (batch.P.astype(float) if batch.exact else batch.P)


def policy_entropy_batched(P):
    """Mean row entropy ``-sum_{s'} P_n[s, s'] log P_n[s, s']`` over steps and states (nats) of
    each model; shape ``(B,)``."""
    batch, Pf = _float_policies(P)
    return batch.xp.mean(_entropy_rows(batch.xp, Pf), axis=(-2, -1))


def answer_entropy_batched(P, start=None):
    """``sum_{s0} D(s0) H(q(s0, .))``: entropy of the final answer (nats), shape ``(B,)``."""
    batch, Pf = _float_policies(P)
    D = check_batch_start(start, Pf.shape[0], Pf.shape[-1])
    xp = batch.xp
    q = _answer_distribution(xp, Pf)
    return xp.sum(_entropy_rows(xp, q) * _to_device(xp, D, Pf, dtype=Pf.dtype), axis=-1)


def support_size_batched(P):
    """Number of edges ``(n, s, s')`` with ``P_n[s, s'] > 0`` of each model; int ``(B,)``."""
    batch, Pf = _float_policies(P)
    xp = batch.xp
    return xp.sum(xp.astype(Pf > 0, xp.int64), axis=(-3, -2, -1))


def wrong_step_rate_batched(edges, truth=None):
    """Share of each model's (positively weighted) training transitions off the gold map.

    Parameters
    ----------
    edges : array, shape (B, N, M, M)
        Edge weights a rule trained on (e.g. ``Update.train_edges`` of
        :func:`exact_step_batched`); negative weights are ignored.
    truth : array_like of int, shape (N, M) or (B, N, M), optional

    Returns
    -------
    array, shape (B,)
        ``sum_{s' != g_n(s)} max(C, 0) / sum max(C, 0)`` over all steps; NaN when empty.
    """
    from rlstar_theory.mdp.backend import namespace

    xp = namespace(edges)
    if xp is np:
        edges = np.asarray(edges, dtype=float)
    shape = tuple(edges.shape)
    if len(shape) != 4 or shape[2] != shape[3]:
        raise ValueError(f"edges must have shape (B, N, M, M), got shape {shape}")
    B, N, M = shape[0], shape[1], shape[-1]
    maps = check_batch_truth(truth, B, N, M)
    gold = answer_indicator(_to_device(xp, np.ascontiguousarray(maps), edges), edges)
    pos = xp.where(edges > 0, edges, xp.zeros_like(edges))
    total = xp.sum(pos, axis=(-3, -2, -1))
    off = total - xp.sum(pos * gold, axis=(-3, -2, -1))
    safe = xp.where(total > 0, total, xp.ones_like(total))
    return xp.where(total > 0, off / safe, xp.full_like(total, float("nan")))


def exact_step_batched(rule, P, model: ChainMDP, state: Any = None):
    """The exact step of a weighted training rule for a batch of policies of one model.

    ``rule.exact_step`` of every :class:`~rlstar_theory.rules.base.WeightedRule` (STaR, EI,
    rationalization, REINFORCE, RLOO, online RFT, GRPO and Dr. GRPO in one epoch without KL,
    F-ISFT) is the success-edge operator with per-question weights ``w_b = rho q(p_b)`` and a
    refit or gradient step, all of which take the batch axis; this checks the batch and calls
    it once.

    Parameters
    ----------
    rule : WeightedRule
    P : ndarray, shape (B, N, M, M)
        Policies for ``model`` (float64, or Fractions for refit rules with rational weights).
    model : ChainMDP
        Shared by the batch (its truth, start and train split).
    state : optional
        The rule's state (``None`` for these memoryless rules).

    Returns
    -------
    Update
        ``P`` and ``train_edges`` of shape ``(B, N, M, M)``, row ``b`` equal to
        ``rule.exact_step(P[b], model)``. ``samples`` is the rule's nominal count per model
        (rationalization adds its expected rationalized draws summed over the batch).

    Raises
    ------
    ValueError
        For rules whose exact step is not a weight and a mode (dedup, SFT, RFT, PPO, RC-RL,
        GRPO with several epochs or a KL penalty), for non-numpy arrays, or bad input.
    """
    from rlstar_theory.rules.base import WeightedRule

    if not isinstance(rule, WeightedRule) or getattr(rule, "uses_surrogate", False):
        name = getattr(rule, "name", type(rule).__name__)
        raise ValueError(f"rule {name!r} has no batched exact step: only weighted rules (a "
                         "per-question weight and a refit or gradient step, one epoch, no KL) "
                         "take a batch axis; call rule.exact_step once per model")
    if not isinstance(model, ChainMDP):
        raise ValueError(f"model must be a ChainMDP, got {type(model).__name__}")
    batch = _prepare(P)
    if batch.xp is not np:
        raise ValueError("exact_step_batched computes on numpy arrays; P must be a numpy array")
    if batch.P.shape[1:] != (model.N, model.M, model.M):
        raise ValueError(f"P must have shape (B, N, M, M) = (B, {model.N}, {model.M}, "
                         f"{model.M}) for this model, got {batch.P.shape}")
    if batch.exact and model.start_exact is None:
        raise ValueError("an exact (Fraction) policy needs an exact start distribution")
    _memory(batch.P, 3, "exact_step_batched")
    return rule.exact_step(batch.P, model, state)
