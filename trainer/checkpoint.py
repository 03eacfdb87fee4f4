"""Loading a checkpoint written by `trainer.train`: weights only, never arbitrary pickles."""

from __future__ import annotations

from pathlib import Path

import torch

from corpus.errors import CorpusError
from trainer.model import GPT, GPTConfig


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint's state, loaded with `weights_only=True`; a bad file is one line."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("ckpt_*.pt"))
        if not found:
            raise CorpusError(f"{path}: no checkpoint (ckpt_*.pt) in this folder")
        path = found[-1]
    if not path.is_file():
        raise CorpusError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated zip, a foreign pickle: torch raises many kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorpusError(f"{path}: not a readable checkpoint ({first})") from None
    if not isinstance(state, dict) or "model" not in state or "model_config" not in state:
        raise CorpusError(f"{path}: not a trainer checkpoint (no model or model_config)")
    state["path"] = str(path)
    return state


def load_model(state: dict) -> GPT:
    model = GPT(GPTConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model
