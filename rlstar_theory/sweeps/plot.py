"""Figures from sweep results.

Like every plot function of the package, they draw into ``ax`` or, when it is None, into a new
:class:`matplotlib.figure.Figure` (not registered with pyplot; no backend is chosen), and return
the axes (``ax.figure`` is the figure).
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_phase"]

_LABELS = {
    "lam0": "λ₀ (starting mixing weight of P(λ₀))",
    "K": "K (samples per question)",
    "M": "M (states per step)",
    "N": "N (steps)",
}


def _fmt(value) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _ticks(ax_set_ticks, ax_set_labels, values) -> None:
    """Ticks at every index, labelled at most about eight times."""
    n = len(values)
    every = max(1, int(np.ceil(n / 8)))
    positions = np.arange(n)
    ax_set_ticks(positions)
    ax_set_labels([_fmt(v) if i % every == 0 else "" for i, v in enumerate(values)])


def plot_phase(ds, var: str = "stalled", x: str = "lam0", y: str = "K", ax=None,
               level: float | None = 0.5, cmap: str = "viridis"):
    """Heat map of ``mean(var)`` over the replicates against two grid dimensions.

    Every dimension of ``ds[var]`` other than ``x`` and ``y`` is averaged when it is the
    replicate dimension ``seed`` and must otherwise have a single value (select one first,
    e.g. ``ds.sel(M=8)``). For a boolean ``var`` the mean is the empirical probability
    ``(1/S) sum_s var[..., s]`` over the ``S`` seeds.

    Parameters
    ----------
    ds : xarray.Dataset
        Sweep results (:func:`rlstar_theory.sweeps.run_sweep` or ``load_results``).
    var : str
        Variable to show (default ``stalled``).
    x, y : str
        Dimensions on the horizontal and vertical axes (shown at equal spacing, labelled with
        their values).
    ax : matplotlib Axes, optional
        Where to draw (default: a new 5 x 3.6 inch figure).
    level : float or None
        Draw the contour ``mean = level`` (default 0.5); None for none.
    cmap : str
        Colour map.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if var not in ds.data_vars:
        raise ValueError(f"var must be one of {sorted(ds.data_vars)}, got {var!r}")
    da = ds[var]
    for dim in (x, y):
        if dim not in da.dims:
            raise ValueError(f"{dim!r} is not a dimension of {var!r}; its dimensions are "
                             f"{list(da.dims)}")
    if x == y:
        raise ValueError(f"x and y must differ, got {x!r} twice")
    for dim in da.dims:
        if dim not in (x, y, "seed") and da.sizes[dim] != 1:
            raise ValueError(f"{var!r} has {da.sizes[dim]} values of {dim!r}: select one first, "
                             f"e.g. ds.sel({dim}=...) or ds.isel({dim}=-1)")
    others = [d for d in da.dims if d not in (x, y)]
    mean = da.astype(float).mean(dim=others).transpose(y, x)
    if ax is None:  # a plain Figure: no pyplot, no backend choice
        from matplotlib.figure import Figure

        ax = Figure(figsize=(5.0, 3.6), layout="constrained").add_subplot()
    image = ax.imshow(mean.values, origin="lower", aspect="auto", cmap=cmap,
                      vmin=0.0 if da.dtype == bool else None,
                      vmax=1.0 if da.dtype == bool else None, interpolation="nearest")
    if level is not None and min(mean.shape) > 1:
        values = mean.values
        if np.nanmin(values) < level < np.nanmax(values):
            ax.contour(values, levels=[level], colors="white", linewidths=1.2)
    _ticks(ax.set_xticks, ax.set_xticklabels, ds[x].values.tolist())
    _ticks(ax.set_yticks, ax.set_yticklabels, ds[y].values.tolist())
    ax.set_xlabel(_LABELS.get(x, x))
    ax.set_ylabel(_LABELS.get(y, y))
    fixed = [f"{name} = {_fmt(coord.values.item())}" for name, coord in da.coords.items()
             if name not in (x, y, "seed") and coord.size == 1]
    n_seeds = da.sizes.get("seed", 1)
    ax.set_title(", ".join(fixed + [f"{n_seeds} seeds"]))
    label = f"P({var})" if da.dtype == bool else f"mean {var}"
    ax.figure.colorbar(image, ax=ax, label=label)
    return ax
