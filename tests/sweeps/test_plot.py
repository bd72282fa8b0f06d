"""plot_phase: draws mean(var) over seeds on given axes, returns them, refuses ambiguous input."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from rlstar_theory.sweeps import plot_phase

xr = pytest.importorskip("xarray")


def _dataset():
    rng = np.random.default_rng(0)
    stalled = rng.random((2, 3, 4, 5)) < 0.5  # M, K, lam0, seed
    return xr.Dataset({"stalled": (("M", "K", "lam0", "seed"), stalled),
                       "J": (("M", "K", "lam0", "seed", "iteration"), rng.random((2, 3, 4, 5, 2)))},
                      coords={"M": [4, 8], "K": [1, 4, 16], "lam0": [0.0, 0.1, 0.2, 0.3],
                              "seed": list(range(5))})


def test_draws_the_seed_mean_on_the_given_axes():
    ds = _dataset()
    ax = Figure().add_subplot()
    out = plot_phase(ds.sel(M=8), ax=ax)
    assert out is ax
    image = ax.get_images()[0].get_array()
    np.testing.assert_allclose(image, ds["stalled"].sel(M=8).values.mean(axis=-1))  # (K, lam0)
    assert "M = 8" in ax.get_title() and "5 seeds" in ax.get_title()
    assert ax.get_xlabel().startswith("λ₀") and ax.get_ylabel().startswith("K")


def test_new_axes_and_other_variables():
    ds = _dataset()
    ax = plot_phase(ds.sel(M=4).isel(iteration=-1), var="J", x="K", y="lam0", level=None)
    image = ax.get_images()[0].get_array()
    np.testing.assert_allclose(image, ds["J"].sel(M=4).isel(iteration=-1).values.mean(-1).T)
    assert isinstance(ax.figure, Figure) and len(ax.figure.axes) == 2  # the panel and a colorbar


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "has 2 values of 'M'"),
    ({"var": "nope"}, "var must be one of"),
    ({"x": "N"}, "'N' is not a dimension"),
    ({"x": "K", "y": "K"}, "x and y must differ"),
])
def test_refuses_ambiguous_requests(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_phase(_dataset(), **kwargs)
