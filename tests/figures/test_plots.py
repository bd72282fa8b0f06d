"""The plot functions of ``rlstar reproduce``: the ``ax=None`` convention, labels, ticks, no
backend side effects, byte-reproducible files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from rlstar_theory.figures import (
    authors,
    criteria,
    dense_example,
    finite_sample,
    phase,
    rate,
    robustness,
)
from rlstar_theory.figures import io as fio
from rlstar_theory.figures.style import check_axes, figure_of

ROOT = Path(__file__).resolve().parents[2]


def _small_data() -> dict:
    """Every figure's data, on reduced grids where the full one is slow."""
    grid = phase.start_grid(-1 / 3, 1.0, 9)
    return {
        "a": (authors, authors.compute()),
        "b": (criteria, criteria.compute()),
        "c": (robustness, robustness.compute()),
        "d": (phase, phase.PhaseData((
            phase.compute_panel(4, grid, grid, max_iterations=20, limit_iterations=20,
                                title="N = 2, M = 4"),
            phase.compute_panel(4, grid, grid, fixed=(0.5,), max_iterations=20,
                                limit_iterations=20, title="N = 3, M = 4: slice λ₃ = 0.5"),
        ))),
        "e": (rate, rate.compute()),
        "f": (finite_sample, finite_sample.FiniteSampleData((
            finite_sample.compute_panel(4, 0.2, (8, 64), seeds=3, iterations=3),
            finite_sample.compute_panel(3, 0.3, (8, 64), seeds=3, iterations=3),
        ))),
        "g": (dense_example, dense_example.compute(iterations=5)),
    }


KEYS = list("abcdefg")
_CACHE: dict = {}


def _data(key: str):
    """``(module, data)`` of one figure, computed once per test session."""
    if not _CACHE:
        _CACHE.update(_small_data())
    return _CACHE[key]


@pytest.fixture(scope="module")
def drawn() -> dict:
    """``key -> axes`` drawn into new figures (laid out, so tick positions are final)."""
    out = {}
    for key in KEYS:
        module, data = _data(key)
        axes = module.plot(data)
        figure_of(axes).draw_without_rendering()
        out[key] = axes
    return out


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


@pytest.mark.parametrize("key", KEYS)
def test_plot_returns_the_axes_of_one_new_figure(drawn, key):
    axes = drawn[key]
    assert isinstance(axes, np.ndarray) and axes.ndim == 1 and len(axes) >= 2
    assert all(isinstance(a, Axes) for a in axes)
    fig = figure_of(axes)
    assert isinstance(fig, Figure) and all(a.figure is fig for a in axes)


@pytest.mark.parametrize("key", KEYS)
def test_plot_draws_into_given_axes(drawn, key):
    module, data = _data(key)
    fig = Figure(figsize=(12, 8))
    given = fig.subplots(1, len(drawn[key]))
    got = module.plot(data, ax=given)
    assert list(got) == list(given)
    assert all(a.has_data() or a.images for a in got)  # something was drawn in each
    with pytest.raises(ValueError, match="ax must be None or a sequence of"):
        module.plot(data, ax=given[:-1])


def test_check_axes_accepts_one_axes_and_arrays():
    fig = Figure()
    one = fig.add_subplot()
    assert list(check_axes(one, 1)) == [one]
    grid = fig.subplots(2, 2)
    assert list(check_axes(grid, 4)) == list(grid.ravel())
    with pytest.raises(ValueError, match="sequence of 3"):
        check_axes(["not axes"] * 3, 3)


@pytest.mark.parametrize("key", KEYS)
def test_no_raw_braces_or_numpy_reprs_in_any_text(drawn, key):
    for text in _texts(figure_of(drawn[key])):
        if "$" not in text:  # mathtext renders its braces; plain text must have none
            assert "{" not in text and "}" not in text, text
        assert "np.float64" not in text and "np.int64" not in text, text


