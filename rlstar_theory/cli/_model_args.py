"""Command-line options that describe a pre-trained policy, shared by commands that take one.

``--M --N --lambda0`` (symmetric family, mixing weights), ``--delta0`` (the same through the
diagonal excess ``delta_diag``), or ``--matrices P0.npy`` with optional ``--truth`` and
``--start`` arrays; ``--train-fraction`` holds out test questions.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np

from rlstar_theory.conventions import delta_diag_to_lam
from rlstar_theory.mdp.model import ChainMDP, split_questions
from rlstar_theory.symmetric import symmetric_matrix
from rlstar_theory.validation import check_lam, check_M, check_N

__all__ = ["add_model_arguments", "load_npy", "model_from_args", "parse_floats", "parse_ints"]


def add_model_arguments(parser: argparse.ArgumentParser, default_M: int = 8,
                        default_N: int = 3, default_lam: str = "0.2") -> None:
    """Add the policy options to ``parser``."""
    parser.add_argument("--M", type=int, default=None,
                        help=f"states per step (>= 2; default {default_M})")
    parser.add_argument("--N", type=int, default=None,
                        help=f"reasoning steps (>= 1; default {default_N}, or the number of "
                             "values given)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--lambda0", metavar="L[,L...]", default=None,
                     help="pre-trained mixing weight(s) lam of the symmetric family "
                          f"P(lam) = lam I + (1 - lam)/M 11^T (default {default_lam})")
    src.add_argument("--delta0", metavar="D[,D...]", default=None,
                     help="pre-trained diagonal excess(es) delta_diag = (M-1) lam / M instead")
    src.add_argument("--matrices", metavar="P0.npy", type=Path, default=None,
                     help="pre-trained policy as a float array of shape (N, M, M)")
    parser.add_argument("--truth", metavar="truth.npy", type=Path, default=None,
                        help="ground-truth maps, int array (N, M) (default: identity)")
    parser.add_argument("--start", metavar="start.npy", type=Path, default=None,
                        help="question distribution, float array (M,) (default: uniform)")
    parser.add_argument("--train-fraction", type=float, default=None,
                        help="hold out questions: train on this fraction (0, 1] of the start "
                             "states, chosen with --seed (default: train on all)")
    parser.set_defaults(_model_defaults=(default_M, default_N, default_lam))


def parse_floats(text: str, name: str) -> list[float]:
    """Comma-separated numbers; fractions such as ``1/3`` allowed."""
    from rlstar_theory.validation import to_fraction

    parts = [p.strip() for p in str(text).split(",")]
    if not text or not str(text).strip() or any(not p for p in parts):
        raise ValueError(f"{name} must be a comma-separated list of numbers, got {text!r}")
    return [float(to_fraction(p, name)) for p in parts]


def parse_ints(text: str, name: str, minimum: int = 1) -> list[int]:
    """Comma-separated integers ``>= minimum``."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"{name} must be a comma-separated list of integers >= {minimum}, got "
                         f"{text!r}") from None
    if not values or min(values) < minimum:
        raise ValueError(f"{name} must be a comma-separated list of integers >= {minimum}, got "
                         f"{text!r}")
    return values


def load_npy(path: Path, name: str, kinds: str = "fiu") -> np.ndarray:
    """A real numeric array from a ``.npy`` file, or a one-line ValueError naming ``name``.

    Refuses missing files, ``.npz`` archives, pickled/object arrays, empty arrays and complex
    numbers (never silently cast to real).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{name}: file not found: {path}")
    if zipfile.is_zipfile(path):
        raise ValueError(f"{name}: {path} is an .npz archive; save one array with np.save")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{name}: cannot read {path} as a .npy array ({exc})") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name}: {path} holds complex numbers; probabilities must be real")
    if arr.dtype.kind not in kinds:
        raise ValueError(f"{name}: {path} holds {arr.dtype} values; expected numbers")
    if arr.size == 0:
        raise ValueError(f"{name}: {path} holds an empty array of shape {arr.shape}")
    return arr


def model_from_args(args: argparse.Namespace) -> tuple[np.ndarray, ChainMDP]:
    """The pre-trained policy ``P0`` (N, M, M) and the validated :class:`ChainMDP`."""
    default_M, default_N, default_lam = args._model_defaults
    truth = None if args.truth is None else load_npy(args.truth, "--truth", "iuf")
    start = None if args.start is None else load_npy(args.start, "--start", "fiu")
    if args.matrices is not None:
        P0 = load_npy(args.matrices, "--matrices", "fiu").astype(float)
        if P0.ndim == 2:
            P0 = P0[None]
        if P0.ndim != 3 or P0.shape[1] != P0.shape[2]:
            raise ValueError(f"--matrices must hold an array of shape (N, M, M), got {P0.shape}")
        if args.M is not None and args.M != P0.shape[1] or args.N is not None and \
                args.N != P0.shape[0]:
            raise ValueError(f"--M/--N disagree with --matrices of shape {P0.shape}")
        N, M = P0.shape[0], P0.shape[1]
    else:
        M = check_M(default_M if args.M is None else args.M)
        if args.delta0 is not None:
            lam = [float(delta_diag_to_lam(v, M)) for v in parse_floats(args.delta0, "--delta0")]
        else:
            text = default_lam if args.lambda0 is None else args.lambda0
            lam = parse_floats(text, "--lambda0")
        N = check_N(args.N if args.N is not None else (len(lam) if len(lam) > 1 else default_N))
        if len(lam) == 1:
            lam = lam * N
        if len(lam) != N:
            raise ValueError(f"give one starting value or N = {N} of them, got {len(lam)}")
        lam = check_lam(lam, M, "--lambda0" if args.delta0 is None else "--delta0")
        P0 = symmetric_matrix(lam, M)
    train = None
    if args.train_fraction is not None:
        if not 0 < args.train_fraction <= 1:
            raise ValueError(f"--train-fraction must lie in (0, 1], got {args.train_fraction}")
        train = split_questions(M, args.train_fraction, rng=getattr(args, "seed", 0))
    model = ChainMDP.create(M, N, truth, start, train)
    return model.check_policy(P0, "--matrices"), model
