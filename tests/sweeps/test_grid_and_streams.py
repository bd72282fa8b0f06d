"""Grid order and validation; one random stream per cell, equal to SeedSequence.spawn."""

from __future__ import annotations

import numpy as np
import pytest

from rlstar_theory.sweeps.grid import Grid
from rlstar_theory.sweeps.streams import cell_rng, cell_seed_sequence, check_root_seed


def test_cells_in_c_order_last_dimension_fastest():
    grid = Grid.from_mapping({"rule": ["star", "ei"], "M": [4, 8, 16], "lam0": [0.0, 0.5]})
    assert grid.names == ("rule", "M", "lam0")
    assert grid.shape == (2, 3, 2) and grid.n_cells == 12
    cells = list(grid.cells())
    expected = [{"rule": r, "M": m, "lam0": lam} for r in ("star", "ei") for m in (4, 8, 16)
                for lam in (0.0, 0.5)]
    assert cells == expected
    assert grid.cell(7) == {"rule": "ei", "M": 4, "lam0": 0.5}
    assert grid.to_json() == {"rule": ["star", "ei"], "M": [4, 8, 16], "lam0": [0.0, 0.5]}


def test_numeric_dimension_with_ints_and_floats_becomes_floats():
    grid = Grid.from_mapping({"lam0": [0, 0.25, np.float64(0.5)], "K": np.array([1, 2])})
    assert grid.values("lam0") == (0.0, 0.25, 0.5)
    assert all(type(v) is float for v in grid.values("lam0"))
    assert grid.values("K") == (1, 2) and all(type(v) is int for v in grid.values("K"))


@pytest.mark.parametrize(("dims", "match"), [
    ({}, "at least one dimension"),
    ({"M": []}, "'M' must have at least one value"),
    ({"M": [4, 4]}, "repeated values"),
    ({"M": 4}, "must be a list"),
    ({"M": "48"}, "must be a list"),
    ({"x": [1, "a"]}, "mixes strings and numbers"),
    ({"x": [float("nan")]}, "finite"),
    ({"x": [True]}, "integers, floats or strings"),
    ({"1x": [1]}, "identifiers"),
])
def test_bad_grids_name_the_dimension(dims, match):
    with pytest.raises(ValueError, match=match):
        Grid.from_mapping(dims)


def test_too_many_cells_refused_before_allocating():
    with pytest.raises(ValueError, match="MAX_CELLS"):
        Grid.from_mapping({"a": range(10**5), "b": range(10**5)})


def test_cell_index_checked():
    grid = Grid.from_mapping({"M": [4, 8]})
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        grid.cell(2)
    with pytest.raises(ValueError, match="grid has no dimension 'K'"):
        grid.values("K")


def test_cell_streams_are_the_spawned_children():
    children = np.random.SeedSequence(12345).spawn(50)
    for i in (0, 1, 17, 49):
        assert cell_seed_sequence(12345, i).spawn_key == children[i].spawn_key
        np.testing.assert_array_equal(cell_rng(12345, i).integers(0, 2**62, 8),
                                      np.random.default_rng(children[i]).integers(0, 2**62, 8))
    # different cells and different roots give different streams
    assert cell_rng(1, 0).random() != cell_rng(1, 1).random()
    assert cell_rng(1, 0).random() != cell_rng(2, 0).random()


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", None])
def test_bad_root_seed(bad):
    with pytest.raises(ValueError, match="root_seed"):
        check_root_seed(bad)
