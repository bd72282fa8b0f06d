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
