"""Array backends of the exact engines: numpy, or any array-API library (torch, CuPy, ...).

The exact engines (:mod:`rlstar_theory.mdp.exact`, :mod:`rlstar_theory.mdp.batched`) are
written once against the few operations below. numpy arrays (float64 or object arrays of
Fractions) take the numpy module itself, with its ``out=`` in-place products, and need nothing
else. Any other array (a torch tensor, on CUDA or on the CPU) takes the namespace that
``array_api_compat.array_namespace`` returns; ``array_api_compat`` is optional (the ``array``
extra) and imported only then. Only array-API operations are used on that path: ``matmul``
(no ``einsum``, which the standard lacks), elementwise arithmetic, reductions, ``take`` with
one-dimensional indices and ``matrix_transpose`` (no ``take_along_axis``, which only the
2024.12 standard has).
"""

from __future__ import annotations

import importlib
from numbers import Number
from types import ModuleType

import numpy as np

__all__ = ["INSTALL_HINT", "device_of", "is_numpy", "matmul_into", "namespace", "to_numpy",
           "transpose"]

INSTALL_HINT = ("pip install \"rlstar_theory[array]\" (or pip install -e '.[array]' in a "
                "checkout)")


def _is_numpy_like(x) -> bool:
    return x is None or isinstance(x, (np.ndarray, np.generic, Number, list, tuple))


def namespace(*arrays) -> ModuleType:
    """The array namespace of ``arrays``: :mod:`numpy` itself when every one is a numpy array
    (or a Python number, list or ``None``), else ``array_api_compat.array_namespace`` of the
    others.

    Raises
    ------
    ValueError
        When a non-numpy array is given and ``array_api_compat`` is not installed (the message
        gives the install command), or when the arrays come from different libraries.
    """
    others = [a for a in arrays if not _is_numpy_like(a)]
    if not others:
        return np
    try:
        compat = importlib.import_module("array_api_compat")
    except ImportError:
        kind = type(others[0]).__module__.split(".")[0]
        raise ValueError(f"arrays of {kind} (not numpy) need array-api-compat; install with "
                         f"{INSTALL_HINT}") from None
    try:
        return compat.array_namespace(*others)
    except TypeError as exc:
        raise ValueError(f"the arrays must all come from one array library ({exc})") from None


def is_numpy(xp: ModuleType) -> bool:
    """Whether ``xp`` is numpy (the path with ``out=`` products and object arrays)."""
    return xp is np


def device_of(x):
    """The device of array ``x`` (``"cpu"`` for numpy)."""
    if isinstance(x, np.ndarray):
        return "cpu"
    return importlib.import_module("array_api_compat").device(x)


def matmul_into(xp: ModuleType, a, b, out):
    """``out[...] = a @ b`` and return ``out``; numpy writes the product in place
    (``np.matmul(..., out=out)``: no temporary block), other libraries assign it."""
    if xp is np:
        return np.matmul(a, b, out=out)
    out[...] = xp.matmul(a, b)
    return out


def transpose(xp: ModuleType, a):
    """Swap the last two axes (a view in numpy and torch)."""
    if xp is np:
        return a.swapaxes(-1, -2)  # the method: a few microseconds less than np.swapaxes
    return xp.matrix_transpose(a)


def to_numpy(x) -> np.ndarray:
    """A numpy copy (or view) of a small array from any library (copied to the host)."""
    if _is_numpy_like(x):
        return np.asarray(x)
    compat = importlib.import_module("array_api_compat")
    host = compat.to_device(x, "cpu")
    try:
        return np.from_dlpack(host)
    except (TypeError, RuntimeError, BufferError, AttributeError):
        return np.asarray(host)
