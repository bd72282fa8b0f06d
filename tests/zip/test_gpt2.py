"""GPT-2 side of the zip experiment: loading, exact scoring against generation, pre-training
fit, the smoke preset end to end, and resume after an interruption."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tqdm")

from rlstar_theory.cli import main  # noqa: E402
from rlstar_theory.zip.config import make_config  # noqa: E402
from rlstar_theory.zip.data import noisy_weights, sequence_tables, training_data  # noqa: E402
from rlstar_theory.zip.loop import run_experiment  # noqa: E402
from rlstar_theory.zip.model import build_model, load_model, save_model  # noqa: E402
from rlstar_theory.zip.sampling import generate_states  # noqa: E402
from rlstar_theory.zip.scoring import score_matrices  # noqa: E402
from rlstar_theory.zip.task import TOKENS, ZipTask  # noqa: E402
from rlstar_theory.zip.train import train  # noqa: E402


@pytest.fixture(scope="module")
def smoke_model():
    """A small n=2 model past the loss plateau (non-uniform, structured rows)."""
    torch.set_num_threads(1)
    cfg = make_config("smoke")
    task = ZipTask(2)
    tables = sequence_tables(task)
    model = build_model(cfg, task)
    train(model, tables, training_data(tables, noisy_weights(task, 0.9)), steps=400,
          lr=1e-2, seed=0, warmup_steps=20, progress=False)
    return model, task, tables


def test_scorer_equals_explicit_token_products(smoke_model):
    model, task, tables = smoke_model
    P = score_matrices(model, tables, batch=100)
    assert P.shape == (2, 16, 16)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    k, i = 1, 7  # step 2, one input state, one candidate at a time
    Lk, Lp = tables.lengths[k], tables.prefix_len[k]
    logp = []
    with torch.no_grad():
        for j in range(16):
            ids = torch.as_tensor(tables.ids[k, i, j, :Lk])[None]
            lp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
            logp.append(sum(float(lp[p - 1, ids[0, p]]) for p in range(Lp, Lk)))
    logp = np.array(logp)
    np.testing.assert_allclose(P[k, i], np.exp(logp - logp.max()) / np.exp(
        logp - logp.max()).sum(), rtol=1e-5, atol=1e-7)


def test_scorer_matches_token_level_generation(smoke_model):
    """Generating from the model token by token (temperature 1) and keeping valid states is
    sampling from the scored rows: 5-sigma binomial bounds from the number of samples."""
    model, task, tables = smoke_model
    P = score_matrices(model, tables)
    inputs = np.array([0, 5, 10, 15])
    reps = 1500
    for step in (1, 2):
        got = generate_states(model, tables, step, np.repeat(inputs, reps), seed=step)
        got = got.reshape(len(inputs), reps)
        assert (got >= 0).mean() > 0.9  # the model has learned the format
        for r, i in enumerate(inputs):
            valid = got[r][got[r] >= 0]
            n = len(valid)
            counts = np.bincount(valid, minlength=16)
            p = P[step - 1, i]
            bound = 5 * np.sqrt(n * p * (1 - p)) + 1
            assert np.all(np.abs(counts - n * p) <= bound), (step, i, counts, n * p)


def test_load_local_checkpoint_with_other_vocabulary(tmp_path, smoke_model, monkeypatch):
    """A GPT-2 checkpoint saved with save_pretrained (here a tiny one with a 50-token
    vocabulary, standing in for real GPT-2 weights) loads offline and is resized."""
    from transformers import GPT2Config, GPT2LMHeadModel

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    torch.manual_seed(0)
    big = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=40, n_embd=16, n_layer=1,
                                     n_head=2))
    big.save_pretrained(tmp_path / "gpt2-local")
    task = ZipTask(2)
    model = load_model(tmp_path / "gpt2-local", task)
    assert model.config.vocab_size == len(TOKENS)
    assert model.config.resid_pdrop == 0.0
    np.testing.assert_array_equal(model.transformer.h[0].mlp.c_fc.weight.detach().numpy(),
                                  big.transformer.h[0].mlp.c_fc.weight.detach().numpy())
    np.testing.assert_array_equal(model.transformer.wte.weight.detach().numpy(),
                                  big.transformer.wte.weight[:len(TOKENS)].detach().numpy())
    P = score_matrices(model, sequence_tables(task))
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
    # our own checkpoints round-trip exactly
    trained, _, tables = smoke_model
    save_model(trained, tmp_path / "ours")
    np.testing.assert_array_equal(score_matrices(load_model(tmp_path / "ours"), tables),
                                  score_matrices(trained, tables))
    with pytest.raises(ValueError, match="no GPT-2 checkpoint"):
        load_model(tmp_path / "missing")


def test_train_follows_data_that_change_with_the_step():
    """A curriculum given as a function of the step: the batch arrays are rebuilt when the
    data change, so the model ends on the second data set (its floor is reported) and fits
    it, not the first."""
    torch.set_num_threads(1)
    task = ZipTask(1)
    tables = sequence_tables(task)
    first = training_data(tables, noisy_weights(task, 0.7))
    second = training_data(tables, noisy_weights(task, 0.05))
    torch.manual_seed(0)
    model = build_model(make_config("smoke", n_bits=1, delta0_diag=0.05), task)
    calls = []

    def data_at(step):
        calls.append(step)
        return first if step < 300 else second

    r = train(model, tables, data_at, steps=600, lr=3e-3, seed=0, warmup_steps=20,
              progress=False)
    assert calls == list(range(600)) and r.floor == second.floor != first.floor
    P = score_matrices(model, tables)
    diag = P[0][np.arange(4), task.truth()[0]].mean() - 1 / 4
    assert abs(diag - 0.05) < 0.1 < abs(diag - 0.7)


def test_pretrained_fit_is_close_to_delta0(tmp_path):
    """n=1 (M=4, N=1), delta_diag_0 = 0.3, 2 layers of width 32, 1500 steps: measured gap
    ~4e-5. The tolerance 0.01 (3 % of delta_diag_0) is far from both failure modes seen while
    tuning (plateau: delta_diag_hat = 0; stopped early: 0.12), and 250x the measured gap, so
    it survives platform float differences; the run itself is seeded and deterministic."""
    cfg = make_config("smoke", n_bits=1, delta0_diag=0.3, warm_delta_diag="none",
                      pretrain_steps=1500, pretrain_lr=3e-3, n_layer=2, n_embd=32, n_head=2,
                      iterations=0)
    res = run_experiment(cfg, tmp_path / "fit", progress=False).results["pretrain"]
    assert abs(res["delta_diag"][0] - 0.3) < 0.01
    assert res["gap_to_target"]["mean_abs"] < 0.01
    assert abs(res["J"] - res["J_target"]) < 0.01
    assert abs(res["lam"][0] - 0.3 * 4 / 3) < 0.02  # lam = M delta_diag / (M - 1)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "run"
    code = main(["zip-experiment", "--preset", "smoke", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_smoke_end_to_end(smoke_run, capsys):
    """The smoke preset through the default curriculum (warm 0.9, ramp, final 0.5) lands close
    to its target: measured delta_diag_hat = 0.498, 0.496 and mean |P0 - target| = 1.5e-3.
    The bounds (0.02 and 0.01) sit well between that and the failures seen while tuning
    (plateau: 0; a 1-layer width-32 smoke model: 0.28, gap 4e-2)."""
    out = smoke_run
    res = json.loads((out / "results.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    pre = res["pretrain"]
    assert cfg["n_bits"] == 2 and pre["target_delta_diag"] == [0.5, 0.5]
    assert [p["name"] for p in pre["training"]["phases"]] == ["warm", "ramp", "final"]
    assert np.all(np.abs(np.array(pre["delta_diag"]) - 0.5) < 0.02), pre["delta_diag"]
    assert pre["gap_to_target"]["mean_abs"] < 0.01
    its = res["iterations"]
    assert 1 <= len(its) <= 2
    for e in its:
        t = e["t"]
        P = np.load(out / "matrices" / f"P_{t:03d}.npy")
        assert P.shape == (2, 16, 16)
        np.testing.assert_allclose(P.sum(axis=2), 1.0)
        assert np.load(out / "matrices" / f"counts_{t:03d}.npy").sum() == 2 * e["kept"]
        assert (out / "checkpoints" / f"iter_{t:03d}" / "config.json").exists()
        assert 0 <= e["J"] <= 1 and e["pred_vs_learned"]["max_abs"] <= 1
    for name in ("J.png", "heatmaps.png", "pred_vs_learned.png"):
        assert (out / name).stat().st_size > 0
    assert not list(out.rglob("*.tmp*"))


def test_resume_after_interruption_gives_the_same_numbers(smoke_run, tmp_path):
    cfg = make_config("smoke")
    out = tmp_path / "run"

    def interrupt(t):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, out, progress=False, after_iteration=interrupt)
    assert len(json.loads((out / "results.json").read_text())["iterations"]) == 1
    again = run_experiment(cfg, out, progress=False)
    assert again.resumed_from == 1
    ref = json.loads((smoke_run / "results.json").read_text())
    strip = lambda r: [{k: v for k, v in e.items() if k != "timing"}  # noqa: E731
                       for e in r["iterations"]]
    assert strip(again.results) == strip(ref)
    for t in range(len(ref["iterations"]) + 1):
        np.testing.assert_array_equal(np.load(out / "matrices" / f"P_{t:03d}.npy"),
                                      np.load(smoke_run / "matrices" / f"P_{t:03d}.npy"))
    # finished: a third call does nothing new
    assert run_experiment(cfg, out, progress=False).resumed_from == len(ref["iterations"])


def test_resume_refuses_another_configuration(smoke_run):
    with pytest.raises(ValueError, match="another configuration.*samples_per_question"):
        run_experiment(make_config("smoke", samples_per_question=128), smoke_run,
                       progress=False)


def test_exact_data_mode_and_continue_from_last(tmp_path):
    """Training on the exact expected filtered data: no sampling, no counts; the learned
    matrices follow the dense engine's prediction."""
    cfg = make_config("smoke", data="exact", restart="last")
    res = run_experiment(cfg, tmp_path / "exact", progress=False).results
    assert res["iterations"], "no iteration ran"
    for e in res["iterations"]:
        assert "kept" not in e and "pred_vs_counts" not in e
        assert e["pred_vs_learned"]["mean_abs"] < 0.05
    assert not list((tmp_path / "exact" / "matrices").glob("counts_*"))


