"""Trainer checkpoints on disk: the latest is the highest step whatever the names sort to, a save
is fsynced before and after its rename, and pruning keeps the latest K of this run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import torch

from trainer import checkpoint
from trainer.checkpoint import checkpoints, latest_checkpoint, load_checkpoint, prune_checkpoints


def write(folder: Path, name: str, step: int) -> Path:
    path = folder / name
    torch.save({"model": {}, "model_config": {}, "step": step}, path)
    return path


def test_latest_checkpoint_is_the_highest_step_not_the_last_name(tmp_path):
    # names from an older, unpadded scheme, and steps past the six digits of ckpt_%06d
    for name, step in [
        ("ckpt_999.pt", 999),
        ("ckpt_000998.pt", 998),
        ("ckpt_999999.pt", 999_999),
        ("ckpt_1000000.pt", 1_000_000),
        ("ckpt_best.pt", -1),  # not a step: ignored
    ]:
        write(tmp_path, name, step)
    assert sorted(p.name for p in tmp_path.glob("ckpt_*.pt"))[-1] == "ckpt_best.pt"
    assert [p.name for p in checkpoints(tmp_path)] == [
        "ckpt_000998.pt",
        "ckpt_999.pt",
        "ckpt_999999.pt",
        "ckpt_1000000.pt",
    ]
    assert latest_checkpoint(tmp_path).name == "ckpt_1000000.pt"
    assert load_checkpoint(tmp_path)["step"] == 1_000_000
    (tmp_path / "ckpt_1000000.pt").unlink()
    (tmp_path / "ckpt_999999.pt").unlink()
    assert load_checkpoint(tmp_path)["step"] == 999  # ckpt_999 after ckpt_000998


def test_save_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        mode = os.fstat(fd).st_mode
        events.append("fsync folder" if stat.S_ISDIR(mode) else f"fsync {os.fstat(fd).st_size}")
        real_fsync(fd)

    def replace(src, dst):
        events.append(f"rename {Path(src).name} {Path(dst).name}")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "fsync", fsync)
    monkeypatch.setattr(checkpoint.os, "replace", replace)
    target = tmp_path / "ckpt_000007.pt"
    checkpoint.save_checkpoint(target, {"w": torch.arange(1000), "step": 7})
    size = target.stat().st_size
    assert events == [
        f"fsync {size}",  # the whole file is on disk before it takes the name
        "rename .ckpt_000007.pt.tmp ckpt_000007.pt",
        "fsync folder",
    ]
    assert torch.load(target, weights_only=True)["step"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000007.pt"]


def test_prune_keeps_the_latest_k_by_step_and_leaves_later_runs_alone(tmp_path):
    for step in (2, 4, 6, 8, 10):
        write(tmp_path, f"ckpt_{step:06d}.pt", step)
    write(tmp_path, "ckpt_9.pt", 9)  # sorts after ckpt_000010 by name
    deleted = prune_checkpoints(tmp_path, 8, keep=2)
    assert [p.name for p in deleted] == ["ckpt_000002.pt", "ckpt_000004.pt"]
    assert [p.name for p in checkpoints(tmp_path)] == [
        "ckpt_000006.pt",
        "ckpt_000008.pt",
        "ckpt_9.pt",  # past step 8: another run's, not this one's to delete
        "ckpt_000010.pt",
    ]
    prune_checkpoints(tmp_path, 10, keep=1)
    assert [p.name for p in checkpoints(tmp_path)] == ["ckpt_000010.pt"]
    assert prune_checkpoints(tmp_path, 10, keep=0) == []  # 0: keep all
