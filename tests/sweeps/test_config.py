"""TOML sweep configs: the example files parse; every mistake is one ValueError naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlstar_theory.sweeps.config import load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "sweeps"

GOOD = {
    "cell": "star_stall",
    "root_seed": 7,
    "grid": {"M": [4, 8], "lam0": {"linspace": [0.0, 0.3, 4]}, "K": [2, 8],
             "seed": {"range": [0, 3]}},
    "fixed": {"N": 3, "iterations": 5},
}


def test_good_config():
    cfg = parse_config(GOOD)
    assert cfg.cell.name == "star_stall" and cfg.root_seed == 7
    assert cfg.grid.names == ("M", "lam0", "K", "seed")
    assert cfg.grid.values("lam0") == (0.0, 0.1, 0.2, 0.3)  # rounded to 12 decimals
    assert cfg.grid.values("seed") == (0, 1, 2)
    assert cfg.grid.n_cells == 2 * 4 * 2 * 3
    assert cfg.fixed == {"N": 3, "iterations": 5} and cfg.chunk_size is None


def test_example_configs():
    small = load_config(EXAMPLES / "stall_small.toml")
    assert small.cell.name == "star_stall" and small.grid.n_cells <= 1000
    big = load_config(EXAMPLES / "stall_phase.toml")
    assert big.cell.name == "star_stall" and big.grid.n_cells == 10**5
    assert set(big.grid.names) == {"M", "lam0", "K", "seed"}


def _with(**changes):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in GOOD.items()}
    for key, value in changes.items():
        if "." in key:
            table, sub = key.split(".")
            if value is None:
                data[table].pop(sub)
            else:
                data[table][sub] = value
        elif value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(("changes", "match"), [
    ({"cells": "x"}, "unknown key 'cells'"),
    ({"cell": None}, "missing key 'cell'"),
    ({"grid": None}, "missing key 'grid'"),
    ({"cell": "no_such_cell"}, "cell must be one of"),
    ({"grid.lam0": {"linspace": [0, 1]}}, r"grid\.lam0\.linspace"),
    ({"grid.lam0": {"logspace": [0, 1, 3]}}, r"grid\.lam0 must have exactly one of"),
    ({"grid.seed": {"range": [0, 1.5]}}, r"grid\.seed\.range"),
    ({"grid.seed": {"range": [3, 0]}}, r"grid\.seed\.range .* is empty"),
    ({"grid.K": 4}, r"grid\.K must be a list"),
    ({"grid.K": [4, 4]}, "repeated values"),
    ({"fixed.M": 4}, r"fixed\.M is also a grid dimension"),
    ({"fixed.iterations": None}, r"needs parameter\(s\) \['iterations'\]"),
    ({"fixed.gamma": 0.5}, r"has no parameter\(s\) \['gamma'\]"),
    ({"fixed.N": [3]}, r"fixed\.N must be a number"),
    ({"root_seed": -2}, "root_seed must be an integer >= 0"),
    ({"chunk_size": 0}, "chunk_size must be an integer >= 1"),
    ({"description": 3}, "description must be a string"),
])
def test_bad_config_names_the_key(changes, match):
    with pytest.raises(ValueError, match=match):
        parse_config(_with(**changes), "cfg.toml")


def test_file_errors(tmp_path):
    with pytest.raises(ValueError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("cell = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
