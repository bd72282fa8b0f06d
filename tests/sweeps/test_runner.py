"""run_sweep: results independent of workers, chunking and executor (process pool, Dask);
part files as it goes; an interrupted sweep resumes without recomputing finished cells."""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rlstar_theory.sweeps import SerialExecutor, cell_rng, load_results, run_sweep
from rlstar_theory.sweeps.store import SweepStore

GRID = {"M": [4, 8], "lam0": [0.0, 0.3], "K": [2, 64], "seed": [0, 1, 2]}
FIXED = {"N": 2, "iterations": 3}


def draw_cell(rng, *, x, label, scale=1.0, marker_dir=""):
    """Test cell: its stream's first draws, its parameters, a boolean; logs each call."""
    if marker_dir:
        crash = Path(marker_dir) / "crash"
        if crash.exists() and crash.read_text() == f"{label}-{x}":
            raise RuntimeError(f"simulated failure in cell {label}-{x}")
        (Path(marker_dir) / f"{label}-{x}-{uuid.uuid4().hex}").touch()
    u = rng.random(3)
    return {"u": u * scale, "x_seen": x, "even": x % 2 == 0, "n": rng.integers(0, 1000)}


def _calls(marker_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in marker_dir.iterdir():
        if path.name != "crash":
            key = path.name.rsplit("-", 1)[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_each_cell_gets_its_own_stream_and_labelled_outputs():
    grid = {"label": ["a", "b"], "x": [0, 1, 2]}
    ds = run_sweep(draw_cell, grid, workers=1, root_seed=9, progress=False,
                   fixed={"scale": 2.0}, output_dims={"u": ("draw",)})
    assert ds["u"].dims == ("label", "x", "draw") and ds["n"].dims == ("label", "x")
    assert list(ds["label"].values) == ["a", "b"] and list(ds["x"].values) == [0, 1, 2]
    for i, (label, x) in enumerate((lab, x) for lab in "ab" for x in range(3)):
        rng = cell_rng(9, i)
        np.testing.assert_array_equal(ds["u"].sel(label=label, x=x).values, 2.0 * rng.random(3))
        assert ds["n"].sel(label=label, x=x).item() == rng.integers(0, 1000)
        assert ds["x_seen"].sel(label=label, x=x).item() == x
    assert ds["even"].dtype == bool
    assert json.loads(ds.attrs["sweep"])["fixed"] == {"scale": 2.0}


def test_same_results_for_1_and_4_workers_and_any_chunking(tmp_path):
    one = run_sweep("star_stall", GRID, workers=1, root_seed=3, progress=False, fixed=FIXED)
    with ProcessPoolExecutor(4) as pool:
        four = run_sweep("star_stall", GRID, executor=pool, root_seed=3, progress=False,
                         fixed=FIXED, chunk_size=5, chunks_per_map=2)
    pool4 = run_sweep("star_stall", GRID, workers=4, root_seed=3, progress=False, fixed=FIXED,
                      chunk_size=7, out=tmp_path / "four")
    assert one.identical(four) and one.identical(pool4)
    assert one["stalled"].dims == ("M", "lam0", "K", "seed")
    assert one["J"].dims == ("M", "lam0", "K", "seed", "iteration")
    assert one["J"].shape == (2, 2, 2, 3, 4)
    # the saved file holds the same dataset
    assert load_results(tmp_path / "four" / "results.nc").identical(one)
    other = run_sweep("star_stall", GRID, workers=1, root_seed=4, progress=False, fixed=FIXED)
    assert not other["J"].equals(one["J"])  # the root seed matters


def test_dask_local_cluster_gives_the_same_results():
    distributed = pytest.importorskip("distributed")
    reference = run_sweep(draw_cell, {"label": ["a", "b"], "x": list(range(10))}, workers=1,
                          root_seed=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ds = run_sweep(draw_cell, {"label": ["a", "b"], "x": list(range(10))},
                       executor=client.get_executor(), root_seed=2, progress=False,
                       chunk_size=3, chunks_per_map=2)
        stall = run_sweep("star_stall", GRID, executor=client.get_executor(), root_seed=3,
                          progress=False, fixed=FIXED, chunk_size=4)
    assert ds.identical(reference)
    assert stall.identical(run_sweep("star_stall", GRID, workers=1, root_seed=3,
                                     progress=False, fixed=FIXED))


@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_interrupted_sweep_resumes_without_recomputing(tmp_path, executor):
    markers = tmp_path / "calls"
    markers.mkdir()
    grid = {"label": ["a", "b", "c"], "x": list(range(8))}
    fixed = {"marker_dir": str(markers)}
    out = tmp_path / "sweep"
    (markers / "crash").write_text("b-5")  # cell 13 of 24 fails

    def run(**kw):
        if executor == "serial":
            return run_sweep(draw_cell, grid, executor=SerialExecutor(), out=out, root_seed=1,
                             progress=False, fixed=fixed, chunk_size=2, **kw)
        with ProcessPoolExecutor(2) as pool:
            return run_sweep(draw_cell, grid, executor=pool, out=out, root_seed=1,
                             progress=False, fixed=fixed, chunk_size=2, chunks_per_map=3, **kw)

    with pytest.raises(RuntimeError, match="simulated failure in cell b-5"):
        run()
    store = SweepStore(out)
    done = [i for a, b in store.finished() for i in range(a, b)]
    assert set(range(12)) <= set(done) and 12 not in done and 13 not in done
    assert not store.results_path.exists()
    first = _calls(markers)
    for path in markers.iterdir():  # forget the first run's calls
        path.unlink()
    ds = run()
    second = _calls(markers)
    names = [f"{lab}-{x}" for lab in "abc" for x in range(8)]
    # finished cells were not recomputed; every other cell ran exactly once now
    assert all(names[i] not in second for i in done)
    assert all(second.get(names[i]) == 1 for i in range(24) if i not in done)
    assert all(first.get(names[i]) == 1 for i in done)
    # and the result is that of an uninterrupted run
    plain = run_sweep(draw_cell, grid, workers=1, root_seed=1, progress=False, fixed=fixed)
    assert ds.identical(plain)
    assert load_results(out / "results.nc").identical(plain)
    # a third run finds everything done and computes nothing
    for path in markers.iterdir():
        path.unlink()
    assert run().identical(plain) and _calls(markers) == {}


def test_part_files_are_written_as_chunks_finish(tmp_path):
    out = tmp_path / "s"
    run_sweep(draw_cell, {"label": ["a"], "x": list(range(10))}, workers=1, out=out,
              progress=False, chunk_size=4)
    names = sorted(p.name for p in (out / "parts").iterdir())
    assert names == ["cells_0000000000-0000000004.npz", "cells_0000000004-0000000008.npz",
                     "cells_0000000008-0000000010.npz"]
    assert not [p for p in out.rglob("*.tmp")]
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["cell"].endswith("draw_cell") and manifest["grid"]["x"] == list(range(10))


def test_netcdf_round_trip_with_strings_booleans_and_integers(tmp_path):
    ds = run_sweep(draw_cell, {"label": ["a", "bb"], "x": [0, 1, 2]}, workers=1, progress=False,
                   out=tmp_path / "r", output_dims={"u": ("draw",)})
    back = load_results(tmp_path / "r" / "results.nc")
    assert back.identical(ds)
    assert back["even"].dtype == bool and back["n"].dtype == np.int64
    assert list(back["label"].values) == ["a", "bb"]


def test_a_different_sweep_in_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "s"
    run_sweep(draw_cell, {"label": ["a"], "x": [1, 2]}, workers=1, out=out, progress=False)
    with pytest.raises(ValueError, match="holds a different sweep .*root_seed"):
        run_sweep(draw_cell, {"label": ["a"], "x": [1, 2]}, workers=1, out=out,
                  progress=False, root_seed=5)
    with pytest.raises(ValueError, match="holds a different sweep .*grid"):
        run_sweep(draw_cell, {"label": ["a"], "x": [1, 2, 3]}, workers=1, out=out,
                  progress=False)


def bad_cell(rng, *, x):
    if x == 0:
        return {"v": np.zeros(2)}
    if x == 1:
        return {"v": np.zeros(3)}
    return {"v": "text"}


def dict_less_cell(rng, *, x):
    return [x]


def test_bad_outputs_are_refused():
    with pytest.raises(ValueError, match="same names and shapes"):
        run_sweep(bad_cell, {"x": [0, 1]}, workers=1, progress=False, chunk_size=2)
    with pytest.raises(ValueError, match="same names and shapes"):
        run_sweep(bad_cell, {"x": [0, 1]}, workers=1, progress=False, chunk_size=1)
    with pytest.raises(ValueError, match="'v' must be numbers or booleans"):
        run_sweep(bad_cell, {"x": [2]}, workers=1, progress=False)
    with pytest.raises(ValueError, match="non-empty mapping"):
        run_sweep(dict_less_cell, {"x": [2]}, workers=1, progress=False)
    with pytest.raises(ValueError, match="output_dims"):
        run_sweep(bad_cell, {"x": [0]}, workers=1, progress=False,
                  output_dims={"v": ("a", "b")})


def test_bad_arguments():
    with pytest.raises(ValueError, match="executor or workers, not both"):
        run_sweep(draw_cell, {"x": [1]}, executor=SerialExecutor(), workers=2)
    with pytest.raises(ValueError, match="map"):
        run_sweep(draw_cell, {"x": [1]}, executor=object())
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        run_sweep(draw_cell, {"label": ["a"], "x": [1]}, workers=0, progress=False)
    with pytest.raises(ValueError, match="also a grid dimension"):
        run_sweep(draw_cell, {"label": ["a"], "x": [1]}, fixed={"x": 1}, workers=1)
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['gamma'\]"):
        run_sweep("symmetric_J", {"M": [4]}, fixed={"N": 2, "lam0": 0.1, "iterations": 1,
                                                     "gamma": 1}, workers=1)
    with pytest.raises(ValueError, match="max_result_bytes"):
        run_sweep(draw_cell, {"label": ["a"], "x": list(range(100))}, workers=1,
                  progress=False, max_result_bytes=1000)


def test_cell_value_errors_name_the_cell():
    with pytest.raises(ValueError, match=r"cell 1 \{'M': 4, 'lam0': 2.0\}: .*lam"):
        run_sweep("symmetric_J", {"M": [4], "lam0": [0.1, 2.0]},
                  fixed={"N": 2, "iterations": 1}, workers=1, progress=False)


def test_progress_bar_on_stderr(capsys):
    run_sweep(draw_cell, {"label": ["a"], "x": list(range(4))}, workers=1, progress=True)
    err = capsys.readouterr().err
    assert "4/4" in err and "cell" in err


def test_missing_optional_dependency_gives_install_hint(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "xarray", None)
    with pytest.raises(ValueError, match=r"pip install -e '\.\[sweep\]'"):
        run_sweep(draw_cell, {"label": ["a"], "x": [1]}, workers=1, progress=False)


def test_os_cpu_default_pool_runs(tmp_path):
    # workers=None: a process pool over the available CPUs
    ds = run_sweep(draw_cell, {"label": ["a"], "x": list(range(6))}, progress=False,
                   out=tmp_path / "d")
    assert ds["u"].shape == (1, 6, 3) and os.path.exists(tmp_path / "d" / "results.nc")
