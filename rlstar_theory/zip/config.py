"""Configuration of the GPT-2 zip experiment: one frozen dataclass, presets and validation.

Each field carries its command-line option in its metadata (flag, help text, choices), from
which ``rlstar zip-experiment`` builds its options; :func:`load_config` reads a run's recorded
``config.json`` back (``rlstar zip-experiment --config``).

Two "delta" conventions exist (see :mod:`rlstar_theory.conventions`); every field here uses the
data generator's one, the diagonal excess ``delta_diag`` (a step is correct with probability
``1/M + delta_diag``), and says so in its name.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from rlstar_theory.conventions import delta_diag_range
from rlstar_theory.validation import check_int

__all__ = ["ZipConfig", "PRESETS", "make_config", "override_config", "load_config"]

_RESTART = ("pretrained", "last")
_DATA = ("sampled", "exact")
_PG_OPTIMIZERS = ("adam", "sgd")


def _supported_rules() -> tuple[str, ...]:
    """The rules the loop runs (the choices of ``--rule``)."""
    from rlstar_theory.zip.rule_step import supported_rules

    return supported_rules()


def _option(default, flag: str, help: str, **extra):
    """A config field with its command-line option: ``flag``, ``help`` and any of
    ``metavar``, ``choices`` (a tuple, or a function returning one), ``action`` (argparse's,
    e.g. ``"append"``), ``path`` (a local path, resolved to an absolute one) in the field's
    metadata. ``rlstar zip-experiment`` builds its options from these."""
    return field(default=default, metadata={"flag": flag, "help": help, **extra})


@dataclass(frozen=True)
class ZipConfig:
    """All settings of one run; two runs with equal configs give the same numbers.

    Attributes
    ----------
    n_bits : int
        Digits per number: ``M = 4**n_bits`` questions, ``N = n_bits`` steps (paper: 3).
    delta0_diag : tuple of float
        Per-step diagonal excess of the noisy pre-training data (length ``N``).
    warm_delta_diag : float or None
        Curriculum (see :mod:`rlstar_theory.zip.pretrain`): pre-train first on this larger
        diagonal excess, which leaves the loss plateau quickly, then move the data linearly to
        ``delta0_diag``. ``None``: train on ``delta0_diag`` from the start (the plateau then
        lasts a seed-dependent 1,000 to more than 4,000 steps at M = 64).
    pretrain_warm_steps, pretrain_ramp_steps : int
        Steps on ``warm_delta_diag``, then steps moving the data to ``delta0_diag`` (unused
        without a curriculum).
    pretrain_steps : int
        Steps on ``delta0_diag`` (the learning rate decays by a cosine to 1 % over the ramp
        and these steps).
    pretrain_lr : float
        Peak learning rate of the pre-training (constant through the warm phase).
    iterations : int
        Maximum number of RL-STaR iterations ``T``.
    samples_per_question : int
        Trajectories sampled per question per iteration (paper: 4096).
    temperature : float
        Sampling temperature ``tau`` (rows ``∝ P**(1/tau)``; paper: 0.5).
    stop_J : float
        Stop early once the learned ``J`` (at ``tau = 1``) reaches this value.
    train_steps, train_lr : int, float
        Retraining per iteration. Measured at the paper preset's first iteration (predicted
        ``J = 0.9954``): 600 steps at 1e-3 decaying to 10 % reached 0.9881-0.9941 depending
        on the seed, at 3e-3 0.9881; 1,200 steps at 1e-3 decaying to 1 % 0.9941-0.9945.
    restart : {"pretrained", "last"}
        Retrain from the pre-trained model (paper) or continue from the last one.
    data : {"sampled", "exact"}
        Train on the kept sampled trajectories, or on the exact expected filtered data
        (no sampling error: isolates the fitting error).
    rule : str
        The training rule (a name of :data:`rlstar_theory.rules.registry.RULES` that
        :func:`rlstar_theory.zip.rule_step.supported_rules` lists); ``"star"`` is the paper's.
    rule_options : tuple of (str, value)
        The rule's hyper-parameters, sorted by name (a dict in ``config.json``); its
        ``samples_per_question`` is ``samples_per_question`` and its sampling temperature is
        ``temperature`` (refit rules), so neither is an option here.
    test_fraction : float
        Fraction of the start states held out (:func:`rlstar_theory.zip.rule_step.train_mask`);
        ``J`` is reported on the training and the held-out questions.
    pg_steps, pg_lr, pg_optimizer : int, float, str
        Gradient rules: optimiser steps, constant learning rate and optimiser (``"adam"``:
        AdamW without weight decay, betas 0.9/0.98; ``"sgd"``: plain SGD) of the
        policy-gradient steps on each iteration's batch, continuing from the last model.
    n_layer, n_embd, n_head : int
        GPT-2 size.
    batch_repeats : int
        A batch holds every (step, state) pair with data ``batch_repeats`` times.
    weight_decay : float
    warmup_steps : int
        Linear warm-up of every training stage; then cosine decay to 1 % of the peak.
    seed, threads : int
        Seeds of every random choice; ``torch.set_num_threads`` (default 1: for a 0.1M-parameter
        model a second thread costs more in synchronisation than it gains).
    init_from : str or None
        Local directory of GPT-2 weights to start the pre-training from (never downloads).
    score_batch : int
        Sequences per forward pass when scoring.
    """

    n_bits: int = _option(3, "--bits", "digits per number n: M = 4**n questions, N = n steps")
    delta0_diag: tuple[float, ...] = _option(
        (0.2, 0.2, 0.2), "--delta0",
        "pre-training diagonal excess delta_diag (data generator's convention: a step is "
        "correct with probability 1/M + delta_diag), one value or one per step",
        metavar="D[,D...]")
    warm_delta_diag: float | None = _option(
        0.9, "--warm-delta",
        "curriculum: pre-train at this delta_diag first, then move the data linearly to "
        "--delta0; 'none' switches it off; at n = 1, where 0.9 exceeds (M-1)/M, the default "
        "is 0.9 (M-1)/M", metavar="D|none")
    pretrain_warm_steps: int = _option(300, "--warm-steps", "pre-training steps at --warm-delta")
    pretrain_ramp_steps: int = _option(
        1200, "--ramp-steps", "pre-training steps moving the data from --warm-delta to --delta0")
    pretrain_steps: int = _option(
        1000, "--pretrain-steps", "pre-training steps at --delta0 (learning rate decaying)")
    pretrain_lr: float = _option(2e-3, "--pretrain-lr", "peak pre-training learning rate")
    iterations: int = _option(10, "--iterations", "maximum RL-STaR iterations T")
    samples_per_question: int = _option(
        4096, "--samples", "trajectories sampled per question per iteration")
    temperature: float = _option(0.5, "--temperature", "sampling temperature tau")
    stop_J: float = _option(0.999, "--stop-J", "stop once the learned J reaches this")
    train_steps: int = _option(1200, "--train-steps", "retraining steps per iteration")
    train_lr: float = _option(1e-3, "--train-lr", "retraining learning rate (keep <= 1e-3)")
    restart: str = _option(
        "pretrained", "--restart", "retrain from the pre-trained model or the last one",
        choices=_RESTART)
    data: str = _option(
        "sampled", "--data",
        "train on kept sampled trajectories or on the exact expected filtered data",
        choices=_DATA)
    rule: str = _option(
        "star", "--rule",
        "training rule of the loop (rlstar_theory.rules); refit rules retrain on their "
        "weighted data, gradient rules take policy-gradient steps",
        choices=_supported_rules)
    rule_options: tuple[tuple[str, object], ...] = _option(
        (), "--rule-option",
        "a hyper-parameter of the rule as NAME=VALUE, repeatable (e.g. lr=1000, "
        "group_size=8); gradient rules' lr is the step of the tabular prediction",
        metavar="NAME=VALUE", action="append")
    test_fraction: float = _option(
        0.0, "--test-fraction",
        "fraction of the M start states held out as test questions (chosen by --seed); "
        "rules train on the others, J is reported on both")
    pg_steps: int = _option(
        10, "--pg-steps", "gradient rules: optimiser steps on each iteration's sampled batch")
    pg_lr: float = _option(
        1e-4, "--pg-lr", "gradient rules: learning rate of the policy-gradient steps")
    pg_optimizer: str = _option(
        "adam", "--pg-optimizer", "gradient rules: optimiser of the policy-gradient steps",
        choices=_PG_OPTIMIZERS)
    n_layer: int = _option(2, "--layers", "GPT-2 layers")
    n_embd: int = _option(64, "--width", "GPT-2 width (n_embd)")
    n_head: int = _option(4, "--heads", "attention heads")
    batch_repeats: int = _option(
        1, "--batch-repeats", "a batch holds every (step, state) pair with data this often")
    weight_decay: float = _option(0.0, "--weight-decay", "AdamW weight decay, in [0, 1)")
    warmup_steps: int = _option(100, "--warmup-steps",
                                "linear learning-rate warm-up of every training stage")
    seed: int = _option(0, "--seed", "seed of every random choice (model, data, sampling)")
    threads: int = _option(
        1, "--threads", "torch threads (a 0.1M-parameter model runs slower on 2)")
    init_from: str | None = _option(
        None, "--init-from", "local directory of GPT-2 weights to start from (no download)",
        metavar="DIR", path=True)
    score_batch: int = _option(4096, "--score-batch", "sequences per forward pass when scoring")

    def __post_init__(self) -> None:
        _int(self, "n_bits", 1, 4)
        N, M = self.n_bits, 4**self.n_bits
        d = self.delta0_diag
        if not isinstance(d, tuple) or len(d) != N:
            raise ValueError(f"delta0_diag must hold one value per step ({N}), got {d!r}")
        lo, hi = delta_diag_range(M)
        for v in d:
            if not isinstance(v, int | float) or not lo <= v <= hi:
                raise ValueError(f"delta0_diag values must lie in [-1/M, (M-1)/M] = "
                                 f"[{lo:.6g}, {hi:.6g}] for M = {M}, got {v!r}")
        if self.warm_delta_diag is not None and not 0 < self.warm_delta_diag <= hi:
            raise ValueError(f"warm_delta_diag must lie in (0, {hi:.6g}], "
                             f"got {self.warm_delta_diag!r}")
        _int(self, "pretrain_warm_steps", 0)
        _int(self, "pretrain_ramp_steps", 0)
        _int(self, "pretrain_steps", 0)
        _int(self, "iterations", 0)
        _int(self, "samples_per_question", 1)
        _int(self, "train_steps", 1)
        _int(self, "n_layer", 1)
        _int(self, "n_embd", 1)
        _int(self, "n_head", 1)
        _int(self, "batch_repeats", 1)
        _int(self, "warmup_steps", 0)
        _int(self, "seed", 0)
        _int(self, "threads", 1)
        _int(self, "score_batch", 1)
        _int(self, "pg_steps", 1)
        if self.pg_optimizer not in _PG_OPTIMIZERS:
            raise ValueError(f"pg_optimizer must be one of {_PG_OPTIMIZERS}, got "
                             f"{self.pg_optimizer!r}")
        tf = self.test_fraction
        if isinstance(tf, bool) or not isinstance(tf, int | float) or not 0 <= tf < 1:
            raise ValueError(f"test_fraction must lie in [0, 1), got {tf!r}")
        self._check_rule()
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head})")
        for name in ("pretrain_lr", "train_lr", "temperature", "pg_lr"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if not isinstance(self.weight_decay, int | float) or not 0 <= self.weight_decay < 1:
            raise ValueError(f"weight_decay must lie in [0, 1), got {self.weight_decay!r}")
        if not 0 < self.stop_J <= 1:
            raise ValueError(f"stop_J must lie in (0, 1], got {self.stop_J!r}")
        if self.restart not in _RESTART:
            raise ValueError(f"restart must be one of {_RESTART}, got {self.restart!r}")
        if self.data not in _DATA:
            raise ValueError(f"data must be one of {_DATA}, got {self.data!r}")
        steps = self.pretrain_steps + (0 if self.warm_delta_diag is None else
                                       self.pretrain_warm_steps + self.pretrain_ramp_steps)
        if steps == 0 and self.init_from is None:
            raise ValueError("pretrain_steps = 0 (and no curriculum) needs init_from "
                             "(a model to start from)")

    def _check_rule(self) -> None:
        """Normalise ``rule_options`` and build the rule once (its own checks run)."""
        from rlstar_theory.zip.rule_step import build_rule, parse_rule_options, supported_rules

        if self.rule not in supported_rules():
            raise ValueError(f"rule must be one of {', '.join(supported_rules())}; got "
                             f"{self.rule!r}")
        options = parse_rule_options(self.rule, self.rule_options, strict=True)
        object.__setattr__(self, "rule_options", options)
        build_rule(self.rule, options, self.samples_per_question)

    @property
    def kind(self) -> str:
        """``"refit"`` or ``"gradient"``: how the loop trains on the rule."""
        from rlstar_theory.zip.rule_step import build_rule, rule_kind

        return rule_kind(build_rule(self.rule, self.rule_options, self.samples_per_question))

    @property
    def M(self) -> int:
        """States per step, ``4**n_bits``."""
        return 4**self.n_bits

    @property
    def N(self) -> int:
        """Reasoning steps, ``n_bits``."""
        return self.n_bits

    def to_json(self) -> dict:
        """Plain JSON-able dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["delta0_diag"] = list(self.delta0_diag)
        out["rule_options"] = dict(self.rule_options)
        return out

    @classmethod
    def from_json(cls, data: dict) -> ZipConfig:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["delta0_diag"] = tuple(float(v) for v in data["delta0_diag"])
        data["rule_options"] = _rule_options(data)
        return cls(**data)


