"""Hypothesis strategies for random RL-STaR models (the one place tests get them from).

Every dense model is built from small non-negative *integer* weights, so the same model exists
exactly (object arrays of :class:`fractions.Fraction`) and in float64 (the nearest doubles):
float-vs-exact comparisons then test the engines, not the way the inputs were made.

Strategies
----------
sizes(max_M, max_N)                  (M, N) with 2 <= M <= max_M, 1 <= N <= max_N
lam_vectors(M, N, ...)               mixing weights in [-1/(M-1), 1], zeros/negatives optional
exact_lam_vectors(M, N, ...)         the same as Fractions with small denominators
truth_maps(M, N, bijective=None)     (N, M) int arrays; bijective, arbitrary or either
start_weights(M, zeros=True)         integer weights of a start distribution, some zero
dense_models(max_M, max_N, ...)      a DenseModel: P (float), P_exact, truth, start, start_exact
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

#: largest integer weight of a matrix entry; 0 has extra probability (zero entries)
MAX_WEIGHT = 6


@st.composite
def sizes(draw, max_M: int = 6, max_N: int = 4, min_M: int = 2, min_N: int = 1):
    """``(M, N)``."""
    return draw(st.integers(min_M, max_M)), draw(st.integers(min_N, max_N))


def lam_values(M: int, *, negative: bool = True, zero: bool = True, lo: float | None = None,
               hi: float = 1.0):
    """One mixing weight in ``[lo, hi]`` (default ``[-1/(M-1), 1]``), endpoints and 0 favoured.

    ``negative=False`` keeps it ``>= 0``; ``zero=False`` excludes exactly 0 (a positive ``lo``
    does that too).
    """
    if lo is None:
        lo = -1.0 / (M - 1) if negative else 0.0
    lo = max(lo, -1.0 / (M - 1))
    values = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    specials = [v for v in (lo, hi, 0.0, 1.0, 0.5) if lo <= v <= hi]
    out = st.one_of(values, st.sampled_from(specials)) if specials else values
    if not zero:
        out = out.filter(lambda v: v != 0.0)
    return out


@st.composite
def lam_vectors(draw, M: int, N: int, **kwargs) -> np.ndarray:
    """Float array of shape ``(N,)`` of mixing weights (see :func:`lam_values`)."""
    return np.array(draw(st.lists(lam_values(M, **kwargs), min_size=N, max_size=N)))


@st.composite
def exact_lam_values(draw, M: int, *, negative: bool = True, zero: bool = True,
                     lo: Fraction | None = None, max_den: int = 12) -> Fraction:
    """One Fraction mixing weight in ``[lo, 1]`` with denominator ``<= max_den * (M-1)``."""
    bottom = Fraction(-1, M - 1) if negative else Fraction(0)
    if lo is not None:
        bottom = max(bottom, Fraction(lo))
    den = draw(st.integers(1, max_den)) * (M - 1)
    k_lo = -(-bottom.numerator * den // bottom.denominator)  # ceil(bottom * den)
    value = Fraction(draw(st.integers(k_lo, den)), den)
    if not zero and value == 0:
        value = Fraction(1, den) if Fraction(1, den) >= bottom else bottom
    return value


@st.composite
def exact_lam_vectors(draw, M: int, N: int, **kwargs) -> list[Fraction]:
    return [draw(exact_lam_values(M, **kwargs)) for _ in range(N)]


@st.composite
def truth_maps(draw, M: int, N: int, bijective: bool | None = None) -> np.ndarray:
    """``(N, M)`` ground-truth maps; ``bijective=None`` mixes permutations and arbitrary maps."""
    rows = []
    for _ in range(N):
        bij = draw(st.booleans()) if bijective is None else bijective
        if bij:
            rows.append(draw(st.permutations(range(M))))
        else:
            rows.append(draw(st.lists(st.integers(0, M - 1), min_size=M, max_size=M)))
    return np.array(rows, dtype=np.int64)


def _weights(M: int, zeros: bool):
    low = 0 if zeros else 1
    entry = st.one_of(st.just(low), st.integers(low, MAX_WEIGHT)) if zeros else \
        st.integers(1, MAX_WEIGHT)
    return st.lists(entry, min_size=M, max_size=M)


@st.composite
def start_weights(draw, M: int, zeros: bool = True) -> list[int]:
    """Integer weights of a start distribution, at least one positive."""
    w = draw(_weights(M, zeros))
    if sum(w) == 0:
        w[draw(st.integers(0, M - 1))] = 1
    return w


@st.composite
def matrix_weights(draw, M: int, N: int, zeros: bool = True) -> np.ndarray:
    """``(N, M, M)`` integer weights, every row with a positive entry (rows may be one-hot)."""
    out = np.empty((N, M, M), dtype=np.int64)
    for n in range(N):
        for s in range(M):
            w = draw(start_weights(M, zeros))
            out[n, s] = w
    return out


def exact_from_weights(w) -> np.ndarray:
    """Object array of Fractions, the weights normalised along the last axis."""
    w = np.asarray(w, dtype=np.int64)
    tot = w.sum(axis=-1, keepdims=True)
    out = np.empty(w.shape, dtype=object)
    for idx in np.ndindex(w.shape):
        out[idx] = Fraction(int(w[idx]), int(tot[idx[:-1] + (0,)]))
    return out


def float_from_weights(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class DenseModel:
    """A random model, in floats and exactly."""

    M: int
    N: int
    P: np.ndarray  # (N, M, M) float64
    P_exact: np.ndarray  # (N, M, M) object (Fractions)
    truth: np.ndarray  # (N, M) int64
    start: np.ndarray  # (M,) float64
    start_exact: np.ndarray  # (M,) object

    def __repr__(self) -> str:  # compact, reproducible falsifying examples
        return (f"DenseModel(M={self.M}, N={self.N}, P_exact={self.P_exact.tolist()}, "
                f"truth={self.truth.tolist()}, start_exact={self.start_exact.tolist()})")


@st.composite
def dense_models(draw, max_M: int = 5, max_N: int = 4, min_M: int = 2, min_N: int = 1,
                 zeros: bool = True, uniform_start: bool | None = None,
                 bijective: bool | None = None) -> DenseModel:
    """Random row-stochastic model with zero entries, any truth maps and a start with zeros.

    ``uniform_start=None`` mixes uniform and random starts; ``zeros=False`` gives strictly
    positive matrices and start (every row visited).
    """
    M, N = draw(sizes(max_M, max_N, min_M, min_N))
    w = draw(matrix_weights(M, N, zeros))
    truth = draw(truth_maps(M, N, bijective))
    uni = draw(st.booleans()) if uniform_start is None else uniform_start
    sw = [1] * M if uni else draw(start_weights(M, zeros))
    return DenseModel(M=M, N=N, P=float_from_weights(w), P_exact=exact_from_weights(w),
                      truth=truth, start=float_from_weights(sw),
                      start_exact=exact_from_weights(sw))


@st.composite
def lam_batches(draw, M: int, N: int, rows: int, lo: float, hi: float = 1.0) -> np.ndarray:
    """``(rows, N)`` weights in ``[lo, hi]`` from a drawn seed (large vectorised sweeps)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lam = rng.uniform(lo, hi, size=(rows, N))
    lam[rng.random((rows, N)) < 0.05] = hi
    return lam
