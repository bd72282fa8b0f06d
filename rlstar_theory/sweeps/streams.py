"""One independent random stream per cell, fixed by the root seed and the cell's index.

Cell ``i`` of a sweep with root seed ``r`` draws from
``numpy.random.default_rng(SeedSequence(r, spawn_key=(i,)))``. That is exactly the ``i``-th child
of ``SeedSequence(r).spawn(n_cells)`` (``spawn`` gives child ``i`` the spawn key ``(i,)``), built
directly so a worker needs only ``(r, i)`` and the driver never materialises ``n_cells`` seed
objects. The stream depends on nothing else: not on the number of workers, the chunking, nor the
order in which cells run.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["check_root_seed", "cell_seed_sequence", "cell_rng"]


def check_root_seed(root_seed) -> int:
    """``root_seed`` must be an integer >= 0 (the entropy of ``numpy.random.SeedSequence``)."""
    if isinstance(root_seed, bool) or not isinstance(root_seed, (Integral, np.integer)):
        raise ValueError(f"root_seed must be an integer >= 0, got {root_seed!r}")
    if root_seed < 0:
        raise ValueError(f"root_seed must be an integer >= 0, got {root_seed}")
    return int(root_seed)


def cell_seed_sequence(root_seed: int, index: int) -> np.random.SeedSequence:
    """Seed sequence of cell ``index``: ``SeedSequence(root_seed).spawn(n)[index]`` for any
    ``n > index``.

    Parameters
    ----------
    root_seed : int
        Root seed ``r >= 0`` of the sweep.
    index : int
        Cell number ``i >= 0`` in the full grid (C order).

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(r, spawn_key=(i,))``.
    """
    if isinstance(index, bool) or not isinstance(index, (Integral, np.integer)) or index < 0:
        raise ValueError(f"index must be an integer >= 0, got {index!r}")
    return np.random.SeedSequence(check_root_seed(root_seed), spawn_key=(int(index),))


def cell_rng(root_seed: int, index: int) -> np.random.Generator:
    """Generator of cell ``index``: ``default_rng(cell_seed_sequence(root_seed, index))``."""
    return np.random.default_rng(cell_seed_sequence(root_seed, index))
