"""The model's exact transition matrices: score every valid next state of every state."""

from __future__ import annotations

import numpy as np
import torch

from rlstar_theory.zip.data import SequenceTables

__all__ = ["score_matrices"]


@torch.inference_mode()
def score_matrices(model, tables: SequenceTables, batch: int = 4096,
                   return_valid_mass: bool = False):
    """Learned ``(N, M, M)`` row-stochastic matrices (float64), optionally with the valid mass.

    ``P[k-1, i, j]`` is the model's log-likelihood ``ll[i, j]`` of ``s_k(j) [EOS]`` after
    ``s_{k-1}(i) [=]`` (teacher forced, summed over the target tokens), normalised over the
    ``M`` valid candidates ``j`` by a softmax in float64.

    With ``return_valid_mass=True`` also returns ``v[k-1, i] = sum_j exp(ll[i, j])``, shape
    ``(N, M)``: the probability that generating after ``s_{k-1}(i) [=]`` gives a valid state
    of step ``k`` (1 minus the mass on invalid strings), so that ``P * v[..., None]`` are the
    model's raw (sub-stochastic) transition probabilities.
    """
    model.eval()
    N, M = tables.N, tables.M
    out = np.empty((N, M, M))
    mass = np.empty((N, M))
    for k in range(N):
        Lk, Lp = int(tables.lengths[k]), int(tables.prefix_len[k])
        ids = torch.as_tensor(tables.ids[k, :, :, :Lk].reshape(M * M, Lk))
        ll = torch.empty(M * M, dtype=torch.float64)
        for a in range(0, M * M, batch):
            x = ids[a:a + batch]
            logp = torch.log_softmax(model(input_ids=x).logits[:, Lp - 1:Lk - 1].double(), -1)
            ll[a:a + batch] = logp.gather(2, x[:, Lp:Lk, None])[..., 0].sum(1)
        ll = ll.reshape(M, M)
        out[k] = torch.softmax(ll, dim=1).numpy()
        mass[k] = torch.exp(torch.logsumexp(ll, dim=1)).numpy()
    return (out, mass) if return_valid_mass else out
