"""The notebooks: jupytext percent-format sources (``notebooks/*.py``) paired with executed
``.ipynb`` files. The pair must agree cell by cell, and every notebook must execute (kernel
``python3``) so that it cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))
CELL_TIMEOUT_S = 120


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks_each_with_its_source():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_model_and_theorems.ipynb", "02_beyond_the_paper.ipynb",
            "03_gpt2_zip.ipynb"} <= names
    assert {p.stem for p in SOURCES} == {p.stem for p in NOTEBOOKS}
    assert not (ROOT / "notebooks" / "build_notebooks.py").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_ipynb_matches_its_jupytext_source(path):
    """Edit the ``.py``; ``jupytext --sync notebooks/*.py`` carries the edit to the ``.ipynb``."""
    source = jupytext.read(path.with_suffix(".py"))
    nb = nbformat.read(path, as_version=4)
    assert _cells(nb) == _cells(source)
    code = [c for c in _cells(nb) if c[0] == "code"]
    assert len(code) >= 5
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_ipynb_is_executed(path):
    """The committed notebooks carry their outputs, so they read without running them."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert not [o for c in code for o in c.outputs if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = jupytext.read(path.with_suffix(".py"))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}))
    assert images >= 1  # the figures are actually drawn