@pytest.mark.parametrize("key", ["a", "b", "c", "e", "f", "g"])
def test_iteration_axes_have_integer_ticks(drawn, key):
    iteration_axes = [a for a in figure_of(drawn[key]).get_axes()
                      if "iteration" in a.get_xlabel()]
    assert iteration_axes
    for a in iteration_axes:
        lo, hi = a.get_xlim()
        ticks = [t for t in a.get_xticks() if lo <= t <= hi]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_fig_c_right_title_states_the_spread_and_nothing_is_clipped(drawn):
    data = _data("c")[1]
    left, right = drawn["c"]
    title = right.get_title()
    assert "coincide" not in title
    spread = data.step_wrong[-1].max(axis=-1) / data.step_wrong[-1].min(axis=-1)
    assert f"{spread[0]:.2f} at t = 0" in title and spread[0] > 1.2  # they differ at t = 0
    for a, top in ((left, data.some_wrong.max()), (right, data.step_wrong.max())):
        assert a.get_ylim()[1] >= 10 * top  # a decade of room above the highest point
    inset = [c for c in left.child_axes]
    assert inset and inset[0].get_ylim() == (0.0, 1.0)  # the early values on a linear scale


def test_fig_d_uses_one_notation_in_labels_and_legends(drawn):
    axes = drawn["d"]
    for a in axes:
        labels = [t.get_text() for t in a.get_legend().get_texts()]
        assert any("not reached in 20 iterations" in t for t in labels)
        assert any(t.startswith("λ₁ = λ₂ = 0") for t in labels)
        assert a.get_xlabel().startswith("λ₁ at t = 0") and a.get_ylabel().startswith("λ₂")
    texts = _texts(figure_of(axes))
    assert not [t for t in texts if "λ_" in t or " its" in t]


def test_fig_g_labels_are_mathtext(drawn):
    fig = figure_of(drawn["g"])
    texts = _texts(fig)
    assert any("$P_{t,n}[s, s']$" in t for t in texts)  # the colour bar
    assert not [t for t in texts if "P_{" in t and "$" not in t]


def test_package_never_selects_a_backend_nor_imports_pyplot(tmp_path):
    """Importing everything and writing a figure leaves the user's backend alone."""
    code = (
        "import sys, matplotlib\n"
        "import rlstar_theory, rlstar_theory.report\n"
        "import rlstar_theory.zip.report\n"
        "from rlstar_theory.figures import authors, io, figure_of\n"
        f"io.save_figure(figure_of(authors.plot(authors.compute())), {str(tmp_path)!r}, 'a')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "print(matplotlib.get_backend())\n"
    )
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"
    assert (tmp_path / "a.png").is_file()


def test_no_source_file_selects_a_backend():
    pattern = re.compile(r"matplotlib\.use\(|^\s*(import matplotlib\.pyplot|"
                         r"from matplotlib import pyplot|from matplotlib\.pyplot import)",
                         re.MULTILINE)
    offenders = [p.relative_to(ROOT).as_posix() for p in (ROOT / "rlstar_theory").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert pattern.search("import matplotlib.pyplot as plt\n")  # the pattern can fire


def test_saved_figures_are_byte_identical_and_carry_no_varying_metadata(tmp_path):
    module, data = _data("a")
    first = fio.save_figure(figure_of(module.plot(data)), tmp_path / "one", "a", dpi=40)
    second = fio.save_figure(figure_of(module.plot(data)), tmp_path / "two", "a", dpi=40)
    for p, q in zip(first, second, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name
    png, pdf = (p.read_bytes() for p in first)
    assert b"Software" not in png and b"matplotlib" not in png.lower()
    assert b"CreationDate" not in pdf and b"Producer" not in pdf and b"Matplotlib" not in pdf


def test_committed_text_files_round_to_twelve_digits(tmp_path):
    assert fio.COMMITTED_DIGITS == 12
    value = 0.1 + 0.2  # 0.30000000000000004
    js = fio.save_json({"x": value, "tiny": 1e-300 / 3, "n": np.nan}, tmp_path / "x.json",
                       significant_digits=12)
    assert json.loads(js.read_text()) == {"x": 0.3, "tiny": 3.33333333333e-301, "n": None}
    csv = fio.save_csv(["x"], [[value], [2 / 3]], tmp_path / "x.csv", significant_digits=12)
    assert csv.read_text().splitlines() == ["x", "0.3", "0.666666666667"]
    # without rounding, the float's full repr
    plain = fio.save_json({"x": value}, tmp_path / "y.json")
    assert json.loads(plain.read_text())["x"] == value
