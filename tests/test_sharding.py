"""Sharding, dtype, schedule and prefetching in the trainer, on the CPU: ZeRO-1 and FSDP under
torchrun on gloo give DDP's losses at every step with about half the state per rank, their
checkpoints resume under another sharding and load into one process, the WSD schedule, bf16
autocast, the prefetcher's loader state, and bad settings as one line."""

from __future__ import annotations

import re
import shutil
import sys
import types

import numpy as np
import pytest
import torch

from corpus.errors import CorpusError
from corpus.shards import write_shard
from tests.test_trainer import metrics, torchrun, write_config
from trainer.config import TrainConfig, TrainConfigError
from trainer.data import ShardLoader, find_shards
from trainer.prefetch import Prefetcher
from trainer.sharding import check_sharding
from trainer.train import lr_at, main

BYTES = re.compile(r"per rank \((\w+), float32\): parameters ([\d,]+) bytes, AdamW state ([\d,]+)")


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, book_shards):
    """Six steps of DDP on two ranks, and six in one chain: two under ZeRO-1, resumed for two
    under FSDP, resumed for two under ZeRO-1; and the FSDP checkpoint resumed in one process."""
    root = tmp_path_factory.mktemp("sharded")
    runs = []
    for mode in ("ddp", "zero1", "fsdp"):
        # two micro-batches a step on each rank: gradients are reduced once, after the second
        config = write_config(root / f"{mode}.yaml", max_steps=6, eval_interval=3,
                              log_interval=1, checkpoint_interval=2, sharding=mode,
                              total_batch_tokens=4096)  # fmt: skip
        runs.append(["--shards", str(book_shards), "--config", str(config), "--out"])
    ddp, zero1, fsdp = runs
    chain = str(root / "chain")
    argvs = [
        [*ddp, str(root / "ddp")],
        [*zero1, chain, "--stop-after", "2"],
        [*fsdp, chain, "--resume", "--stop-after", "4"],
        [*zero1, chain, "--resume"],
    ]
    stderr = "".join(torchrun(*argv).stderr for argv in argvs)
    (root / "one").mkdir()
    for name in ("ckpt_000004.pt", "metrics.jsonl"):
        shutil.copy(root / "chain" / name, root / "one")
    assert main([*ddp, str(root / "one"), "--resume"]) == 0
    return root, stderr


def test_zero1_and_fsdp_give_ddps_losses_at_every_step(sharded):
    root, _ = sharded
    expect = metrics(root / "ddp")
    assert [m["step"] for m in expect] == list(range(6))
    for run in ("chain", "one"):
        rows = metrics(root / run)
        assert [m["step"] for m in rows] == list(range(6)), run
        for m1, m2 in zip(expect, rows, strict=True):
            assert m2["loss"] == pytest.approx(m1["loss"], abs=2e-4), run
            assert m2["grad_norm"] == pytest.approx(m1["grad_norm"], abs=1e-4), run
            assert m2.get("val_loss", 0) == pytest.approx(m1.get("val_loss", 0), abs=2e-4), run


def test_zero1_halves_the_adamw_state_per_rank_and_fsdp_the_parameters_too(sharded):
    _, stderr = sharded
    held = {}
    for mode, params, state in BYTES.findall(stderr):
        held.setdefault(mode, (int(params.replace(",", "")), int(state.replace(",", ""))))
    ddp, zero1, fsdp = held["ddp"], held["zero1"], held["fsdp"]
    assert ddp[0] == 4 * 1_088_256 and ddp[1] > 2 * ddp[0]  # fp32 weights; AdamW's two moments
    assert zero1[0] == ddp[0] and 0.45 < zero1[1] / ddp[1] < 0.55
    assert 0.45 < fsdp[0] / ddp[0] < 0.55 and 0.45 < fsdp[1] / ddp[1] < 0.55


def test_sharded_checkpoints_are_one_processs_and_resume_under_any_sharding(sharded):
    root, stderr = sharded
    for step in (2, 4):
        assert f"resumed from {root / 'chain' / f'ckpt_{step:06d}.pt'} at step {step}" in stderr
        ddp = torch.load(root / "ddp" / f"ckpt_{step:06d}.pt", weights_only=True)
        state = torch.load(root / "chain" / f"ckpt_{step:06d}.pt", weights_only=True)  # no DTensor
        assert list(state["model"]) == list(ddp["model"])
        assert max((state["model"][k] - v).abs().max().item() for k, v in ddp["model"].items()) < (
            1e-5
        )
        ours, theirs = state["optimizer"], ddp["optimizer"]
        assert [g["params"] for g in ours["param_groups"]] == [
            g["params"] for g in theirs["param_groups"]
        ]
        for i, s in theirs["state"].items():
            assert type(ours["state"][i]["exp_avg"]) is torch.Tensor
            assert torch.allclose(ours["state"][i]["exp_avg_sq"], s["exp_avg_sq"], atol=1e-8)
    ddp6 = torch.load(root / "ddp" / "ckpt_000006.pt", weights_only=True)["model"]
    for run in ("chain", "one"):
        final = torch.load(root / run / "ckpt_000006.pt", weights_only=True)["model"]
        assert max((final[k] - v).abs().max().item() for k, v in ddp6.items()) < 1e-4


