"""Training data as exact distributions, and the token tables that turn them into soft targets.

A data set is a non-negative weight array ``W`` of shape ``(N, M, M)``: ``W[k-1, s, s']`` is the
probability (or relative count) of the transition ``s -> s'`` at step ``k`` in the data, each
step summing to 1. The training loss is the expected negative log-likelihood of the target
``s_k [EOS]`` given ``s_{k-1} [=]`` under ``W``. Because the target distribution
``T[s, :] = W[s, :] / sum(W[s, :])`` is known exactly, so is the distribution of every target
token given the tokens before it; a training batch takes every (step, input state) with data,
draws one target string from ``T``, and uses the *exact* next-token distributions along it as
soft targets (an unbiased, lower-variance form of the sampled-token loss).

This module is numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.conventions import delta_diag_to_diag_prob
from rlstar_theory.zip.task import EOS, EQ, ONE, TOKENS, ZERO, ZipTask

__all__ = [
    "SequenceTables",
    "TrainingData",
    "sequence_tables",
    "noisy_weights",
    "counts_weights",
    "exact_filtered_weights",
    "training_data",
]


@dataclass(frozen=True)
class SequenceTables:
    """Token ids of every ``s_{k-1} [=] s_k [EOS]`` sequence of the task.

    Attributes
    ----------
    ids : ndarray of int64, shape (N, M, M, L)
        ``ids[k-1, i, j]``: input state ``i`` of step ``k-1``, candidate ``j`` of step ``k``,
        right-padded to the longest step's length ``L`` with ``[EOS]`` (padding follows the
        sequence, so causal attention never lets it change earlier positions, and it is never
        in the loss; ``[EOS]`` rather than ``[PAD]`` only keeps transformers from warning about
        an attention mask).
    lengths : ndarray of int64, shape (N,)
        Unpadded length of each step's sequences.
    prefix_len : ndarray of int64, shape (N,)
        Length of ``s_{k-1} [=]``; the target tokens occupy positions ``prefix_len..length-1``.
    digit_pos : ndarray of int64, shape (N, 2n)
        Absolute positions of the candidate's digit tokens, in order.
    bits : ndarray of int8, shape (N, M, 2n)
        Digits of every candidate, in the order of ``digit_pos``.
    """

    ids: np.ndarray
    lengths: np.ndarray
    prefix_len: np.ndarray
    digit_pos: np.ndarray
    bits: np.ndarray

    @property
    def N(self) -> int:
        """Steps."""
        return self.ids.shape[0]

    @property
    def M(self) -> int:
        """States per step."""
        return self.ids.shape[1]


def sequence_tables(task: ZipTask) -> SequenceTables:
    """All input/candidate token sequences of ``task``."""
    N, M = task.N, task.M
    parts = []
    for k in range(1, N + 1):
        inp = task.ids(k - 1)
        cand = task.ids(k)
        pre = np.concatenate([inp, np.full((M, 1), EQ)], axis=1)
        tgt = np.concatenate([cand, np.full((M, 1), EOS)], axis=1)
        seq = np.concatenate([np.repeat(pre[:, None, :], M, axis=1),
                              np.repeat(tgt[None, :, :], M, axis=0)], axis=2)
        digit_cols = np.flatnonzero((cand[0] == ZERO) | (cand[0] == ONE))
        # every candidate has digits in the same columns (fixed format)
        assert np.all(np.isin(cand[:, digit_cols], (ZERO, ONE)))
        parts.append((seq, pre.shape[1], pre.shape[1] + digit_cols, cand[:, digit_cols] - ZERO))
    L = max(p[0].shape[2] for p in parts)
    ids = np.full((N, M, M, L), EOS, dtype=np.int64)
    for k, (seq, _, _, _) in enumerate(parts):
        ids[k, :, :, :seq.shape[2]] = seq
    return SequenceTables(
        ids=ids,
        lengths=np.array([p[0].shape[2] for p in parts], dtype=np.int64),
        prefix_len=np.array([p[1] for p in parts], dtype=np.int64),
        digit_pos=np.stack([p[2] for p in parts]).astype(np.int64),
        bits=np.stack([p[3] for p in parts]).astype(np.int8),
    )


def noisy_weights(task: ZipTask, delta_diag, truth: np.ndarray | None = None) -> np.ndarray:
    """The paper's noisy generator as exact weights: uniform inputs, each step correct with
    probability ``1/M + delta_diag[k]`` and otherwise uniform over the other ``M - 1`` states.

    Parameters
    ----------
    task : ZipTask
    delta_diag : float or sequence of float
        Diagonal excess per step (the data generator's convention).
    truth : ndarray, shape (N, M), optional
        Ground-truth maps (default: ``task.truth()``).
    """
    N, M = task.N, task.M
    d = np.broadcast_to(np.asarray(delta_diag, dtype=np.float64), (N,))
    truth = task.truth() if truth is None else truth
    W = np.empty((N, M, M))
    for k in range(N):
        p = delta_diag_to_diag_prob(d[k], M)
        if not -1e-12 <= p <= 1 + 1e-12:
            raise ValueError(f"delta_diag {d[k]} out of range for M = {M}")
        W[k] = (1.0 - p) / (M - 1)
        W[k, np.arange(M), truth[k]] = p
    return W / M


def counts_weights(counts: np.ndarray) -> np.ndarray:
    """Weights from kept-trajectory transition counts ``(N, M, M)``; each step sums to 1."""
    counts = np.asarray(counts, dtype=np.float64)
    tot = counts.sum(axis=(1, 2), keepdims=True)
    if np.any(tot <= 0):
        raise ValueError("no kept trajectory: nothing to train on")
    return counts / tot


def exact_filtered_weights(P: np.ndarray, truth: np.ndarray, temperature: float) -> np.ndarray:
    """Exact expected filtered data of policy ``P`` sampled at ``temperature``:
    ``W[k-1, s, s'] = Pr(S_{k-1}=s, S_k=s' | success)``."""
    from rlstar_theory.dense import posterior

    post = posterior(P, truth, temperature=temperature)
    if not post.success > 0:
        raise ValueError("the policy never succeeds: nothing to train on")
    return post.joint / post.success


@dataclass(frozen=True)
class TrainingData:
    """Weights turned into the arrays a training batch gathers from.

    Attributes
    ----------
    pairs : ndarray of int64, shape (P, 2)
        ``(k-1, i)`` of every (step, input state) with data.
    pair_weight : ndarray, shape (P,)
        ``sum_j W[k-1, i, j]``.
    target : ndarray, shape (P, M)
        Target rows ``T[i, :]`` of those pairs.
    soft : ndarray of float32, shape (P, M, L-1, V)
        Soft next-token targets of the sequence (pair, candidate ``j``) at every position
        (zero where nothing is predicted): one-hot on fixed tokens, the exact conditional
        digit distribution on digit tokens.
    floor : float
        Smallest reachable loss (``sum_k sum_i w H(T[i]) / N``, nats per step).
    """

    pairs: np.ndarray
    pair_weight: np.ndarray
    target: np.ndarray
    soft: np.ndarray
    floor: float


def training_data(tables: SequenceTables, W: np.ndarray) -> TrainingData:
    """Soft-target arrays for the data ``W`` (shape ``(N, M, M)``)."""
    W = np.asarray(W, dtype=np.float64)
    N, M = tables.N, tables.M
    if W.shape != (N, M, M) or np.any(W < 0) or not np.all(np.isfinite(W)):
        raise ValueError(f"weights must be a finite non-negative ({N}, {M}, {M}) array")
    row = W.sum(axis=2)
    pairs = np.argwhere(row > 0)
    if len(pairs) == 0:
        raise ValueError("the training data are empty")
    w = row[pairs[:, 0], pairs[:, 1]]
    T = W[pairs[:, 0], pairs[:, 1]] / w[:, None]
    L, V = tables.ids.shape[3], len(TOKENS)
    soft = np.zeros((len(pairs), M, L - 1, V), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.where(T > 0, T * np.log(T), 0.0).sum(axis=1)
    floor = float((w * H).sum() / N)
    for k in range(N):
        sel = np.flatnonzero(pairs[:, 0] == k)
        if len(sel) == 0:
            continue
        Lk, Lp = tables.lengths[k], tables.prefix_len[k]
        ids = tables.ids[k, 0]  # (M, L): target tokens do not depend on the input state
        pos = np.arange(Lp, Lk)  # positions of target tokens
        # one-hot on the fixed tokens of the target (predicted from position p - 1)
        soft[sel[:, None, None], np.arange(M)[None, :, None], pos[None, None, :] - 1,
             ids[None, :, pos]] = 1.0
        bits = tables.bits[k].astype(np.float64)  # (M, 2n)
        Tk = T[sel]  # (S, M)
        for t, p in enumerate(tables.digit_pos[k]):
            match = np.all(bits[:, None, :t] == bits[None, :, :t], axis=2)  # (M, M)
            mass = Tk @ match.T.astype(np.float64)  # (S, M): prefix mass of candidate j
            ones = (Tk * bits[:, t]) @ match.T.astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                q1 = np.where(mass > 0, ones / mass, 0.5)
            soft[sel, :, p - 1, ZERO] = (1.0 - q1).astype(np.float32)
            soft[sel, :, p - 1, ONE] = q1.astype(np.float32)
    return TrainingData(pairs=pairs.astype(np.int64), pair_weight=w, target=T, soft=soft,
                        floor=floor)
