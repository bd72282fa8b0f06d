"""`rlstar simulate`: table, JSON, exact output, dense mode and one-line errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory import iterate_symmetric, iterate_symmetric_exact, symmetric_matrix
from rlstar_theory.cli import main

GOLDEN_J_LAMBDA_02 = [0.023500, 0.130984, 0.869432, 0.999777, 1.000000]  # SPEC §3, M=64, N=3


def run_json(capsys, *argv):
    assert main(["simulate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_and_golden_curve(capsys):
    res = run_json(capsys, "--M", "64", "--N", "3", "--lambda0", "0.2", "--iterations", "9")
    assert res["M"] == 64 and res["N"] == 3
    assert len(res["J"]) == 10 and len(res["lambda"]) == 10 and len(res["lambda"][0]) == 3
    np.testing.assert_allclose(res["J"][:5], GOLDEN_J_LAMBDA_02, atol=5e-7)
    lam = np.array(res["lambda"])
    np.testing.assert_allclose(np.array(res["delta"]), lam * 63 / 64, rtol=1e-15)
    assert len(res["p_all_correct_given_success"]) == 10


def test_per_step_lambda_and_delta_convention(capsys):
    a = run_json(capsys, "--M", "8", "--lambda0", "0.3,0.1,0.5", "--iterations", "3")
    ref = iterate_symmetric([0.3, 0.1, 0.5], 8, 3)
    np.testing.assert_allclose(a["lambda"], ref.lam, rtol=1e-15)
    # the same model written in the diagonal-excess convention
    d = ",".join(str(v * 7 / 8) for v in (0.3, 0.1, 0.5))
    b = run_json(capsys, "--M", "8", "--delta0", d, "--iterations", "3")
    np.testing.assert_allclose(b["lambda"], a["lambda"], rtol=1e-12)


def test_exact_output_is_fractions(capsys):
    res = run_json(capsys, "--M", "8", "--lambda0", "1/3,0,1/2", "--exact", "--iterations", "2")
    ref = iterate_symmetric_exact([Fraction(1, 3), Fraction(0), Fraction(1, 2)], 8, 2)
    assert [Fraction(v) for v in res["J"]] == list(ref.J)
    assert all("/" in v for v in res["J"])
    # the single zero step moves first, the others wait one iteration
    lam1 = [Fraction(v) for v in res["lambda"][1]]
    assert lam1[0] == Fraction(1, 3) and lam1[2] == Fraction(1, 2) and lam1[1] > 0


def test_exact_temperature_half(capsys):
    res = run_json(capsys, "--M", "4", "--lambda0", "1/5", "--N", "2", "--exact",
                   "--temperature", "1/2", "--iterations", "2")
    ref = iterate_symmetric([0.2, 0.2], 4, 2, temperature=0.5)
    np.testing.assert_allclose([float(Fraction(v)) for v in res["J"]], ref.J, rtol=1e-13)


def test_dense_matrices_and_truth(tmp_path, capsys):
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(5), size=(2, 5))
    truth = np.array([[1, 2, 3, 4, 0], [0, 0, 1, 2, 3]])
    np.save(tmp_path / "P.npy", P)
    np.save(tmp_path / "truth.npy", truth)
    res = run_json(capsys, "--matrices", str(tmp_path / "P.npy"), "--truth",
                   str(tmp_path / "truth.npy"), "--iterations", "2")
    from rlstar_theory import iterate_dense

    ref = iterate_dense(P, 2, truth=truth)
    assert res["engine"] == "dense" and res["M"] == 5 and res["N"] == 2
    np.testing.assert_allclose(res["J"], ref.J, rtol=1e-15)


def test_dense_exact_from_fraction_strings(tmp_path, capsys):
    P = symmetric_matrix([Fraction(1, 3), Fraction(1, 5)], 3)
    np.save(tmp_path / "P.npy", np.array([[[str(v) for v in row] for row in m] for m in P]))
    res = run_json(capsys, "--matrices", str(tmp_path / "P.npy"), "--exact", "--iterations", "2")
    ref = iterate_symmetric_exact([Fraction(1, 3), Fraction(1, 5)], 3, 2)
    assert [Fraction(v) for v in res["J"]] == list(ref.J)


def test_table_output_names_both_conventions(capsys):
    assert main(["simulate", "--M", "64", "--lambda0", "0.2", "--iterations", "3"]) == 0
    out = capsys.readouterr().out
    assert "lambda_1" in out and "delta_diag_1" in out and "0.869432" in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--M", "1"], "M must be"),
        (["--N", "0"], "N must be"),
        (["--lambda0", "2"], "--lambda0 must lie in [-1/(M-1), 1]"),
        (["--lambda0", "nan"], "--lambda0"),
        (["--lambda0", "inf"], "--lambda0"),
        (["--lambda0", "0.1,0.2", "--N", "3"], "N = 3"),
        (["--delta0", "0.99"], "--delta0 must lie in [-1/M, (M-1)/M]"),
        (["--temperature", "0"], "temperature must be"),
        (["--exact", "--temperature", "0.3"], "temperature must be 1/k"),
        (["--iterations", "-1"], "iterations must be"),
        (["--matrices", "/no/such/file.npy"], "--matrices"),
        (["--truth", "t.npy"], "--truth needs --matrices"),
    ],
)
def test_bad_input_one_line_exit_2(argv, fragment, capsys):
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err


def test_bad_matrices_rows(tmp_path, capsys):
    np.save(tmp_path / "P.npy", np.full((2, 3, 3), 0.5))
    assert main(["simulate", "--matrices", str(tmp_path / "P.npy")]) == 2
    assert "sum to 1" in capsys.readouterr().err


def test_console_entry_point_subprocess():
    """`python -m rlstar_theory` works and a bad option exits 2 with one line, no traceback."""
    ok = subprocess.run([sys.executable, "-m", "rlstar_theory", "simulate", "--iterations", "1"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "lambda_1" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "rlstar_theory", "simulate", "--bogus"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


def test_criteria_in_json(capsys):
    frozen = run_json(capsys, "--M", "8", "--lambda0", "0.2,0,0", "--iterations", "2")
    assert frozen["criteria"]["start_class"] == "frozen"
    assert frozen["criteria"]["iterations_to_reach"] is None
    assert frozen["J"] == [1 / 8] * 3
    ok = run_json(capsys, "--M", "64", "--lambda0", "0.2", "--iterations", "3")
    # J_2 = 0.869 < 0.99 <= J_3 = 0.99978 (golden curve)
    assert ok["criteria"] == {**ok["criteria"], "start_class": "all_positive",
                              "iterations_to_reach": 3}


# ------------------------------------------------------------------------------ exact mode


def test_exact_beyond_4300_digits_json_and_float_rendering(capsys):
    """The README example's size class: numbers above Python's 4300-digit str limit."""
    res = run_json(capsys, "--M", "8", "--lambda0", "1/3,0,1/2", "--exact", "--iterations", "9")
    from rlstar_theory.cli.simulate import _long_integers

    assert max(len(v.split("/")[1]) for v in res["p_step_wrong_given_success"][-1]) > 4300
    ref = iterate_symmetric_exact(["1/3", "0", "1/2"], 8, 9)
    with _long_integers():  # the test's own str <-> int conversions
        wrong = [Fraction(v) for v in res["p_step_wrong_given_success"][-1]]  # from lam_10
        assert wrong == list(ref.p_step_wrong_given_success[-1])
        assert [Fraction(v) for v in res["lambda"][-1]] == list(ref.lam[-1])
    assert sys.get_int_max_str_digits() not in (0,)  # the limit is restored afterwards
    assert res["float"]["J"] == [float(j) for j in ref.J]  # a readable rendering, from exact
    assert res["criteria"]["iterations_to_reach"] == 5  # first exact J >= 0.99


@pytest.mark.slow
def test_readme_exact_example_runs_as_written(capsys):
    """`rlstar simulate --M 8 --lambda0 1/3,0,1/2 --exact --json` (README) and the defaults."""
    res = run_json(capsys, "--M", "8", "--lambda0", "1/3,0,1/2", "--exact")
    assert len(res["J"]) == 11 and res["exact"] is True
    assert main(["simulate", "--exact"]) == 0
    out = capsys.readouterr().out
    assert "reached at t = 3 (exact)" in out


def test_exact_run_prints_only_exact_results(capsys, monkeypatch):
    """No float closed form behind an exact run (issue 9: J = 0 in the table, then 'reached
    at t = 1' from floats). Here the float engines are made unusable."""
    from rlstar_theory.cli import simulate

    def boom(*args, **kwargs):
        raise AssertionError("float closed form used in an exact run")

    monkeypatch.setattr(simulate, "iterate_symmetric", boom)
    monkeypatch.setattr(simulate, "iterations_to_reach", boom)
    assert main(["simulate", "--M", "8", "--N", "1", "--lambda0=-1/7", "--exact",
                 "--iterations", "2"]) == 0
    out = capsys.readouterr().out
    assert "not reached within the 2 iterations run (exact)" in out
    assert "0.000000" in out and "exact rationals" in out


def test_exact_fractions_on_request(capsys):
    assert main(["simulate", "--M", "8", "--lambda0", "1/3,0,1/2", "--exact", "--iterations",
                 "2", "--fractions"]) == 0
    out = capsys.readouterr().out
    assert "t = 1: J = 43/288" in out and "lambda_2 = 1/6" in out
    assert main(["simulate", "--M", "8", "--lambda0", "1/3,0,1/2", "--exact", "--iterations",
                 "2"]) == 0
    assert "43/288" not in capsys.readouterr().out  # decimals only by default


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--exact", "--temperature", "0.5"], "use --iterations 5 or fewer"),
        (["--exact", "--lambda0", "0.1234567891234"], "use --iterations 7 or fewer"),
        (["--exact", "--iterations", "40"], "use --iterations 10 or fewer"),
        (["--exact", "--max-digits", "0"], "--max-digits must be > 0"),
        (["--fractions"], "need --exact"),
    ],
)
def test_exact_runs_that_would_hang_are_refused_up_front(argv, fragment, capsys):
    """Estimated size named in one line, before any long work (issue 9: these hung)."""
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
    if "--exact" in argv and "--max-digits" not in argv:
        assert "digits" in err and "multiply by about" in err


