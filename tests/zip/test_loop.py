"""The zip RL-STaR loop's records: why it stopped, provenance, strict JSON, refusals before
training, and training that diverges. A tiny model (n = 1, width 8, a few steps) keeps each
run well under a second once torch is imported."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rlstar_theory.atomic import write_json_atomic
from rlstar_theory.zip import iteration, loop
from rlstar_theory.zip.config import make_config
from rlstar_theory.zip.loop import STOP_REASONS, atomic_write_json, run_experiment
from rlstar_theory.zip.sampling import SampleResult


def tiny(**over):
    """n = 1 (M = 4, N = 1), one layer of width 8, a handful of steps."""
    values = dict(n_bits=1, delta0_diag=0.3, warm_delta_diag="none", pretrain_steps=5,
                  n_layer=1, n_embd=8, n_head=1, warmup_steps=0, iterations=2, train_steps=2,
                  samples_per_question=8)
    values.update(over)
    return make_config("smoke", **values)


def strict_load(path):
    """json.loads that refuses the NaN/Infinity tokens."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def torch():
    """The gpt2 extra (skip without it); importing it is most of the first test's time."""
    module = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("tqdm")
    import transformers.models.gpt2  # noqa: F401  (the model class, loaded lazily otherwise)

    return module


# ---- JSON: NaN is written as null, once for every writer -----------------------------------


def test_nan_and_infinities_are_written_as_null(tmp_path):
    data = {"a": float("nan"), "b": [1.5, float("inf"), np.float64("-inf")], "c": np.int64(3),
            "d": np.array([0.25, np.nan])}
    atomic_write_json(tmp_path / "r.json", data)
    write_json_atomic(tmp_path / "s.json", data, indent=None)
    expected = {"a": None, "b": [1.5, None, None], "c": 3, "d": [0.25, None]}
    assert strict_load(tmp_path / "r.json") == expected
    assert strict_load(tmp_path / "s.json") == expected


def test_json_values_fractions_and_rounding(tmp_path):
    from fractions import Fraction

    write_json_atomic(tmp_path / "f.json", {"q": Fraction(1, 3), "x": 0.1 + 0.2,
                                            "y": np.float32(0.5)}, significant_digits=12)
    assert strict_load(tmp_path / "f.json") == {"q": "1/3", "x": 0.3, "y": 0.5}
    with pytest.raises(TypeError, match="cannot convert object to JSON"):
        write_json_atomic(tmp_path / "g.json", {"o": object()})
    assert not (tmp_path / "g.json").exists()


# ---- refusals before any training -----------------------------------------------------------


def test_oversized_sampling_is_refused_before_the_run_folder_is_made(tmp_path):
    with pytest.raises(ValueError, match=r"GiB.*reduce samples_per_question \(--samples\)"):
        run_experiment(make_config("smoke", samples_per_question=10**9), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # exact training data sample nothing: the same setting is no problem there
    loop.check_resources(make_config("smoke", samples_per_question=10**9, data="exact"))


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="out .* exists and is not a folder"):
        run_experiment(tiny(), tmp_path / "f")


# ---- what the loop records ------------------------------------------------------------------


def test_finished_run_records_provenance_and_why_it_stopped(torch, tmp_path):
    res = run_experiment(tiny(), tmp_path / "run", progress=False).results
    on_disk = strict_load(tmp_path / "run" / "results.json")
    assert on_disk == res
    assert res["stopped"] == {"after_iteration": 2, "reason": STOP_REASONS[0]}
    prov = res["provenance"]
    assert prov["packages"]["numpy"] == np.__version__
    assert prov["packages"]["torch"] == torch.__version__
    assert prov["cpu"] and prov["python"]
    assert "resumed" not in res


def test_stop_at_stop_J_is_recorded(torch, tmp_path):
    res = run_experiment(tiny(stop_J=1e-6), tmp_path / "run", progress=False).results
    assert res["iterations"] == []
    stop = res["stopped"]
    assert stop["reason"] == "stop_J reached" and stop["after_iteration"] == 0
    assert stop["J"] >= 1e-6 and stop["J"] == pytest.approx(res["pretrain"]["J"])


def test_no_kept_trajectory_stop_is_recorded(torch, tmp_path, monkeypatch):
    """Issue 9: the loop set entry["stopped"] and broke before appending it, so the reason
    was lost. Every sampled trajectory fails here (a sampler that keeps none)."""
    def keep_none(P, truth, per_question, temperature, rng, start=None):
        M = P.shape[1]
        return SampleResult(counts=np.zeros(P.shape, dtype=np.int64), kept=0,
                            total=M * per_question,
                            kept_per_question=np.zeros(M, dtype=np.int64))

    monkeypatch.setattr(iteration, "sample_trajectories", keep_none)
    res = run_experiment(tiny(), tmp_path / "run", progress=False).results
    assert res["iterations"] == []
    assert res["stopped"]["reason"] == "no kept trajectory"
    assert res["stopped"]["after_iteration"] == 0 and res["stopped"]["sampled"] == 4 * 8
    assert strict_load(tmp_path / "run" / "results.json")["stopped"] == res["stopped"]
    from rlstar_theory.zip.report import summary_lines

    assert summary_lines(tmp_path / "run")[-1] == ("stopped after iteration 0: no kept "
                                                   "trajectory")


def test_resumed_session_records_its_own_provenance(torch, tmp_path):
    cfg = tiny()

    def interrupt(t):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "run", progress=False, after_iteration=interrupt)
    res = run_experiment(cfg, tmp_path / "run", progress=False).results
    assert [e["t"] for e in res["iterations"]] == [1, 2]
    assert len(res["resumed"]) == 1 and res["resumed"][0]["after_iteration"] == 1
    assert res["resumed"][0]["provenance"]["packages"]["numpy"] == np.__version__
    # a call that finds the run finished adds no session
    again = run_experiment(cfg, tmp_path / "run", progress=False)
    assert again.results["resumed"] == res["resumed"]


# ---- divergence -------------------------------------------------------------------------


def test_diverging_pretraining_says_so_and_names_the_learning_rate(torch, tmp_path):
    """Issue 9: a diverged pre-training surfaced as "P must be finite"."""
    with pytest.raises(ValueError, match=r"pre-training diverged at step \d+ of 5 \(loss "
                                         r"nan\); lower pretrain_lr \(--pretrain-lr, now "
                                         r"1e\+06\)"):
        run_experiment(tiny(pretrain_lr=1e6), tmp_path / "run", progress=False)
    # nothing was finished: the folder takes a corrected configuration
    res = run_experiment(tiny(), tmp_path / "run", progress=False).results
    assert res["stopped"]["reason"] == STOP_REASONS[0]


def test_diverging_retraining_names_the_iteration_and_train_lr(torch, tmp_path):
    with pytest.raises(ValueError, match=r"iteration 1: retraining diverged .* lower train_lr "
                                         r"\(--train-lr, now 1e\+06\)"):
        run_experiment(tiny(train_lr=1e6), tmp_path / "run", progress=False)


def test_non_finite_scores_are_reported_as_divergence(torch, tmp_path, monkeypatch):
    """Scores can overflow while the last loss was still finite: checked on the matrices."""
    from rlstar_theory.zip import scoring

    monkeypatch.setattr(scoring, "score_matrices",
                        lambda model, tables, batch: np.full((1, 4, 4), math.nan))
    with pytest.raises(ValueError, match="pre-training diverged: the model's transition "
                                         "scores are not finite; lower pretrain_lr"):
        run_experiment(tiny(), tmp_path / "run", progress=False)
