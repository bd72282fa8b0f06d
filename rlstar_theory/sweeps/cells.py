"""Ready-made cell functions for sweeps, registered by name (the ``cell`` key of a config).

A cell function is called as ``fn(rng, **params)``: ``rng`` is the cell's own
:class:`numpy.random.Generator` (see :mod:`rlstar_theory.sweeps.streams`), ``params`` the cell's
grid coordinates (except the replicate dimension ``seed``) plus the sweep's fixed parameters. It
returns a mapping ``{name: scalar or array}`` of numbers or booleans, with the same names and
shapes in every cell. :class:`CellFunction` adds the parameter list (checked before anything runs)
and the names of the output arrays' own dimensions (e.g. ``iteration``).

Registered cells
----------------
``symmetric_J``
    exact closed-form RL-STaR on ``P(lam0)`` (all ``N`` steps equal): ``J_t``, ``1 - J_t`` and
    ``lam_t`` for ``t = 0..T``.
``star_stall``
    sampled RL-STaR with ``K`` trajectories per question from ``P(lam0)``: whether it stalls, when,
    and the exact ``J`` of each refitted policy (counts drawn by the K-independent count sampler
    by default, ``sampler = "trajectories"`` for the trajectory sampler).
``escape_outcome``, ``critical_temperature``, ``critical_temperature_dense``, ``star_bias``
    the open questions (:mod:`rlstar_theory.open_questions`): outcomes of exact training from
    random non-symmetric models, the critical temperature, and the finite-sample bias.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from rlstar_theory.dense import expected_return, refit
from rlstar_theory.mdp.count_sampler import sample_counts_summed
from rlstar_theory.open_questions import bias as _oq_bias
from rlstar_theory.open_questions import escape as _oq_escape
from rlstar_theory.open_questions import temperature as _oq_temperature
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.symmetric import iterate_symmetric, symmetric_matrix
from rlstar_theory.tempering import temper
from rlstar_theory.validation import check_iterations, check_M, check_N, check_temperature

__all__ = ["CellFunction", "CELLS", "get_cell", "symmetric_J", "star_stall"]


@dataclass(frozen=True)
class CellFunction:
    """A cell function with its parameter names and the dimensions of its outputs.

    Attributes
    ----------
    name : str
        Registered name (the ``cell`` key of a sweep config).
    fn : callable
        ``fn(rng, **params) -> {output name: scalar or array}`` (a module-level function, so it
        pickles to worker processes).
    params : tuple of str
        Required parameters.
    defaults : tuple of (str, value) pairs
        Optional parameters and their defaults.
    output_dims : dict
        ``{output name: (dimension names...)}`` for outputs that are arrays.
    """

    name: str
    fn: Callable[..., Mapping]
    params: tuple[str, ...]
    defaults: tuple[tuple[str, object], ...] = ()
    output_dims: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, rng: np.random.Generator, **params) -> Mapping:
        """Run the cell: ``fn(rng, **params)``."""
        return self.fn(rng, **params)

    @property
    def optional(self) -> tuple[str, ...]:
        """Names of the optional parameters."""
        return tuple(name for name, _ in self.defaults)

    def check_params(self, names: Iterable[str], where: str = "parameters") -> None:
        """Raise ValueError when ``names`` miss a required parameter or hold an unknown one."""
        names = set(names)
        missing = [p for p in self.params if p not in names]
        unknown = sorted(names - set(self.params) - set(self.optional))
        if missing:
            raise ValueError(f"{where}: cell {self.name!r} needs parameter(s) {missing} in the "
                             f"grid or the fixed parameters")
        if unknown:
            raise ValueError(f"{where}: cell {self.name!r} has no parameter(s) {unknown}; it "
                             f"takes {list(self.params) + list(self.optional)}")


def _check_K(K) -> int:
    if isinstance(K, bool) or not isinstance(K, (Integral, np.integer)) or K < 1:
        raise ValueError(f"K (samples per question) must be an integer >= 1, got {K!r}")
    return int(K)


def symmetric_J(rng: np.random.Generator, *, M: int, N: int, lam0: float, iterations: int,
                temperature: float = 1.0) -> dict[str, np.ndarray]:
    """Exact RL-STaR on ``P(lam0)`` in closed form (every step starts at ``lam0``).

    Parameters
    ----------
    rng : numpy.random.Generator
        Unused (the run is deterministic); part of the cell signature.
    M, N : int
        States per step (``M >= 2``) and steps (``N >= 1``).
    lam0 : float
        Starting mixing weight in ``[-1/(M-1), 1]``.
    iterations : int
        ``T >= 0``.
    temperature : float
        Sampling temperature ``tau > 0`` of the training data.

    Returns
    -------
    dict
        ``J`` (``J_t = (1 + (M-1) lam_t^N) / M``), ``one_minus_J`` and ``lam`` (``lam_t``, the same
        for every step), each of shape ``(T+1,)`` over the dimension ``iteration``.
    """
    N = check_N(N)
    run = iterate_symmetric(np.full(N, float(lam0)), M, iterations, temperature)
    return {"J": run.J, "one_minus_J": run.one_minus_J, "lam": run.lam[:, 0]}


SAMPLERS = ("counts", "trajectories")


def _sampled_star_step(P: np.ndarray, K: int, rng: np.random.Generator, temperature: float,
                       sampler: str) -> tuple[np.ndarray, np.ndarray]:
    """One sampled STaR iteration with identity truth and all ``M`` questions.

    Draws ``K`` trajectories per question from the tempered policy ``P_tau``, keeps those with
    ``s_N = s_0``, and refits ``P_n[s, s'] = c_n[s, s'] / sum_s'' c_n[s, s'']`` from the kept
    transition counts ``c`` (rows without data keep their previous row). ``sampler="counts"``
    draws ``c`` directly (:func:`rlstar_theory.mdp.count_sampler.sample_counts_summed`,
    ``O(N M^3)`` per iteration whatever ``K``); ``"trajectories"`` samples the ``M K`` paths
    (:func:`rlstar_theory.sampling.sample_trajectories`, ``O(N M K)``). Both are exact in law.

    Returns
    -------
    P_next : ndarray, shape (N, M, M)
    successes : ndarray of int, shape (M,)
        Kept trajectories per question.
    """
    N, M = P.shape[0], P.shape[1]
    if sampler == "counts":
        drawn = sample_counts_summed(temper(P, temperature), np.arange(M), K, rng)
        return refit(P, drawn.success_counts), drawn.successes
    paths = sample_trajectories(P, K, rng, temperature=temperature)
    kept = paths[paths[:, N] == paths[:, 0]]
    counts = np.empty((N, M, M))
    for n in range(N):
        flat = kept[:, n] * M + kept[:, n + 1]
        counts[n] = np.bincount(flat, minlength=M * M).reshape(M, M)
    return refit(P, counts), np.bincount(kept[:, 0], minlength=M)


def star_stall(rng: np.random.Generator, *, M: int, N: int, lam0: float, K: int,
               iterations: int, temperature: float = 1.0,
               sampler: str = "counts") -> dict[str, np.ndarray]:
    """Does sampled RL-STaR stall from ``P(lam0)`` with ``K`` samples per question?

    From ``P_0 = P(lam0)`` on every step (identity truth, all ``M`` questions), run ``T``
    iterations of sampled STaR: draw ``K`` trajectories per question from ``P_{t-1}``, keep the
    successful ones, refit ``P_t`` from their transition counts (a row without data keeps its
    previous row). Two stall events are recorded:

    * *question without success* at iteration ``t``: some question has none of its ``K``
      trajectories successful (its first-step row gets no data);
    * *lost gold* at iteration ``t``: some row has lost its correct transition,
      ``P_t[n, s, g_n(s)] = 0``. This is permanent: no later sample can take that transition, and
      a row without data keeps its zero.

    Once every step is the identity the policy is a fixed point (every sample succeeds along the
    gold path), so the remaining iterations are filled in without sampling.

    Parameters
    ----------
    rng : numpy.random.Generator
        The cell's random stream.
    M, N : int
        States per step and steps.
    lam0 : float
        Starting mixing weight in ``[-1/(M-1), 1]``.
    K : int
        Trajectories sampled per question and iteration (``K >= 1``).
    iterations : int
        ``T >= 0``.
    temperature : float
        Sampling temperature ``tau > 0``.
    sampler : {"counts", "trajectories"}
        Draw the kept transition counts directly (default; cost independent of ``K``) or sample
        the trajectories (cost linear in ``K``; the referee). Same law, different draws.

    Returns
    -------
    dict
        ``stalled`` (bool: either event happened), ``question_without_success`` (bool),
        ``lost_gold`` (bool), ``stall_iteration`` (int: first ``t`` with an event, ``0`` when
        ``P_0`` already lacks a gold transition, ``-1`` if never) and ``J`` (shape ``(T+1,)``
        over ``iteration``: the exact ``J(P_t)``).
    """
    M, N = check_M(M), check_N(N)
    T = check_iterations(iterations)
    K = _check_K(K)
    temperature = check_temperature(temperature)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    P = symmetric_matrix(np.full(N, float(lam0)), M)
    gold = np.arange(M)
    J = np.empty(T + 1)
    J[0] = expected_return(P)
    lost_gold = bool((P[:, gold, gold] == 0).any())
    without_success = False
    stall_t = 0 if lost_gold else -1
    for t in range(1, T + 1):
        if (P[:, gold, gold] == 1).all():  # the identity is a fixed point of sampled STaR
            J[t:] = J[t - 1]
            break
        P, successes = _sampled_star_step(P, K, rng, temperature, sampler)
        J[t] = expected_return(P)
        event = False
        if (successes == 0).any():
            without_success = event = True
        if (P[:, gold, gold] == 0).any():
            lost_gold = event = True
        if event and stall_t < 0:
            stall_t = t
    return {"stalled": np.bool_(without_success or lost_gold),
            "question_without_success": np.bool_(without_success),
            "lost_gold": np.bool_(lost_gold), "stall_iteration": np.int64(stall_t), "J": J}


#: registered cell functions by name
CELLS: dict[str, CellFunction] = {
    cell.name: cell for cell in (
        CellFunction("symmetric_J", symmetric_J, params=("M", "N", "lam0", "iterations"),
                     defaults=(("temperature", 1.0),),
                     output_dims={"J": ("iteration",), "one_minus_J": ("iteration",),
                                  "lam": ("iteration",)}),
        CellFunction("star_stall", star_stall, params=("M", "N", "lam0", "K", "iterations"),
                     defaults=(("temperature", 1.0), ("sampler", "counts")),
                     output_dims={"J": ("iteration",)}),
        CellFunction("escape_outcome", _oq_escape.escape_outcome,
                     params=("M", "N", "family", "n_zero", "spread"),
                     defaults=(("lam_zero", 0.0), ("lam_pos", 0.2), ("models", 16),
                               ("rule", "star"), ("iterations", 5000), ("epsilon", 0.01),
                               ("fixed_tol", 1e-12), ("model_seed", 0), ("replicate", 0)),
                     output_dims=_oq_escape.OUTPUT_DIMS),
        CellFunction("critical_temperature", _oq_temperature.temperature_map_cell,
                     params=("M", "N", "lam0")),
        CellFunction("critical_temperature_dense", _oq_temperature.temperature_dense_cell,
                     params=("M", "N", "lam0", "spread"),
                     defaults=(("family", "dirichlet"), ("models", 8), ("steps", 12),
                               ("epsilon", 1e-3), ("iterations", 300)),
                     output_dims={"tau_star": ("model",), "row_spread": ("model",)}),
        CellFunction("star_bias", _oq_bias.bias_cell, params=("M", "N", "lam0", "K"),
                     defaults=(("draws", 200), ("temperature", 1.0))),
    )
}


def get_cell(name: str) -> CellFunction:
    """The registered cell function ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {name!r}")
    return CELLS[name]