def test_a_checkpoint_saved_under_fsdp_samples_and_exports_in_one_process(sharded, tmp_path):
    from transformers import GPT2LMHeadModel

    from trainer.checkpoint import load_checkpoint, load_model
    from trainer.export_hf import export_hf
    from trainer.sample import sample

    root, _ = sharded
    checkpoint = root / "chain" / "ckpt_000004.pt"  # written by the FSDP run
    text = sample(str(checkpoint), "The fish", max_new_tokens=20)
    assert text.startswith("The fish") and len(text) > len("The fish")
    hf = GPT2LMHeadModel.from_pretrained(export_hf(str(checkpoint), tmp_path / "hf")).eval()
    ours = load_model(load_checkpoint(checkpoint))
    ids = torch.randint(0, 2048, (2, 50), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (hf(ids).logits - ours(ids)[0][..., :2048]).abs().max().item() < 1e-4


def test_wsd_warms_up_holds_then_decays_linearly_to_the_floor():
    cfg = TrainConfig(lr=1.0, min_lr_ratio=0.1, warmup_steps=10, max_steps=100,
                      schedule="wsd", decay_fraction=0.2)  # fmt: skip
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == 1.0
    assert lr_at(10, cfg) == lr_at(50, cfg) == lr_at(80, cfg) == 1.0  # stable to step 80
    assert lr_at(90, cfg) == pytest.approx(0.55)  # halfway down, linearly
    assert lr_at(99, cfg) == pytest.approx(0.145) and lr_at(100, cfg) == pytest.approx(0.1)
    cfg.decay_fraction = 0.0
    assert lr_at(99, cfg) == 1.0  # never decays
    cfg.schedule = "cosine"
    assert lr_at(55, cfg) == pytest.approx(0.55) and lr_at(100, cfg) == pytest.approx(0.1)


def test_bf16_autocast_on_the_cpu_trains_with_a_finite_falling_loss(tmp_path, book_shards, capsys):
    # a small model: this CPU's bf16 matmuls are slow. One process shards nothing, and says so
    config = write_config(tmp_path / "c.yaml", max_steps=8, eval_interval=0, log_interval=1,
                          checkpoint_interval=0, lr=0.01, warmup_steps=2, dtype="bf16",
                          batch_size=4, seq_len=64, total_batch_tokens=256, sharding="fsdp",
                          model={"n_layer": 2, "n_embd": 64})  # fmt: skip
    out = tmp_path / "run"
    assert main(["--shards", str(book_shards), "--config", str(config), "--out", str(out)]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert "sharding: fsdp splits the state between torchrun's ranks; one process holds it all" in (
        lines
    )
    assert any(line.startswith("per rank (ddp, bfloat16): parameters") for line in lines)
    losses = [m["loss"] for m in metrics(out)]
    assert len(losses) == 8 and all(np.isfinite(losses)) and losses[-1] < losses[0] - 0.5


def test_the_prefetchers_loader_state_is_that_of_the_batches_taken(tmp_path):
    write_shard(tmp_path / "a_train_0.bin", np.arange(20_000, dtype=np.uint16))
    files = find_shards(tmp_path, "train")
    plain, read_ahead = ShardLoader(files, 2, 16), ShardLoader(files, 2, 16)
    batches = Prefetcher(read_ahead, torch.device("cpu"))
    try:
        for _ in range(5):
            x, y = batches.next_batch()
            assert torch.equal(x, plain.next_batch()[0])
        state = batches.state_dict()
        assert state == plain.state_dict()
    finally:
        batches.close()
    assert read_ahead.state_dict()["batches"] > 5  # it did read ahead
    resumed = ShardLoader(files, 2, 16)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.next_batch()[0], plain.next_batch()[0])


def test_a_loader_error_in_the_prefetching_thread_is_raised_to_the_trainer(tmp_path):
    write_shard(tmp_path / "a_train_0.bin", np.arange(5_000, dtype=np.uint16))

    def check(y: torch.Tensor) -> None:
        if int(y.max()) >= 1000:
            raise CorpusError("token id outside the vocabulary")

    batches = Prefetcher(
        ShardLoader(find_shards(tmp_path, "train"), 2, 16), torch.device("cpu"), check
    )
    with pytest.raises(CorpusError, match="outside the vocabulary"):
        for _ in range(100):
            batches.next_batch()
    assert not batches.thread.is_alive()


@pytest.mark.parametrize(
    "setting, words",
    [
        (
            {"dtype": "fp16"},
            "dtype: fp16 (with a grad scaler) is for CUDA GPUs without bf16; on cpu",
        ),
        ({"dtype": "fp8"}, "dtype must be one of auto, fp32, bf16, fp16, got 'fp8'"),
        ({"sharding": "zero3"}, "sharding must be one of ddp, zero1, fsdp, got 'zero3'"),
        ({"schedule": "linear"}, "schedule must be one of cosine, wsd, got 'linear'"),
        ({"decay_fraction": 1.5}, "decay_fraction must be in [0, 1], got 1.5"),
    ],
)
def test_a_dtype_schedule_or_sharding_that_cannot_run_is_one_line(tmp_path, capsys, setting, words):
    write_shard(tmp_path / "x_train_0.bin", np.arange(5000, dtype=np.uint16))
    config = write_config(tmp_path / "c.yaml", max_steps=2, **setting)
    argv = ["--shards", str(tmp_path), "--config", str(config), "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], lines


def test_fsdp_without_fully_shard_or_on_another_device_is_one_line(monkeypatch):
    with pytest.raises(TrainConfigError, match="sharding: zero1 runs on cuda .* not on meta"):
        check_sharding("zero1", torch.device("meta"))
    monkeypatch.setitem(sys.modules, "torch.distributed.fsdp", types.ModuleType("fsdp"))
    with pytest.raises(TrainConfigError, match=r"sharding: fsdp needs FSDP2 .* use zero1 or ddp"):
        check_sharding("fsdp", torch.device("cpu"))
    check_sharding("zero1", torch.device("cpu"))
