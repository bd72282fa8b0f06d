"""Configuration of the GPT-2 zip experiment: one frozen dataclass, presets and validation.

Two "delta" conventions exist (see :mod:`rlstar_theory.conventions`); every field here uses the
data generator's one, the diagonal excess ``delta_diag`` (a step is correct with probability
``1/M + delta_diag``), and says so in its name.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["ZipConfig", "PRESETS", "make_config"]

_RESTART = ("pretrained", "last")
_DATA = ("sampled", "exact")


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

    n_bits: int = 3
    delta0_diag: tuple[float, ...] = (0.2, 0.2, 0.2)
    warm_delta_diag: float | None = 0.9
    pretrain_warm_steps: int = 300
    pretrain_ramp_steps: int = 1200
    pretrain_steps: int = 1000
    pretrain_lr: float = 2e-3
    iterations: int = 10
    samples_per_question: int = 4096
    temperature: float = 0.5
    stop_J: float = 0.999
    train_steps: int = 1200
    train_lr: float = 1e-3
    restart: str = "pretrained"
    data: str = "sampled"
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    batch_repeats: int = 1
    weight_decay: float = 0.0
    warmup_steps: int = 100
    seed: int = 0
    threads: int = 1
    init_from: str | None = None
    score_batch: int = 4096

    def __post_init__(self) -> None:
        _int(self, "n_bits", 1, 4)
        N, M = self.n_bits, 4**self.n_bits
        d = self.delta0_diag
        if not isinstance(d, tuple) or len(d) != N:
            raise ValueError(f"delta0_diag must hold one value per step ({N}), got {d!r}")
        lo, hi = -1.0 / M, (M - 1) / M
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
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head})")
        for name in ("pretrain_lr", "train_lr", "temperature"):
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
        return out

    @classmethod
    def from_json(cls, data: dict) -> ZipConfig:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["delta0_diag"] = tuple(float(v) for v in data["delta0_diag"])
        return cls(**data)


def _int(cfg: ZipConfig, name: str, lo: int, hi: int | None = None) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be an integer {rng}, got {v!r}")


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

    ``delta0_diag`` may be a single number (same for every step) or one value per step;
    ``warm_delta_diag="none"`` switches the curriculum off. Where the default
    ``warm_delta_diag = 0.9`` is impossible (``n_bits = 1``: at most ``(M-1)/M = 0.75``) and
    none is given, ``0.9 * (M-1)/M`` is used.
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    values = dict(PRESETS.get(preset or "paper", {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("warm_delta_diag") == "none":  # explicitly no curriculum
        values["warm_delta_diag"] = None
    n_bits = values.get("n_bits", ZipConfig.n_bits)
    if "warm_delta_diag" not in values and isinstance(n_bits, int) and 1 <= n_bits:
        hi = (4**n_bits - 1) / 4**n_bits
        if ZipConfig.warm_delta_diag > hi:
            values["warm_delta_diag"] = ZipConfig.warm_delta_diag * hi
    d = values.get("delta0_diag", ZipConfig.delta0_diag)
    if isinstance(d, int | float):
        d = (float(d),) * n_bits if isinstance(n_bits, int) and n_bits >= 1 else (float(d),)
    elif isinstance(d, list | tuple) and len(d) == 1 and isinstance(n_bits, int):
        d = (float(d[0]),) * n_bits
    else:
        d = tuple(float(v) for v in d)
    values["delta0_diag"] = d
    return ZipConfig(**values)
