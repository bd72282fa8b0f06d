"""Optional dependencies of the sweeps (the ``sweep`` extra), imported on first use.

``xarray`` (labelled results, netCDF), ``tqdm`` (progress bar) and ``dask.distributed`` (cluster
executor) are not core dependencies. A missing one raises a ValueError with the install command,
which the command line prints as one line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["INSTALL_HINT", "require"]

INSTALL_HINT = ("pip install \"rlstar_theory[sweep]\" (or pip install -e '.[sweep]' in a "
                "checkout)")


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise ValueError naming ``purpose`` and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"{purpose} needs {module.split('.')[0]} ({exc}); install with "
                         f"{INSTALL_HINT}") from None
