"""`rlstar sweep CONFIG --out DIR`: runs, resumes, talks to a Dask scheduler, fails in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlstar_theory.cli import main
from rlstar_theory.sweeps import load_config, load_results, run_config

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "sweeps" / "stall_small.toml"

TINY = """\
cell = "symmetric_J"
root_seed = 1

[grid]
M = [4, 64]
lam0 = { linspace = [0.0, 0.3, 4] }

[fixed]
N = 3
iterations = 5
"""


def _tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_sweep_runs_and_resumes(tmp_path, capsys):
    config, out = _tiny(tmp_path), tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "8 cells (0 already done, 8 computed" in text and "results.nc" in text
    ds = load_results(out / "results.nc")
    assert ds["J"].dims == ("M", "lam0", "iteration") and ds["J"].shape == (2, 4, 6)
    # J_0 = (1 + (M-1) lam0^3) / M
    assert float(ds["J"].sel(M=64, lam0=0.2, iteration=0)) == pytest.approx(0.0235, abs=1e-12)
    assert main(["sweep", str(config), "--out", str(out), "--no-progress"]) == 0
    assert "8 cells (8 already done, 0 computed" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "match"), [
    (["--workers", "0"], "--workers must be an integer >= 1"),
    (["--chunk-size", "0"], "--chunk-size must be an integer >= 1"),
    (["--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with argument"),
])
def test_bad_options_one_line_exit_2(tmp_path, capsys, argv, match):
    config = _tiny(tmp_path)
    try:
        status = main(["sweep", str(config), "--out", str(tmp_path / "o"), *argv])
    except SystemExit as exc:  # argparse errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_config_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("[fixed]", "[fixd]"))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'fixd'" in err and len(err.strip().splitlines()) == 1


def test_scheduler_address(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    config = _tiny(tmp_path)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        status = main(["sweep", str(config), "--out", str(tmp_path / "d"), "--no-progress",
                       "--scheduler", cluster.scheduler_address])
    assert status == 0
    assert "computed on Dask cluster" in capsys.readouterr().out
    local = run_config(load_config(config), workers=1, progress=False)
    assert load_results(tmp_path / "d" / "results.nc").identical(local)


def test_unreachable_scheduler_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    config = _tiny(tmp_path)
    status = main(["sweep", str(config), "--out", str(tmp_path / "o"), "--scheduler",
                   "tcp://127.0.0.1:9", "--connect-timeout", "1", "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_small_example_config(tmp_path, capsys):
    assert main(["sweep", str(SMALL), "--out", str(tmp_path / "s"), "--workers", "2",
                 "--no-progress"]) == 0
    ds = load_results(tmp_path / "s" / "results.nc")
    cfg = load_config(SMALL)
    assert ds["stalled"].shape == cfg.grid.shape
    # K = 1 with lam0 = 0: a question with no right answer is all but certain (p = 1/M per draw)
    assert bool(ds["stalled"].sel(lam0=0.0, K=1).all())
