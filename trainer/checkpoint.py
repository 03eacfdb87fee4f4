"""Checkpoints written by `trainer.train`: `ckpt_STEP.pt` files, found by their step number,
written durably, pruned to the latest few, and loaded as weights only, never arbitrary pickles."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from corpus.errors import CorpusError
from trainer.model import GPT, GPTConfig

_NAME = re.compile(r"ckpt_(\d+)\.pt")


def checkpoint_step(path: Path) -> int | None:
    """The step in a checkpoint's name (`ckpt_000400.pt`, `ckpt_400.pt`: 400); None if none."""
    match = _NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None


def checkpoints(folder: Path) -> list[Path]:
    """The checkpoints in `folder`, oldest step first (by number: `ckpt_999` before `ckpt_1000`)."""
    found = [p for p in Path(folder).glob("ckpt_*.pt") if checkpoint_step(p) is not None]
    return sorted(found, key=lambda p: (checkpoint_step(p), p.name))


def latest_checkpoint(folder: Path) -> Path | None:
    found = checkpoints(folder)
    return found[-1] if found else None


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to `path` so that a crash leaves either the old file or the whole new one:
    a temporary file, fsynced, renamed over `path`, then the folder fsynced (the rename itself)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if os.name == "posix":  # a folder cannot be opened for fsync on Windows
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def prune_checkpoints(folder: Path, step: int, keep: int) -> list[Path]:
    """Delete all but the latest `keep` checkpoints at or before `step` (0: keep all); the ones
    deleted. Later steps belong to another run in the same folder and are not ours to judge."""
    if keep < 1:
        return []
    ours = [p for p in checkpoints(folder) if checkpoint_step(p) <= step]
    stale = ours[:-keep]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint's state, loaded with `weights_only=True`; a bad file is one line. A folder
    gives its checkpoint of the highest step."""
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise CorpusError(f"{path}: no checkpoint (ckpt_*.pt) in this folder")
        path = found
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
