"""The `rlstar` dispatcher: --version, loud packaging errors, install hints, and --out checks."""

from __future__ import annotations

import importlib
import os
import tempfile

import pytest

import rlstar_theory
from rlstar_theory import cli
from rlstar_theory.cli import build_parser, install_hint, main, require_modules
from rlstar_theory.cli._paths import check_out_dir


def _proc_refuses_files() -> bool:
    """Linux's /proc accepts no new file, even from root."""
    try:
        fd, name = tempfile.mkstemp(dir="/proc")
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


needs_proc = pytest.mark.skipif(not _proc_refuses_files(), reason="needs Linux /proc")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"rlstar {rlstar_theory.__version__} ")


def test_a_missing_command_module_fails_loudly(monkeypatch):
    """A command module that cannot be found is a packaging bug: never silently dropped."""
    monkeypatch.setitem(cli.COMMANDS, "ghost", "no_such_module")
    with pytest.raises(RuntimeError, match="'ghost'.*installation is broken"):
        build_parser()


def test_a_command_missing_an_optional_dependency_stays_listed_with_an_install_hint(
        monkeypatch, capsys):
    real = importlib.import_module

    def fake_import(name, *args):
        if name == "rlstar_theory.cli.zip_experiment":
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    assert "needs torch" in build_parser().format_help()
    assert main(["zip-experiment", "--preset", "smoke", "--out", "x"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("rlstar zip-experiment: error: rlstar zip-experiment needs torch")
    assert 'pip install "rlstar_theory[gpt2]"' in line


def test_install_hint_and_require_modules():
    assert install_hint("x", ["no_such_pkg_9", "torch", "transformers"]) == (
        'rlstar x needs no_such_pkg_9, torch, transformers: pip install "rlstar_theory[gpt2]" '
        '(or pip install -e ".[gpt2]" in a checkout); pip install no_such_pkg_9')
    require_modules("x", ["json"])  # present: nothing happens
    with pytest.raises(cli.UsageError, match="needs no_such_pkg_9: pip install no_such_pkg_9"):
        require_modules("x", ["json", "no_such_pkg_9"])


# ---- check_out_dir -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "   ", None])
def test_empty_out_is_an_error(path):
    with pytest.raises(ValueError, match="--out must name a folder"):
        check_out_dir(path)


def test_out_checks_do_not_create_anything(tmp_path):
    target = tmp_path / "a" / "b"
    assert check_out_dir(target) == target
    assert check_out_dir(str(tmp_path)) == tmp_path
    assert list(tmp_path.iterdir()) == []  # neither the folder nor the probe file remain


def test_out_that_is_a_file_or_below_a_file(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match=r"--out .*f\.txt exists and is not a folder"):
        check_out_dir(f)
    with pytest.raises(ValueError, match=r"out .*f\.txt/sub cannot be created: .* is not a "
                                         "folder"):
        check_out_dir(f / "sub", name="out")


@needs_proc
def test_unwritable_out():
    with pytest.raises(ValueError, match="--out /proc/rlstar_out is not writable"):
        check_out_dir("/proc/rlstar_out")


def test_unwritable_out_by_permissions(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            check_out_dir(locked / "run")
    finally:
        locked.chmod(0o700)


@needs_proc
@pytest.mark.parametrize("out", ["/proc/rlstar_out", ""])
def test_reproduce_bad_out_is_one_line_exit_2_not_1(capsys, out):
    """Issue 9: a traceback with status 1, which for reproduce means "a check failed"."""
    assert main(["reproduce", "--quick", "--no-proofs", "--only", "a", "--out", out]) == 2
    assert "--out" in one_error_line(capsys)


def test_reproduce_out_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "report"
    f.write_text("x")
    assert main(["reproduce", "--quick", "--no-proofs", "--only", "a", "--out", str(f)]) == 2
    assert "exists and is not a folder" in one_error_line(capsys)
