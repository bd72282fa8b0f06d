"""Exact forward/backward quantities and the one success-edge operator every rule uses.

Notation (ALGORITHMS.md §0.2, §0.4): ``P[n-1] = P_n``; ``y(s0)`` is the answer of question
``s0``; ``F_n = P_1 ... P_n`` (``F_0 = I``) and ``B_n = P_{n+1} ... P_N`` (``B_N = I``). For
per-question weights ``w(s0) >= 0`` that already include the question distribution,

.. math::

    C^+_n[w][s, s'] = \\sum_{s_0} w(s_0)\\,F_{n-1}[s_0, s]\\,P_n[s, s']\\,B_n[s', y(s_0)]
                    = \\sum_{s_0} w(s_0) \\Pr(S_{n-1}=s, S_n=s', \\text{success} \\mid s_0),

the ``w``-weighted expected number of successful passes through the edge ``s -> s'``. With
``Fw_{n-1} = diag(w) F_{n-1}`` and ``Bw_n[s', s0] = B_n[s', y(s0)]`` it is
``P_n ⊙ (Fw_{n-1}^T Bw_n^T)``: about ``3N`` matrix products, ``O(N M^3)``, never enumerating
trajectories. ``w = rho`` gives RL-STaR's posterior joint; every training rule is a choice of
``w`` plus a mode (refit or gradient, :mod:`rlstar_theory.mdp.operator`).

Memory: one ``(..., N, M, M)`` result and two ``(..., M, M)`` buffers. The backward products
live in the result's own slots (slot ``n`` holds ``Bw_{n+1}`` until ``C_{n+1}`` has used it)
and the forward products roll through the buffers, so no other ``(N, M, M)`` block is
allocated: fresh blocks above the allocator's mmap threshold cost page faults on every call.
With a batch axis the result is stored step-major (each step's ``(B, M, M)`` slot is one
contiguous block; the returned ``(B, N, M, M)`` array is a view of it), so that no product's
output interleaves with its inputs.

Every function accepts a leading batch axis (``P`` of shape ``(B, N, M, M)`` with weights and
answers of shape ``(B, M)`` or ``(M,)``; stacked ``matmul``, no Python loop over the batch)
and object arrays of :class:`fractions.Fraction` (exact results).

Backends: numpy arrays run on numpy (products written in place with ``out=``). Arrays of
another array-API library (torch tensors, on CUDA or the CPU) run the same code through
``array_api_compat`` (:mod:`rlstar_theory.mdp.backend`): only ``matmul``, elementwise
arithmetic and one-dimensional ``take``; a gather by per-model answers becomes a product with
their one-hot indicator. ``w`` and ``answers`` are then moved to ``P``'s device.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.mdp.backend import device_of, matmul_into, namespace, transpose

__all__ = [
    "answer_indicator",
    "backward_values",
    "forward_products",
    "success_edges",
    "success_probability",
]


def _on_device(xp, x, like, dtype=None):
    """``x`` as an array of ``xp`` on ``like``'s device (numpy: ``np.asarray``, no dtype change:
    weights may be Fractions); no copy where it already is one."""
    if xp is np:
        return np.asarray(x)
    return xp.asarray(x, dtype=dtype, device=device_of(like))


def _step_major(xp, shape: tuple, like):
    """An empty array of ``shape = batch + (S, M, M)`` whose ``S`` step slots are each one
    contiguous block (a view of a ``(S,) + batch + (M, M)`` array). Products between slots
    then write to memory that does not interleave with their inputs, which numpy checks
    cheaply; interleaved slots of a batch make it copy the operands of every product."""
    batch, steps = shape[:-3], shape[-3:]
    order = (steps[0],) + batch + steps[1:]
    if xp is np:
        store = np.empty(order, dtype=like.dtype)
    else:
        store = xp.empty(order, dtype=like.dtype, device=device_of(like))
    if not batch:
        return store
    k = len(batch)
    axes = tuple(range(1, k + 1)) + (0, k + 1, k + 2)
    return np.transpose(store, axes) if xp is np else xp.permute_dims(store, axes)


def _gather_columns(xp, A, answers):
    """``out[..., s, s0] = A[..., s, answers[..., s0]]``."""
    if answers.ndim == 1:
        return A[..., answers] if xp is np else xp.take(A, answers, axis=-1)
    if xp is np:
        idx = np.broadcast_to(answers[..., None, :], A.shape[:-1] + answers.shape[-1:])
        return np.take_along_axis(A, idx, axis=-1)
    # array API before 2024.12 has no take_along_axis: multiply by the one-hot indicator
    return xp.matmul(A, transpose(xp, answer_indicator(answers, A)))


def answer_indicator(answers, like):
    """``Y[..., s0, y] = 1[y = answers[s0]]`` in the dtype of ``like`` (exact ones for Fractions).
    """
    M = answers.shape[-1]
    xp = namespace(like)
    if xp is np:
        Y = (answers[..., :, None] == np.arange(M)).astype(np.int64)
        return Y.astype(like.dtype)
    answers = _on_device(xp, answers, like)
    return xp.astype(answers[..., :, None] == xp.arange(M, device=device_of(like)), like.dtype)


def success_edges(P, w, answers, identity: bool = False):
    """The question-weighted success-edge operator ``C+_n[w]`` (trusted inputs).

    Parameters
    ----------
    P : array, shape (..., N, M, M)
        Row-stochastic policy (already validated); numpy (float64 or Fractions) or any
        array-API array (e.g. a torch tensor on CUDA).
    w : array, shape (..., M)
        Per-question weights ``w(s0)``, including the question distribution.
    answers : array of int, shape (..., M)
        ``y(s0)``.
    identity : bool
        Promise that ``answers`` is ``arange(M)`` (skips a gather; the paper's setting).

    Returns
    -------
    array, shape (..., N, M, M)
        ``C[..., n-1, s, s'] = sum_{s0} w(s0) F_{n-1}[s0, s] P_n[s, s'] B_n[s', y(s0)]``.
    """
    xp = namespace(P)
    N, M = P.shape[-3], P.shape[-1]
    batch = np.broadcast_shapes(tuple(P.shape[:-3]), tuple(w.shape[:-1]),
                                tuple(answers.shape[:-1]))
    out_shape = batch + (N, M, M)
    w = _on_device(xp, w, P, dtype=P.dtype)
    answers = _on_device(xp, answers, P)
    C = _step_major(xp, out_shape, P)
    Pb = P if tuple(P.shape) == out_shape else xp.broadcast_to(P, out_shape)
    wcol = w[..., :, None]
    # equal weights (a uniform question distribution): one scalar multiply at the end instead
    # of two M x M ones; the same numbers up to the last bit's rounding
    scale = None
    if xp is np and w.ndim == 1 and P.dtype != object and N > 1 and (w == w[0]).all():
        scale, wcol = w[0], None
    if N == 1:
        C[..., 0, :, :] = wcol * answer_indicator(xp.broadcast_to(answers, batch + (M,)), P)
        C *= Pb  # in place (numpy: one ufunc with out=C)
        return C
    # backward: slot n holds Bw_{n+1}[s', s0] = B_{n+1}[s', y(s0)], n = 0..N-2 (slot N-1 first)
    C[..., N - 1, :, :] = Pb[..., N - 1, :, :] if identity else _gather_columns(
        xp, Pb[..., N - 1, :, :], answers)
    for n in range(N - 2, 0, -1):
        matmul_into(xp, Pb[..., n, :, :], C[..., n + 1, :, :], C[..., n, :, :])
    # step 1 (slot 0): C_1[s, s'] = w(s) Bw_1[s', s]
    if wcol is None:
        C[..., 0, :, :] = transpose(xp, C[..., 1, :, :])
        F = Pb[..., 0, :, :]  # Fw_1 / w (only read: the products go into the buffers)
    else:
        C[..., 0, :, :] = transpose(xp, C[..., 1, :, :]) * wcol
        F = wcol * Pb[..., 0, :, :]  # Fw_1
    # forward, steps 2..N-1: slot n gets C_{n+1} = Fw_n^T Bw_{n+1}^T; slot n's Bw has served
    if xp is np:
        buffers = np.empty((2,) + batch + (M, M), dtype=P.dtype)
    else:
        buffers = xp.empty((2,) + batch + (M, M), dtype=P.dtype, device=device_of(P))
    for n in range(1, N - 1):
        matmul_into(xp, transpose(xp, F), transpose(xp, C[..., n + 1, :, :]), C[..., n, :, :])
        F = matmul_into(xp, F, Pb[..., n, :, :], buffers[n % 2])  # Fw_{n+1}
    # step N (slot N-1): C_N[s, s'] = sum_{s0: y(s0) = s'} Fw_{N-1}[s0, s]
    if identity:
        C[..., N - 1, :, :] = transpose(xp, F)
    elif xp is np and answers.ndim == 1 and np.bincount(answers, minlength=M).max() == 1:
        C[..., N - 1, :, :][..., answers] = transpose(xp, F)  # a permutation: column y(s0)
    elif xp is np and (np.sort(answers, axis=-1) == np.arange(M)).all():
        # per-model permutations: C_N[s, y] = Fw[y^{-1}(y), s], a gather (cheaper than a product)
        inverse = np.broadcast_to(np.argsort(answers, axis=-1)[..., None, :], batch + (M, M))
        C[..., N - 1, :, :] = np.take_along_axis(transpose(xp, F), inverse, axis=-1)
    else:
        Y = answer_indicator(xp.broadcast_to(answers, batch + (M,)), P)
        matmul_into(xp, transpose(xp, F), Y, C[..., N - 1, :, :])
    C *= Pb
    if scale is not None:
        C *= scale
    return C


def forward_products(P):
    """``F[..., n] = P_1 ... P_n`` for ``n = 0..N`` (``F_0 = I``); shape ``(..., N+1, M, M)``."""
    xp = namespace(P)
    N, M = P.shape[-3], P.shape[-1]
    shape = tuple(P.shape[:-3]) + (N + 1, M, M)
    F = _step_major(xp, shape, P)
    if xp is np:
        F[..., 0, :, :] = np.eye(M, dtype=np.int64).astype(P.dtype)
    else:
        F[..., 0, :, :] = xp.eye(M, dtype=P.dtype, device=device_of(P))
    for n in range(N):
        matmul_into(xp, F[..., n, :, :], P[..., n, :, :], F[..., n + 1, :, :])
    return F


def backward_values(P, answers):
    """Success probability from every state at every step, per question.

    ``V[..., n, s, s0] = Pr(S_N = y(s0) | S_n = s) = B_n[s, y(s0)]`` for ``n = 0..N``; shape
    ``(..., N+1, M, M)`` (state axis before question axis). ``V_N[s, s0] = 1[s = y(s0)]``.
    These are the exact values ``V_n`` of ALGORITHMS.md §0.2 (``Q_n(s, s') = V_n(s')``).
    """
    xp = namespace(P)
    N, M = P.shape[-3], P.shape[-1]
    batch = np.broadcast_shapes(tuple(P.shape[:-3]), tuple(answers.shape[:-1]))
    V = _step_major(xp, batch + (N + 1, M, M), P)
    V[..., N, :, :] = transpose(xp, answer_indicator(xp.broadcast_to(
        _on_device(xp, answers, P), batch + (M,)), P))
    for n in range(N - 1, -1, -1):
        matmul_into(xp, P[..., n, :, :], V[..., n + 1, :, :], V[..., n, :, :])
    return V


def success_probability(P, answers):
    """``p(s0) = (P_1 ... P_N)[s0, y(s0)]``, shape ``(..., M)``.

    Computed backwards from the answers' indicator columns, one ``(M, M)`` product per step.
    """
    xp = namespace(P)
    V = transpose(xp, answer_indicator(answers, P))  # V_N[s, s0]
    for n in range(P.shape[-3] - 1, -1, -1):
        V = xp.matmul(P[..., n, :, :], V)
    if xp is np:
        return np.diagonal(V, axis1=-2, axis2=-1).copy()
    # the diagonal V[s0, s0] without the linalg extension
    return xp.sum(V * xp.eye(V.shape[-1], dtype=V.dtype, device=device_of(V)), axis=-2)
