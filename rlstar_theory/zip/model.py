"""Small GPT-2 for the zip task: build from a config, or load weights from a local directory.

Nothing here downloads: loading sets ``HF_HUB_OFFLINE=1`` and passes ``local_files_only=True``.
Imports torch/transformers, so import this module only when the ``gpt2`` extra is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from rlstar_theory.zip.config import ZipConfig
from rlstar_theory.zip.task import EOS, PAD, TOKENS, ZipTask

__all__ = ["build_model", "load_model", "save_model", "max_length"]


def _quiet() -> None:
    """No transformers progress bars (loading/saving shards) in our output."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def max_length(task: ZipTask) -> int:
    """Longest sequence ``s_{k-1} [=] s_k [EOS]`` of the task."""
    return max(len(task.states(k - 1)[0]) + len(task.states(k)[0]) + 2
               for k in range(1, task.N + 1))


def build_model(cfg: ZipConfig, task: ZipTask) -> GPT2LMHeadModel:
    """Fresh GPT-2 with the task's vocabulary, dropout 0 and explicit pad/eos ids.

    Initialised from ``torch.manual_seed(cfg.seed)``.
    """
    torch.manual_seed(cfg.seed)
    gcfg = GPT2Config(
        vocab_size=len(TOKENS), n_positions=max(32, max_length(task)), n_embd=cfg.n_embd,
        n_layer=cfg.n_layer, n_head=cfg.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, activation_function="gelu", bos_token_id=EOS, eos_token_id=EOS,
        pad_token_id=PAD,
    )
    model = GPT2LMHeadModel(gcfg)
    model.eval()
    return model


def load_model(path: str | os.PathLike, task: ZipTask | None = None) -> GPT2LMHeadModel:
    """Load GPT-2 weights from a local directory (``save_pretrained`` layout); never downloads.

    A checkpoint with another vocabulary (e.g. real GPT-2's 50257 tokens) is resized to the
    task's vocabulary (its first ``len(TOKENS)`` embedding rows are kept); dropout is set to 0
    and the pad/eos ids to the task's.
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ValueError(f"no GPT-2 checkpoint (config.json) in local directory {path}")
    os.environ["HF_HUB_OFFLINE"] = "1"
    _quiet()
    gcfg = GPT2Config.from_pretrained(path, local_files_only=True)
    gcfg.resid_pdrop = gcfg.embd_pdrop = gcfg.attn_pdrop = 0.0
    model = GPT2LMHeadModel.from_pretrained(path, config=gcfg, local_files_only=True)
    if task is not None:
        need = max_length(task)
        if model.config.n_positions < need:
            raise ValueError(f"checkpoint {path} has n_positions={model.config.n_positions}, "
                             f"the task needs {need}")
    if model.config.vocab_size != len(TOKENS):
        model.resize_token_embeddings(len(TOKENS))
    model.config.pad_token_id = PAD
    model.config.eos_token_id = EOS
    model.config.bos_token_id = EOS
    model.eval()
    return model


def save_model(model: GPT2LMHeadModel, path: str | os.PathLike) -> None:
    """Save atomically: write into ``path.tmp`` then ``os.replace`` it onto ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    _quiet()
    model.save_pretrained(tmp)
    if path.exists():
        import shutil
        shutil.rmtree(path)
    os.replace(tmp, path)
