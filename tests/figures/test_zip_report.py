"""Figures of a zip-experiment run folder (``rlstar_theory.zip.report``), on a synthetic run:
labels, integer iteration ticks, byte-reproducible PNGs, folders without matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from rlstar_theory import star_step, symmetric_matrix
from rlstar_theory.figures.style import figure_of
from rlstar_theory.zip import report as zr

T = 3


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder shaped like the experiment's: n = 1 bit (M = 4, N = 1), T iterations."""
    out = tmp_path_factory.mktemp("zip_run")
    cfg = {"n_bits": 1, "temperature": 0.5, "delta0_diag": 0.2, "samples_per_question": 16}
    P = symmetric_matrix([0.3], 4)
    J = [0.475]
    (out / "matrices").mkdir()
    np.save(out / "matrices" / "P_000.npy", P)
    iterations = []
    for t in range(1, T + 1):
        pred = star_step(P, temperature=0.5)
        np.save(out / "matrices" / f"pred_{t:03d}.npy", pred)
        P = 0.999 * pred + 0.001 / 4
        np.save(out / "matrices" / f"P_{t:03d}.npy", P)
        J.append(float(np.mean(np.diagonal(P[0]))))
        iterations.append({"t": t, "J": J[-1], "J_pred": J[-1] + 1e-4, "success_rate": J[-2],
                           "J_theory_closed_form": J[-1]})
    res = {"pretrain": {"J": J[0]}, "iterations": iterations,
           "theory": {"J_closed_form_from_fit": J + [1.0], "J_dense_from_P0": J + [1.0]}}
    (out / "config.json").write_text(json.dumps(cfg))
    (out / "results.json").write_text(json.dumps(res))
    return out, cfg, res


@pytest.mark.slow
def test_write_figures_writes_three_identical_pngs_twice(run_folder):
    out, _, _ = run_folder
    first = zr.write_figures(out)
    assert [p.name for p in first] == ["J.png", "heatmaps.png", "pred_vs_learned.png"]
    before = [p.read_bytes() for p in first]
    again = zr.write_figures(out)
    assert [p.read_bytes() for p in again] == before
    assert all(b[:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in b for b in before)


def test_folder_without_matrices_gets_only_J(run_folder, tmp_path):
    out, cfg, res = run_folder
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "results.json").write_text(json.dumps(res))
    assert [p.name for p in zr.write_figures(tmp_path)] == ["J.png"]


def test_J_figure_has_integer_iteration_ticks(run_folder):
    _, cfg, res = run_folder
    axes = zr.plot_J(cfg, res)
    figure_of(axes).draw_without_rendering()
    for a in axes:
        lo, hi = a.get_xlim()
        ticks = [t for t in a.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert a.get_xlabel() and a.get_ylabel() and a.get_title()


def test_heatmaps_have_axis_labels_colour_bar_labels_and_title(run_folder):
    out, _, _ = run_folder
    P0 = np.load(out / "matrices" / "P_000.npy")
    PT = np.load(out / "matrices" / f"P_{T:03d}.npy")
    axes = zr.plot_heatmaps(P0, PT, T)
    fig = figure_of(axes)
    assert len(axes) == 2 * P0.shape[0]
    for a in axes:
        assert "state" in a.get_xlabel() and "state" in a.get_ylabel() and a.get_title()
    colour_bars = [a for a in fig.get_axes() if a not in list(axes)]
    assert len(colour_bars) == len(axes)
    assert all("P_{t," in c.get_ylabel() for c in colour_bars)
    assert fig.get_suptitle().startswith("Learned transition matrices")


def test_zip_plots_draw_into_given_axes(run_folder):
    out, cfg, res = run_folder
    fig = Figure()
    given = fig.subplots(1, 2)
    assert list(zr.plot_J(cfg, res, ax=given)) == list(given)
    with pytest.raises(ValueError, match="sequence of 2"):
        zr.plot_pred_vs_learned(np.ones((1, 4, 4)), np.ones((1, 4, 4)), [], ax=given[:1])
