"""The chain model and its exact quantities.

``ChainMDP`` (validated once), the success-edge operator and forward/backward products
(:mod:`.exact`), its refit and gradient modes (:mod:`.operator`), exact metrics
(:mod:`.metrics`, :mod:`.majority`) and the count sampler (:mod:`.count_sampler`; trajectories
in :mod:`rlstar_theory.sampling`).
"""

from rlstar_theory.mdp.count_sampler import (
    sample_counts,
    sample_counts_summed,
    sample_group_counts,
    sample_group_counts_summed,
)
from rlstar_theory.mdp.exact import (
    backward_values,
    forward_products,
    success_edges,
    success_probability,
)
from rlstar_theory.mdp.majority import maj_at_k, maj_at_k_limit
from rlstar_theory.mdp.model import ChainMDP, split_questions

__all__ = ["ChainMDP", "backward_values", "forward_products", "maj_at_k", "maj_at_k_limit",
           "sample_counts", "sample_counts_summed", "sample_group_counts",
           "sample_group_counts_summed", "split_questions", "success_edges",
           "success_probability"]