def test_exact_size_note_on_stderr(capsys):
    assert main(["simulate", "--M", "8", "--lambda0", "1/3,0,1/2", "--exact", "--iterations",
                 "9", "--json"]) == 0
    assert "note: the exact fractions would reach about" in capsys.readouterr().err


# ------------------------------------------------------------------ temperature statements


def test_hot_temperature_does_not_promise_improvement(capsys):
    """--temperature 2: J falls to 1/M, and the output must not claim it increases."""
    assert main(["simulate", "--M", "64", "--lambda0", "0.2", "--temperature", "2"]) == 0
    out = capsys.readouterr().out
    assert "J increases strictly" not in out and "no guarantee at temperature > 1" in out
    res = run_json(capsys, "--M", "64", "--lambda0", "0.2", "--temperature", "0.5")
    assert "increases strictly" in res["criteria"]["prediction"]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("argv, fragment", [
    (["--lambda0", ""], "--lambda0 must be a comma-separated list"),
    (["--delta0", ""], "--delta0 must be a comma-separated list"),
    (["--lambda0", "0.2,,0.3"], "--lambda0 must be a comma-separated list"),
    (["--out", ""], "--out must name a folder"),
    (["--N", "1000000"], "would tabulate about"),
    (["--iterations", "100000000"], "would tabulate about"),
    (["--epsilon", "0.99"], "--epsilon must lie in (0, 1 - 1/M)"),
])
def test_empty_and_oversized_inputs_are_errors(argv, fragment, capsys):
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err


