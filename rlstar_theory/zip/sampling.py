"""Sampling: RL-STaR trajectories from learned matrices, and token-level generation from the
model itself (used to check that the scored matrices are the model's distributions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.dense import answer_map
from rlstar_theory.sampling import sample_trajectories as core_sample_trajectories

__all__ = ["SampleResult", "sample_trajectories", "generate_states"]


@dataclass(frozen=True)
class SampleResult:
    """Kept trajectories of one RL-STaR sampling round.

    Attributes
    ----------
    counts : ndarray of int64, shape (N, M, M)
        ``counts[k-1, s, s']``: transitions ``s -> s'`` at step ``k`` in kept trajectories.
    kept, total : int
        Kept (right final answer) and sampled trajectories.
    kept_per_question : ndarray of int64, shape (M,)
    """

    counts: np.ndarray
    kept: int
    total: int
    kept_per_question: np.ndarray

    @property
    def success_rate(self) -> float:
        """``kept / total``: a Monte-Carlo estimate of ``J`` of the tempered policy."""
        return self.kept / self.total


def sample_trajectories(P: np.ndarray, truth: np.ndarray, per_question: int,
                        temperature: float, rng: np.random.Generator,
                        start: np.ndarray | None = None) -> SampleResult:
    """Sample ``per_question`` trajectories for every question from the tempered ``P`` and
    keep those whose final answer is right.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        Row-stochastic policy (the learned matrices).
    truth : ndarray of int, shape (N, M)
        Ground-truth maps; the answer of question ``s0`` is ``g_N(...g_1(s0))``.
    per_question : int
    temperature : float
        Rows ``∝ P**(1/temperature)``.
    rng : numpy.random.Generator
    start : ndarray, shape (M,), optional
        Question weights; only the questions with weight > 0 are sampled (default: all).

    Notes
    -----
    The trajectories come from :func:`rlstar_theory.sampling.sample_trajectories` (the same
    sampler as the finite-sample engine); this function only filters and counts them.
    """
    paths = core_sample_trajectories(P, per_question, rng, start, temperature=temperature)
    N, M = paths.shape[1] - 1, np.shape(P)[1]
    q = paths[:, 0]
    kept = paths[paths[:, N] == answer_map(truth)[q]]
    counts = np.stack([np.bincount(kept[:, k] * M + kept[:, k + 1], minlength=M * M)
                       .reshape(M, M) for k in range(N)]).astype(np.int64)
    per_q = np.bincount(kept[:, 0], minlength=M).astype(np.int64)
    return SampleResult(counts=counts, kept=len(kept), total=int(q.size),
                        kept_per_question=per_q)


def generate_states(model, tables, step: int, inputs: np.ndarray, seed: int) -> np.ndarray:
    """Generate step ``step``'s state token by token from the model (temperature 1, whole
    vocabulary) after ``s_{step-1}(i) [=]`` for every ``i`` in ``inputs``.

    Returns the index of the generated state among the valid candidates, or ``-1`` when the
    generated tokens are not a valid state followed by ``[EOS]``.
    """
    import torch

    k = step - 1
    Lk, Lp = int(tables.lengths[k]), int(tables.prefix_len[k])
    inputs = np.asarray(inputs, dtype=np.int64)
    gen = torch.Generator().manual_seed(int(seed))
    seq = torch.as_tensor(tables.ids[k, inputs, 0, :Lp])
    with torch.inference_mode():
        for _ in range(Lp, Lk):
            logits = model(input_ids=seq).logits[:, -1].double()
            tok = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
            seq = torch.cat([seq, tok], dim=1)
    out = seq[:, Lp:].numpy()
    cand = tables.ids[k, 0, :, Lp:Lk]  # (M, Lk - Lp)
    lookup = {tuple(row): j for j, row in enumerate(cand.tolist())}
    return np.array([lookup.get(tuple(row), -1) for row in out.tolist()], dtype=np.int64)