def _rule_options(values: dict) -> tuple:
    """``values["rule_options"]`` (a dict, "NAME=VALUE" strings or pairs) as typed pairs of
    the rule ``values["rule"]``."""
    from rlstar_theory.zip.rule_step import parse_rule_options

    return parse_rule_options(values.get("rule", ZipConfig.rule), values.get("rule_options"),
                              strict=True)


def _int(cfg: ZipConfig, name: str, lo: int, hi: int | None = None) -> None:
    object.__setattr__(cfg, name, check_int(getattr(cfg, name), name, lo, hi))


#: named presets: ``paper`` is the paper's sizes on a small CPU model (about 10 minutes);
#: ``smoke`` is the same model on n = 2 with shorter schedules (about 40 s, used by the tests)
PRESETS: dict[str, dict] = {
    "paper": {},
    "smoke": dict(
        n_bits=2, delta0_diag=(0.5, 0.5), iterations=2, samples_per_question=256,
        pretrain_warm_steps=200, pretrain_ramp_steps=400, pretrain_steps=400,
        train_steps=100, warmup_steps=20,
    ),
}


def make_config(preset: str | None = "paper", **overrides) -> ZipConfig:
    """Config from a preset plus explicit overrides (``None`` values are ignored).

    ``delta0_diag`` may be a single number (same for every step) or one value per step (by
    default the field's value for every step, so ``n_bits`` alone may change);
    ``warm_delta_diag="none"`` switches the curriculum off. Where the default
    ``warm_delta_diag = 0.9`` is impossible (``n_bits = 1``: at most ``(M-1)/M = 0.75``) and
    none is given, ``0.9 * (M-1)/M`` is used.
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    values = dict(PRESETS.get(preset or "paper", {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    n_bits = values.get("n_bits", ZipConfig.n_bits)
    # the default delta0_diag is one value for every step, whatever n_bits is
    values.setdefault("delta0_diag", ZipConfig.delta0_diag[0])
    if "warm_delta_diag" not in values and isinstance(n_bits, int) and 1 <= n_bits:
        hi = (4**n_bits - 1) / 4**n_bits
        if ZipConfig.warm_delta_diag > hi:
            values["warm_delta_diag"] = ZipConfig.warm_delta_diag * hi
    return _build(values)


def override_config(base: ZipConfig, **overrides) -> ZipConfig:
    """``base`` (e.g. a recorded run's :func:`load_config`) with explicit overrides (``None``
    values are ignored), read as in :func:`make_config`."""
    values = base.to_json()
    given = {k: v for k, v in overrides.items() if v is not None}
    if given.get("rule", base.rule) != base.rule:
        values["rule_options"] = {}  # another rule: the recorded options were the old rule's
    if "rule_options" in given:  # merged into the recorded ones, the new value winning
        rule = given.get("rule", base.rule)
        merged = dict(_parse_options(rule, values["rule_options"]))
        merged.update(_parse_options(rule, given.pop("rule_options")))
        values["rule_options"] = merged
    values.update(given)
    return _build(values)


def _parse_options(rule: str, items) -> tuple:
    """``items`` as typed ``(name, value)`` pairs of ``rule`` (strict)."""
    from rlstar_theory.zip.rule_step import parse_rule_options

    return parse_rule_options(rule, items, strict=True)


def _build(values: dict) -> ZipConfig:
    """The config of ``values``: ``"none"`` curriculum, one ``delta0_diag`` for every step."""
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(ZipConfig)})
    if unknown:
        raise ValueError(f"unknown configuration field(s) {', '.join(unknown)}")
    if values.get("warm_delta_diag") == "none":  # explicitly no curriculum
        values["warm_delta_diag"] = None
    n_bits = values.get("n_bits", ZipConfig.n_bits)
    d = values.get("delta0_diag", ZipConfig.delta0_diag)
    try:
        if isinstance(d, int | float):
            d = (float(d),) * n_bits if isinstance(n_bits, int) and n_bits >= 1 else (float(d),)
        elif isinstance(d, list | tuple) and len(d) == 1 and isinstance(n_bits, int):
            d = (float(d[0]),) * n_bits
        else:
            d = tuple(float(v) for v in d)
    except (TypeError, ValueError):
        raise ValueError(f"delta0_diag must be a number or one number per step, got {d!r}"
                         ) from None
    values["delta0_diag"] = d
    if "rule_options" in values:
        values["rule_options"] = _rule_options(values)
    return ZipConfig(**values)


def load_config(path: str | os.PathLike) -> ZipConfig:
    """The configuration recorded in a run folder's ``config.json`` (``path`` may be the file
    or the folder). Fields the file lacks (written by an older version) take their defaults.

    Raises
    ------
    ValueError
        Missing or unreadable file, invalid JSON, unknown fields or invalid values.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read the configuration {path}: "
                         f"{exc.strerror or type(exc).__name__}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"configuration {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"configuration {path} must hold a JSON object of fields")
    try:
        return _build(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"configuration {path}: {exc}") from None