def _write_bad_npy(path, kind):
    if kind == "empty file":
        path.write_bytes(b"")
    elif kind == "npz renamed":
        with open(path, "wb") as fh:
            np.savez(fh, P=np.full((1, 2, 2), 0.5))
    elif kind == "complex":
        np.save(path, np.full((1, 2, 2), 0.5 + 0j))
    elif kind == "empty array":
        np.save(path, np.zeros((0, 2, 2)))
    elif kind == "garbage":
        path.write_bytes(b"\x93NUMPY\x01\x00garbage")


@pytest.mark.parametrize("kind, fragment", [
    ("empty file", "is empty (0 bytes)"), ("npz renamed", "is an .npz archive"),
    ("complex", "holds complex numbers"), ("empty array", "holds an empty array"),
    ("garbage", "cannot read"),
])
def test_bad_npy_files_give_one_line(tmp_path, kind, fragment, capsys):
    _write_bad_npy(tmp_path / "P.npy", kind)
    assert main(["simulate", "--matrices", str(tmp_path / "P.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err
    np.save(tmp_path / "ok.npy", np.full((1, 2, 2), 0.5))
    _write_bad_npy(tmp_path / "t.npy", kind)
    assert main(["simulate", "--matrices", str(tmp_path / "ok.npy"), "--truth",
                 str(tmp_path / "t.npy")]) == 2
    assert fragment in capsys.readouterr().err


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["simulate", "--out", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert main(["simulate", "--out", str(tmp_path / "file" / "below")]) == 2
    assert "--out: cannot create the folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------- outputs


def test_out_writes_csv_json_and_png(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["simulate", "--M", "8", "--lambda0", "0.3,0.1,0.5", "--iterations", "3",
                 "--out", str(out)]) == 0
    assert "wrote simulation.csv" in capsys.readouterr().out
    rows = (out / "simulation.csv").read_text().splitlines()
    assert rows[0].startswith("t,J,J_sampling") and len(rows) == 5
    ref = iterate_symmetric([0.3, 0.1, 0.5], 8, 3)
    assert [float(r.split(",")[1]) for r in rows[1:]] == ref.J.tolist()
    assert json.loads((out / "simulation.json").read_text())["J"] == ref.J.tolist()
    png = (out / "simulation.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # fixed metadata: the same run writes the same bytes
    assert main(["simulate", "--M", "8", "--lambda0", "0.3,0.1,0.5", "--iterations", "3",
                 "--out", str(out)]) == 0
    assert (out / "simulation.png").read_bytes() == png


def test_plot_takes_ax_and_returns_it(capsys):
    from matplotlib.figure import Figure

    from rlstar_theory.cli.simulate import plot_simulation

    res = run_json(capsys, "--M", "8", "--lambda0", "0.3,0.1", "--iterations", "3")
    ax = Figure().add_subplot()
    assert plot_simulation(res, ax=ax) is ax
    assert len(ax.lines) == 4  # J, two steps, 1/M
    new = plot_simulation(res)
    assert new.figure is not None and new is not ax


def test_importing_simulate_sets_no_backend():
    code = ("import sys; import rlstar_theory.cli.simulate; "
            "print('matplotlib.pyplot' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_help_shows_every_default(capsys):
    import argparse

    from rlstar_theory.cli import simulate

    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) == 14
    for action in options:
        assert "default" in (action.help or ""), action.option_strings
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    assert "(default: 10)" in text and "default: 200000" in text


def test_dense_sub_optimal_fixed_point_is_named(tmp_path, capsys):
    """Two zero steps through the dense engine: J stays 1/M; say so with the fixed point."""
    P = symmetric_matrix([Fraction(3, 10), Fraction(0), Fraction(0)], 4)
    np.save(tmp_path / "P.npy", np.array([[[str(v) for v in r] for r in m] for m in P]))
    assert main(["simulate", "--matrices", str(tmp_path / "P.npy"), "--iterations", "3",
                 "--exact"]) == 0
    out = capsys.readouterr().out
    assert "sub-optimal fixed point: P stops changing from t = 0 (exactly) at J = 0.250000" \
        in out
    res = run_json(capsys, "--matrices", str(tmp_path / "P.npy"), "--iterations", "3")
    assert res["criteria"]["fixed_point"]["t"] == 0
    assert res["criteria"]["fixed_point"]["J"] == pytest.approx(0.25, abs=1e-15)
