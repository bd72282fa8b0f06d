"""Q1 cell, its analysis and figures on tiny grids; the configs match the commands' grids."""

from pathlib import Path

import numpy as np
import pytest

from rlstar_theory.open_questions import bias, escape, temperature
from rlstar_theory.open_questions.outcomes import Outcome
from rlstar_theory.open_questions.predictors import SCORES
from rlstar_theory.sweeps import get_cell, load_config, run_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sweeps"
TINY = {"M": 4, "N": 3, "models": 4, "iterations": 300, "model_seed": 1}


@pytest.mark.parametrize("name, grid, fixed", [
    ("escape_small", escape.SMALL_GRID, escape.SMALL_FIXED),
    ("escape_rules", escape.RULES_GRID, escape.RULES_FIXED),
    ("critical_temperature", temperature.MAP_GRID, {}),
    ("critical_temperature_dense", temperature.DENSE_GRID, temperature.DENSE_FIXED),
    ("star_bias", bias.BIAS_GRID, bias.BIAS_FIXED),
])
def test_configs_are_the_commands_grids(name, grid, fixed):
    config = load_config(EXAMPLES / f"{name}.toml")
    assert config.cell.name == ("escape_outcome" if name.startswith("escape") else name)
    assert [n for n, _ in config.grid.dims] == list(grid)
    for dim, values in config.grid.dims:
        np.testing.assert_array_equal(np.asarray(values), np.asarray(grid[dim]))
    assert config.fixed == fixed


def test_large_config_parses():
    config = load_config(EXAMPLES / "escape_large.toml")
    assert list(dict(config.grid.dims)["N"]) == [3, 4, 5, 6]
    assert list(dict(config.grid.dims)["M"]) == [8, 16, 32, 64]


def test_cell_outputs_and_same_models_for_every_rule():
    star = escape.escape_outcome(None, family="planted", n_zero=1, spread=0.3, **TINY)
    again = escape.escape_outcome(None, family="planted", n_zero=1, spread=0.3, **TINY)
    grpo = escape.escape_outcome(None, family="planted", n_zero=1, spread=0.3, rule="grpo",
                                 **TINY)
    assert set(star) == set(escape.OUTPUT_NAMES)
    assert all(np.shape(v) == (4,) for v in star.values())
    for name in star:
        np.testing.assert_array_equal(star[name], again[name])
    np.testing.assert_array_equal(star["J0"], grpo["J0"])
    np.testing.assert_array_equal(star["score_greedy_accuracy"],
                                  grpo["score_greedy_accuracy"])
    assert set(star["outcome"]) <= {int(o) for o in Outcome}
    assert np.all(star["row_spread"] > 0)


def test_sweep_analysis_and_figures():
    grid = {"n_zero": [0, 2], "spread": [0.0, 0.3], "family": ["dirichlet"]}
    ds = run_sweep(get_cell("escape_outcome"), grid, fixed=TINY, workers=1, progress=False)
    ds = escape.compact(ds)
    table = escape.flat_table(ds)
    assert table["outcome"].size == 16
    prob = escape.escape_probability(ds)
    assert float(prob.p_escape.sel(n_zero=0, spread=0.0).squeeze()) == 1.0  # P(lam) with lam > 0
    assert float(prob.p_escape.sel(n_zero=2, spread=0.0).squeeze()) == 0.0  # the frozen point
    confusion = escape.confusion_table(ds)
    assert sum(sum(row.values()) for row in confusion.values()) == 16
    assert confusion["frozen"]["frozen"] == 4
    report = escape.predictor_report(ds)
    assert set(report["scores"]) == set(SCORES)
    assert report["n_train"] + report["n_test"] + report["n_undecided"] == 16
    summary = escape.summarize(ds)
    assert summary["escapes"] == int((table["outcome"] == 0).sum())
    for axes in (escape.plot_escape_vs_spread(ds), escape.plot_iterations_vs_J0(ds),
                 escape.plot_fixed_points(ds), escape.plot_predictors(report)):
        assert np.asarray(axes).size >= 1


def test_rules_report_pairs_the_models():
    grid = {"rule": ["star", "reinforce"], "n_zero": [2], "spread": [0.0, 0.2]}
    fixed = dict(TINY, family="dirichlet", iterations=50)
    ds = run_sweep(get_cell("escape_outcome"), grid, fixed=fixed, workers=1, progress=False)
    report = escape.rules_report(ds)
    assert report["star"]["models"] == report["reinforce"]["models"] == 8
    # at the symmetric frozen point both rules are frozen
    assert report["star"]["counts"]["frozen"] >= 4
    assert report["reinforce"]["counts"]["frozen"] >= 4
    assert np.asarray(escape.plot_rules(ds)).size == 1


def test_temperature_and_bias_cells():
    out = temperature.temperature_map_cell(None, M=64, N=3, lam0=0.2)
    assert out["tau_star"] == pytest.approx(temperature.critical_temperature(0.2, 64, 3))
    assert out["tau_large_M"] == pytest.approx(1.5)
    dense = temperature.temperature_dense_cell(np.random.default_rng(0), M=4, N=3, lam0=0.5,
                                               spread=0.0, models=2, steps=10)
    np.testing.assert_allclose(dense["tau_star"], dense["tau_star_symmetric"],
                               atol=2.5 / 2**10)
    b = bias.bias_cell(np.random.default_rng(0), M=3, N=2, lam0=0.3, K=64, draws=20)
    assert b["c"] == pytest.approx(b["c_ratio"] + b["c_cross"])
    assert b["scaled_se"] > 0


def test_commands_report_bad_input_in_one_line(tmp_path, capsys):
    assert escape.main(["--out", str(tmp_path), "--results", str(tmp_path / "no.nc")]) == 2
    assert temperature.main(["--out", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "results file not found" in err[0] and "workers" in err[1]
