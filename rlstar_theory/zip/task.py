"""The n-bit "zip" task: tokens, the valid states of every step and the ground-truth maps.

A question is a pair of n-bit numbers ``a = a_{n-1}..a_0`` and ``b = b_{n-1}..b_0``; there are
``M = 4**n`` questions and ``N = n`` reasoning steps. Step ``k`` moves the least significant
remaining digit pair into the zipped part. For ``n = 3``::

    s0 = [x] a2 a1 a0 [.] b2 b1 b0
    s1 = [x] a2 a1 [.] b2 b1 [y] a0 b0
    s2 = [x] a2 [.] b2 [y] a1 b1 [.] a0 b0
    s3 = [x] [.] [y] a2 b2 [.] a1 b1 [.] a0 b0

Index convention: the state of step ``k`` reached from question ``(a, b)`` by the correct moves
has index ``q = a * 2**n + b`` in every step. With this consistent ordering every ground-truth
map ``g_k`` (a bijection between the *different* labelled state sets of steps ``k-1`` and ``k``)
becomes the identity on ``0..M-1``; :func:`zip_move` applies the move to a token string directly
so that this is checked, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rlstar_theory.validation import check_int

#: the task's tokens, in vocabulary order (ids 0..7)
TOKENS: tuple[str, ...] = ("[PAD]", "[EOS]", "[=]", "[x]", "[.]", "[y]", "0", "1")
PAD, EOS, EQ, X, DOT, Y, ZERO, ONE = range(len(TOKENS))
TOKEN_ID: dict[str, int] = {tok: i for i, tok in enumerate(TOKENS)}

__all__ = ["TOKENS", "TOKEN_ID", "PAD", "EOS", "EQ", "ZipTask", "zip_move", "state_tokens"]


def _bits(value: int, n: int) -> list[int]:
    """Binary digits of ``value``, most significant first (``n`` of them)."""
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def state_tokens(a: int, b: int, n: int, k: int) -> tuple[str, ...]:
    """Token string of step ``k`` (``0 <= k <= n``) of question ``(a, b)``."""
    if not 0 <= k <= n:
        raise ValueError(f"step k must be in 0..{n}, got {k}")
    A, B = _bits(a, n), _bits(b, n)
    keep = n - k
    out = ["[x]", *map(str, A[:keep]), "[.]", *map(str, B[:keep])]
    if k > 0:
        out.append("[y]")
        pairs = [f"{A[i]} {B[i]}".split() for i in range(keep, n)]
        for j, pair in enumerate(pairs):
            if j:
                out.append("[.]")
            out.extend(pair)
    return tuple(out)


def zip_move(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Apply one correct zip move to a token string (the ground-truth map, on strings).

    Parses ``[x] A [.] B ([y] Z)?``, moves the last digits of ``A`` and ``B`` to the front of
    the zipped part ``Z``.
    """
    toks = list(tokens)
    if not toks or toks[0] != "[x]" or "[.]" not in toks:
        raise ValueError(f"not a zip state: {' '.join(tokens)}")
    dot = toks.index("[.]")
    A = toks[1:dot]
    rest = toks[dot + 1:]
    if "[y]" in rest:
        y = rest.index("[y]")
        B, Z = rest[:y], rest[y + 1:]
    else:
        B, Z = rest, []
    if len(A) != len(B) or not A:
        raise ValueError(f"no digit pair left to move in: {' '.join(tokens)}")
    pair = [A[-1], B[-1]]
    newZ = pair + (["[.]"] + Z if Z else [])
    return tuple(["[x]", *A[:-1], "[.]", *B[:-1], "[y]", *newZ])


@dataclass(frozen=True)
class ZipTask:
    """The ``n``-bit zip task: ``M = 4**n`` states per step, ``N = n`` steps.

    Attributes
    ----------
    n_bits : int
        Digits per number (``n >= 1``).
    """

    n_bits: int
    _strings: tuple = field(init=False, repr=False, compare=False)
    _index: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = check_int(self.n_bits, "n_bits", 1, 4, what="digits per number; M = 4**n states")
        object.__setattr__(self, "n_bits", n)
        M = 4**n
        strings = tuple(
            tuple(state_tokens(q >> n, q & ((1 << n) - 1), n, k) for q in range(M))
            for k in range(n + 1)
        )
        index = tuple({s: q for q, s in enumerate(strings[k])} for k in range(n + 1))
        object.__setattr__(self, "_strings", strings)
        object.__setattr__(self, "_index", index)

    @property
    def M(self) -> int:
        """Number of valid states in every step (``4**n_bits``)."""
        return 4**self.n_bits

    @property
    def N(self) -> int:
        """Number of reasoning steps (``n_bits``)."""
        return self.n_bits

    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary."""
        return len(TOKENS)

    def states(self, k: int) -> tuple[tuple[str, ...], ...]:
        """The ``M`` valid token strings of step ``k`` (``0..N``), in index order."""
        self._check_k(k)
        return self._strings[k]

    def to_index(self, k: int, tokens) -> int:
        """Index of a token string (tuple or space-separated str) among step ``k``'s states."""
        self._check_k(k)
        key = tuple(tokens.split()) if isinstance(tokens, str) else tuple(tokens)
        try:
            return self._index[k][key]
        except KeyError:
            raise ValueError(f"not a valid step-{k} state: {' '.join(key)}") from None

    def to_tokens(self, k: int, index: int) -> tuple[str, ...]:
        """Token string of state ``index`` of step ``k``."""
        self._check_k(k)
        if not 0 <= index < self.M:
            raise ValueError(f"state index must be in 0..{self.M - 1}, got {index}")
        return self._strings[k][index]

    def ids(self, k: int) -> np.ndarray:
        """Token ids of all states of step ``k``: int64 array of shape ``(M, length_k)``."""
        return np.array([[TOKEN_ID[t] for t in s] for s in self.states(k)], dtype=np.int64)

    def truth(self) -> np.ndarray:
        """Ground-truth maps as an ``(N, M)`` index array (row ``k-1`` is ``g_k``).

        Computed by applying :func:`zip_move` to every state string and looking the result up,
        so it is the identity only because of the consistent index convention.
        """
        out = np.empty((self.N, self.M), dtype=np.int64)
        for k in range(1, self.N + 1):
            for q, s in enumerate(self.states(k - 1)):
                out[k - 1, q] = self.to_index(k, zip_move(s))
        return out

    def _check_k(self, k: int) -> None:
        if not 0 <= k <= self.N:
            raise ValueError(f"step must be in 0..{self.N}, got {k}")