def test_interrupted_pretraining_resumes_with_the_same_numbers(smoke_run, tmp_path):
    """Pre-training saves its state every 250 steps; killed after the second save (step 500
    of 1,000) and re-run, it continues from there and ends bit-for-bit where an uninterrupted
    run does (the smoke run), then removes the partial state."""
    cfg = make_config("smoke", iterations=0)
    out = tmp_path / "run"
    saves = []

    def interrupt(step):
        saves.append(step)
        if step == 500:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, out, progress=False, after_pretrain_save=interrupt)
    assert saves == [250, 500] and (out / "checkpoints" / "pretrain_state.pt").exists()
    assert not (out / "results.json").exists()
    lines = []
    again = run_experiment(cfg, out, progress=False, log=lines.append,
                           after_pretrain_save=saves.append)
    assert any("resuming pre-training" in line for line in lines)
    assert saves == [250, 500, 750]  # only the steps after the interruption ran
    np.testing.assert_array_equal(np.load(out / "matrices" / "P_000.npy"),
                                  np.load(smoke_run / "matrices" / "P_000.npy"))
    ref = json.loads((smoke_run / "results.json").read_text())["pretrain"]["training"]
    assert again.results["pretrain"]["training"]["losses"] == ref["losses"]
    assert not (out / "checkpoints" / "pretrain_state.pt").exists()
