"""The trainer on the CPU: the loss falls on real book shards, one batch overfits, a resumed run
equals an uninterrupted one bit for bit, torchrun on gloo matches one process, checkpoints load
with weights_only, the Hugging Face export gives the same logits, llm.c's shards load as they are,
and bad input is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from corpus.shards import open_shard, write_shard
from tests.commands import ROOT, run_corpus
from trainer.config import TrainConfig, load_config
from trainer.data import ShardLoader, find_shards
from trainer.model import GPT, GPTConfig

TINY = ROOT / "configs" / "trainer" / "tiny.yaml"
ENV = {"OMP_NUM_THREADS": "1"}  # the same kernels in every process, so runs compare exactly


def write_config(path: Path, **overrides) -> Path:
    import yaml

    doc = yaml.safe_load(TINY.read_text())
    model = overrides.pop("model", {})
    doc["model"].update(model)
    doc.update(overrides)
    path.write_text(yaml.safe_dump(doc))
    return path


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def train(*args, env=None):
    r = run_corpus("train", *args, env={**ENV, **(env or {})}, timeout=600)
    assert r.returncode == 0, r.stderr
    return r


def torchrun(*args, ranks: int = 2, check: bool = True, timeout: int = 600):
    """`python -m trainer.train` on `ranks` CPU processes (gloo), on a free port."""
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         str(ranks), "-m", "trainer.train", *map(str, args)],
        cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_loss_falls_on_real_book_shards(tmp_path, book_shards):
    out = tmp_path / "run"
    r = train("--shards", book_shards, "--config", TINY, "--max-steps", "80", "--out", out)
    rows = metrics(out)
    assert "training" in r.stderr and "tok/s" in r.stderr
    first, last = rows[0], rows[-1]
    assert first["step"] == 0 and last["step"] == 79
    assert first["loss"] > 7.0  # about ln(2048) = 7.6 at the start
    assert last["loss"] < first["loss"] - 1.5
    vals = [r for r in rows if "val_loss" in r]
    assert vals[0]["step"] == 0 and vals[-1]["step"] == 79
    assert vals[-1]["val_loss"] < vals[0]["val_loss"] - 1.2
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in rows)
    assert "mfu" not in last  # no peak FLOP/s for a CPU
    state = torch.load(out / "ckpt_000080.pt", weights_only=True)
    assert state["step"] == 80 and state["tokenizer"]["vocab_size"] == 2048
    assert state["model"]["transformer.wte.weight"].shape[0] == 2048  # padded to 64: already


def test_one_batch_is_overfit_to_near_zero(book_shards):
    torch.manual_seed(0)
    files = find_shards(book_shards, "train")
    x, y = ShardLoader(files, 4, 64).next_batch()
    model = GPT(GPTConfig(block_size=64, vocab_size=2048, n_layer=2, n_head=2, n_embd=64))
    opt = model.optimizer(3e-3, 0.0, (0.9, 0.95), fused=False)
    for _ in range(300):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path, book_shards):
    config = write_config(tmp_path / "c.yaml", max_steps=12, eval_interval=5, log_interval=1,
                          checkpoint_interval=4, model={"dropout": 0.1})  # fmt: skip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    base = ["--shards", book_shards, "--config", config]
    train(*base, "--out", straight)
    train(*base, "--out", resumed, "--stop-after", "5")
    assert sorted(p.name for p in resumed.glob("ckpt_*.pt")) == ["ckpt_000004.pt", "ckpt_000005.pt"]
    r = train(*base, "--out", resumed, "--resume")
    assert "resumed from" in r.stderr and "step 5" in r.stderr
    a = torch.load(straight / "ckpt_000012.pt", weights_only=True)
    b = torch.load(resumed / "ckpt_000012.pt", weights_only=True)
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    for sa, sb in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    assert a["loader"] == b["loader"]

    def timeless(rows):
        return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in rows]

    assert timeless(metrics(straight)) == timeless(metrics(resumed))


def test_resume_takes_the_highest_step_and_keep_checkpoints_keeps_the_latest(tmp_path, book_shards):
    config = write_config(tmp_path / "c.yaml", max_steps=6, eval_interval=0, log_interval=1,
                          checkpoint_interval=1, keep_checkpoints=2)  # fmt: skip
    out = tmp_path / "run"
    base = ["--shards", book_shards, "--config", config, "--out", out]
    train(*base, "--stop-after", "3")
    assert sorted(p.name for p in out.glob("ckpt_*.pt")) == ["ckpt_000002.pt", "ckpt_000003.pt"]
    # an older naming scheme: by name ckpt_2.pt is the last, by step ckpt_000003.pt is
    (out / "ckpt_000002.pt").rename(out / "ckpt_2.pt")
    r = train(*base, "--resume")
    assert f"resumed from {out / 'ckpt_000003.pt'} at step 3" in r.stderr
    assert sorted(p.name for p in out.glob("ckpt_*.pt")) == ["ckpt_000005.pt", "ckpt_000006.pt"]
    assert [row["step"] for row in metrics(out)] == list(range(6))


def test_torchrun_two_processes_on_gloo_match_one_process(tmp_path, book_shards):
    # the same global batch: one process accumulates two micro-batches, two ranks one each
    config = write_config(tmp_path / "c.yaml", max_steps=6, eval_interval=3, log_interval=1,
                          checkpoint_interval=0)  # fmt: skip
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    base = ["--shards", str(book_shards), "--config", str(config)]
    train(*base, "--out", single)
    r = torchrun(*base, "--out", ddp)
    assert "x 2:" in r.stderr and "(1 micro-batches)" in r.stderr
    one, two = metrics(single), metrics(ddp)
    assert [m["step"] for m in one] == [m["step"] for m in two] == list(range(6))
    for m1, m2 in zip(one, two, strict=True):
        assert m2["loss"] == pytest.approx(m1["loss"], abs=2e-4)
        if "val_loss" in m1:
            assert m2["val_loss"] == pytest.approx(m1["val_loss"], abs=2e-4)
    a = torch.load(single / "ckpt_000006.pt", weights_only=True)["model"]
    b = torch.load(ddp / "ckpt_000006.pt", weights_only=True)["model"]
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4


def small_val_shards(folder: Path, book_shards: Path, val_tokens: int) -> Path:
    """The books' train shards, and a val shard of the first `val_tokens` of the books' val."""
    folder.mkdir()
    for shard in find_shards(book_shards, "train"):
        (folder / shard.name).symlink_to(shard)
    val = np.asarray(open_shard(find_shards(book_shards, "val")[0])[:val_tokens])
    write_shard(folder / "val_000000.bin", val)
    return folder


def test_resume_on_another_number_of_ranks_reads_on_from_the_same_tokens(tmp_path, book_shards):
    # 904 val tokens: fewer than one batch on one rank or two, so the val loss is over 7
    # windows, split 4 + 3 between two ranks
    shards = small_val_shards(tmp_path / "shards", book_shards, 904)
    config = write_config(tmp_path / "c.yaml", max_steps=6, eval_interval=2, log_interval=1,
                          checkpoint_interval=3, model={"vocab_size": 2048})  # fmt: skip
    base = ["--shards", shards, "--config", config]
    straight, two_one, one_two = tmp_path / "straight", tmp_path / "two_one", tmp_path / "one_two"
    r = train(*base, "--out", straight)
    assert "val: 904 tokens, fewer than one batch (1,025): evaluating on 7 windows of 128" in (
        r.stderr
    )
    r = torchrun(*base, "--out", two_one, "--stop-after", "3")
    assert "val: 904 tokens, fewer than one batch (2,049): evaluating on 7 windows of 128" in (
        r.stderr
    )
    r = train(*base, "--out", two_one, "--resume")
    assert "at step 3 (saved by 2 rank(s), now 1: reading on from window 48 of epoch 0)" in (
        r.stderr
    )
    train(*base, "--out", one_two, "--stop-after", "3")
    r = torchrun(*base, "--out", one_two, "--resume")
    assert "at step 3 (saved by 1 rank(s), now 2: reading on from window 48 of epoch 0)" in (
        r.stderr
    )
    a = torch.load(straight / "ckpt_000006.pt", weights_only=True)
    expect = metrics(straight)
    for run in (two_one, one_two):
        b = torch.load(run / "ckpt_000006.pt", weights_only=True)
        assert [s["position"] for s in b["loader"]] == [a["loader"][0]["position"]] * len(
            b["loader"]
        )
        assert max((a["model"][k] - b["model"][k]).abs().max().item() for k in a["model"]) < 1e-4
        rows = metrics(run)
        assert [m["step"] for m in rows] == list(range(6))
        for m1, m2 in zip(expect, rows, strict=True):
            assert m2["loss"] == pytest.approx(m1["loss"], abs=2e-4)
            assert m2.get("val_loss", 0) == pytest.approx(m1.get("val_loss", 0), abs=2e-4)


def test_export_hf_gives_the_same_logits(tmp_path, book_shards):
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    out = tmp_path / "run"
    train("--shards", book_shards, "--config", TINY, "--max-steps", "5", "--out", out)
    r = run_corpus("export-hf", "--checkpoint", out, "--out", tmp_path / "hf")
    assert r.returncode == 0, r.stderr
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    state = torch.load(out / "ckpt_000005.pt", weights_only=True)
    ours = GPT(GPTConfig(**state["model_config"]))
    ours.load_state_dict(state["model"])
    ours.eval()
    ids = torch.randint(0, 2048, (2, 100), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = hf(ids).logits
        mine = ours(ids)[0][..., :2048]
    assert (theirs - mine).abs().max().item() < 1e-4
    tok = PreTrainedTokenizerFast.from_pretrained(tmp_path / "hf")
    assert tok.decode(tok.encode("The compleat angler")) == "The compleat angler"


def test_sample_prints_a_continuation(tmp_path, book_shards):
    out = tmp_path / "run"
    train("--shards", book_shards, "--config", TINY, "--max-steps", "5", "--out", out)
    r = run_corpus("sample", "--checkpoint", out, "--prompt", "The fish", "--max-new-tokens", "20")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("The fish") and len(r.stdout) > len("The fish") + 5
    again = run_corpus(
        "sample", "--checkpoint", out, "--prompt", "The fish", "--max-new-tokens", "20"
    )
    assert again.stdout == r.stdout  # seeded


def test_llmc_fineweb_shards_load_as_they_are(tmp_path):
    # written as llm.c's dev/data/data_common.py writes them: int32 header, then uint16 tokens
    rng = np.random.default_rng(0)
    folder = tmp_path / "edu_fineweb10B"
    folder.mkdir()
    for name, n in (("fineweb_val_000000.bin", 20_000), ("fineweb_train_000001.bin", 60_000)):
        header = np.zeros(256, dtype=np.int32)
        header[0], header[1], header[2] = 20240520, 1, n
        tokens = rng.integers(0, 50256, size=n).astype(np.uint16)
        tokens[::500] = 50256  # <|endoftext|> before each document, GPT-2's id
        with open(folder / name, "wb") as f:
            f.write(header.tobytes())
            f.write(tokens.tobytes())
    out = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", log_interval=1, eval_tokens=2048)
    train("--shards", folder, "--config", config, "--max-steps", "3", "--out", out)
    rows = metrics(out)
    assert [r["step"] for r in rows] == [0, 1, 2] and "val_loss" in rows[0]
    state = torch.load(out / "ckpt_000003.pt", weights_only=True)
    assert state["model_config"]["vocab_size"] == 50257
    assert state["model"]["transformer.wte.weight"].shape[0] == 50304  # padded to 64


@pytest.mark.parametrize(
    "val_tokens, line",
    [
        (904, "val: 904 tokens, fewer than one batch (1,025): evaluating on 7 windows of 128"),
        (50, "val: 50 tokens, fewer than one batch (1,025): evaluating on 1 window of 49"),
    ],
)
def test_a_val_split_smaller_than_one_batch_is_evaluated_on_what_it_holds(
    tmp_path, val_tokens, line
):
    rng = np.random.default_rng(0)
    folder = tmp_path / "shards"
    folder.mkdir()
    write_shard(folder / "x_train_0.bin", rng.integers(0, 1000, 5000).astype(np.uint16))
    val = rng.integers(0, 1000, val_tokens).astype(np.uint16)
    write_shard(folder / "x_val_0.bin", val)
    config = write_config(tmp_path / "c.yaml", max_steps=1, eval_interval=1,
                          model={"vocab_size": 1000})  # fmt: skip
    r = train("--shards", folder, "--config", config, "--out", tmp_path / "run")
    assert line in r.stderr.splitlines()
    (row,) = metrics(tmp_path / "run")
    # the loss of the untrained model (seeded as the trainer seeds it) on those windows
    cfg = load_config(config)
    count, length = (7, 128) if val_tokens == 904 else (1, 49)
    windows = torch.from_numpy(val[: count * length + 1].astype(np.int64))
    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).eval()
    with torch.no_grad():
        _, loss = model(windows[:-1].view(count, length), windows[1:].view(count, length))
    assert np.isfinite(row["val_loss"])
    assert row["val_loss"] == pytest.approx(loss.item(), abs=1e-4)


def test_ranks_read_disjoint_windows_that_cover_the_stream(tmp_path):
    tokens = np.arange(10_000, dtype=np.uint16)
    write_shard(tmp_path / "a_train_0.bin", tokens[:4_000])
    write_shard(tmp_path / "a_train_1.bin", tokens[4_000:])
    files = find_shards(tmp_path, "train")
    one = ShardLoader(files, batch_size=4, seq_len=16, mode="contiguous")
    ranks = [ShardLoader(files, 2, 16, rank=r, world_size=2, mode="contiguous") for r in range(2)]
    for _ in range(400):  # several epochs, across the shard boundary
        x, y = one.next_batch()
        parts = [loader.next_batch() for loader in ranks]
        assert torch.equal(torch.cat([p[0] for p in parts]), x)
        assert torch.equal(torch.cat([p[1] for p in parts]), y)
        assert torch.equal(x[:, 1:], y[:, :-1])
    assert one.epoch > 1
    # the state restores the stream exactly
    state = one.state_dict()
    nxt = one.next_batch()
    other = ShardLoader(files, batch_size=4, seq_len=16, mode="contiguous")
    other.load_state_dict(state)
    assert torch.equal(other.next_batch()[0], nxt[0])


def test_loader_state_restores_under_another_number_of_ranks(tmp_path):
    tokens = np.arange(10_000, dtype=np.uint16)
    write_shard(tmp_path / "a_train_0.bin", tokens[:4_000])
    write_shard(tmp_path / "a_train_1.bin", tokens[4_000:])
    files = find_shards(tmp_path, "train")
    one = ShardLoader(files, 4, 16, mode="contiguous")  # the uninterrupted run, on one rank
    reference = [one.next_batch()[0] for _ in range(400)]  # past several epoch ends
    # two ranks read 20 global batches (40 of one rank's), then one rank reads on
    two = [ShardLoader(files, 4, 16, rank=r, world_size=2, mode="contiguous") for r in range(2)]
    for _ in range(20):
        for loader in two:
            loader.next_batch()
    resumed = ShardLoader(files, 4, 16, mode="contiguous")
    resumed.load_state_dict(two[0].state_dict())
    for expected in reference[40:]:
        assert torch.equal(resumed.next_batch()[0], expected)
    # one rank read 41 batches, then two ranks read on: rank r the r-th of each pair
    one = ShardLoader(files, 4, 16, mode="contiguous")
    for _ in range(41):
        one.next_batch()
    two = [ShardLoader(files, 4, 16, rank=r, world_size=2, mode="contiguous") for r in range(2)]
    for loader in two:
        loader.load_state_dict(one.state_dict())
    for i in range(41, 150, 2):  # to the first epoch's end: 156 batches of one rank
        assert torch.equal(two[0].next_batch()[0], reference[i])
        assert torch.equal(two[1].next_batch()[0], reference[i + 1])
    # one rank stopped where one more batch fits but not two: two ranks begin the next epoch
    one = ShardLoader(files, 4, 16, mode="contiguous")
    for _ in range(155):
        one.next_batch()
    assert (one.epoch, one.position) == (0, 155 * 64)
    fresh = [ShardLoader(files, 4, 16, rank=r, world_size=2, mode="contiguous") for r in range(2)]
    for _ in range(78):  # a whole epoch of two ranks
        for loader in fresh:
            loader.next_batch()
    for r, loader in enumerate(two):
        loader.load_state_dict(one.state_dict())
        assert (loader.epoch, loader.position) == (1, 0)
        assert torch.equal(loader.next_batch()[0], fresh[r].next_batch()[0])


@pytest.mark.parametrize(
    "setup, words",
    [
        ("bad_magic", "bad magic"),
        ("truncated", "truncated"),
        ("no_shards", "no shard files"),
        ("bad_config", "unknown key 'n_layers'"),
        ("bad_batch", "not a multiple"),
        ("no_checkpoint", "no checkpoint"),
        ("small_vocab", "outside the model's vocabulary of 1000"),
        ("small_train", "the train split: 1,000 tokens in 1 shard(s), fewer than one batch"),
        ("bad_keep", "c.yaml: keep_checkpoints must be at least 1 (or 0: keep all), got -1"),
        ("keep_not_int", "c.yaml.keep_checkpoints must be int, got 'all'"),
    ],
)
def test_bad_input_is_one_line(tmp_path, setup, words):
    folder = tmp_path / "shards"
    folder.mkdir()
    write_shard(folder / "x_train_0.bin", np.arange(5000, dtype=np.uint16))
    config = write_config(tmp_path / "c.yaml", max_steps=2)
    args = ["--shards", folder, "--config", config, "--out", tmp_path / "out"]
    if setup == "bad_magic":
        data = bytearray((folder / "x_train_0.bin").read_bytes())
        data[0] ^= 1
        (folder / "x_train_0.bin").write_bytes(bytes(data))
    elif setup == "truncated":
        data = (folder / "x_train_0.bin").read_bytes()
        (folder / "x_train_0.bin").write_bytes(data[:-10])
    elif setup == "no_shards":
        (folder / "x_train_0.bin").unlink()
    elif setup == "bad_config":
        config.write_text(config.read_text().replace("n_layer:", "n_layers:"))
    elif setup == "bad_batch":
        write_config(config, total_batch_tokens=1000)
    elif setup == "no_checkpoint":
        args.append("--resume")
    elif setup == "small_vocab":
        write_config(config, max_steps=2, model={"vocab_size": 1000})
    elif setup == "small_train":
        write_shard(folder / "x_train_0.bin", np.arange(1000, dtype=np.uint16))
    elif setup in ("bad_keep", "keep_not_int"):
        write_config(config, keep_checkpoints=-1 if setup == "bad_keep" else "all")
    r = run_corpus("train", *args, env=ENV)
    assert r.returncode == 1
    lines = [
        line
        for line in r.stderr.strip().splitlines()
        if not line.startswith(("training ", "val: ", "bpb: "))
    ]
    assert len(lines) == 1 and words in lines[0], r.stderr


def test_bundled_configs_load_and_gpt2_has_124m_parameters():
    assert isinstance(load_config(TINY), TrainConfig)
    big = load_config(ROOT / "configs" / "trainer" / "gpt2-124m.yaml")
    model = GPT(big.model)
    assert 123e6 < model.num_params() + model.transformer.wpe.weight.numel() < 125e6 + 3e6


def test_train_stage_in_a_pipeline_resumes_after_kill_and_restarts_on_a_new_config(
    tmp_path, book_shards
):
    config = write_config(tmp_path / "c.yaml", max_steps=16, eval_interval=8,
                          checkpoint_interval=2, log_interval=1)  # fmt: skip

    def pipeline(name: str, steps: int) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"""
name: t
stages:
  - stage: train
    input: {book_shards.parent / "docs"}
    shards: {book_shards}
    config: {config}
    max_steps: {steps}
"""
        )
        return path

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    r = run_corpus("run", pipeline("a", 16), "--run-dir", straight, "--executor", "local")
    assert r.returncode == 0, r.stderr
    assert "[train] step     15 loss" in r.stderr
    args = ["run", pipeline("a", 16), "--run-dir", killed, "--executor", "local"]
    # kill -9 once two checkpoints exist, then run again: it resumes from the latest
    import signal
    import time as clock

    proc = subprocess.Popen([*map(str, [sys.executable, "-m", "pipelines.cli", *args])], cwd=ROOT,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = clock.monotonic() + 120
    while clock.monotonic() < deadline and proc.poll() is None:
        if len(list((killed / "train").glob("ckpt_*.pt"))) >= 2:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        clock.sleep(0.01)
    assert proc.wait() == -signal.SIGKILL  # killed mid-training
    r = run_corpus(*args)
    assert r.returncode == 0, r.stderr
    assert "[train] resumed from" in r.stderr
    a = torch.load(straight / "train" / "ckpt_000016.pt", weights_only=True)["model"]
    b = torch.load(killed / "train" / "ckpt_000016.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a finished stage is reused; a new schedule starts over, not from the old checkpoints
    r = run_corpus(*args)
    assert r.returncode == 0 and "[train] step" not in r.stderr
    r = run_corpus("run", pipeline("b", 6), "--run-dir", killed, "--executor", "local")
    assert r.returncode == 0, r.stderr
    assert "resumed" not in r.stderr
    rows = metrics(killed / "train")
    assert [x["step"] for x in rows] == list(range(6))


def test_a_bad_token_on_one_rank_ends_the_run_with_one_line_not_a_hang(tmp_path):
    # one window of the stream holds an id outside the vocabulary, so one rank stops at it
    # while the other waits in a collective: the run must end, not wait for gloo's timeout
    tokens = np.random.default_rng(0).integers(0, 1000, 16_384).astype(np.uint16)
    tokens[17 * 128 + 5] = 1500
    write_shard(tmp_path / "x_train_0.bin", tokens)
    config = write_config(tmp_path / "c.yaml", max_steps=40, eval_interval=0,
                          model={"vocab_size": 1000})  # fmt: skip
    r = torchrun("--shards", tmp_path, "--config", config, "--out", tmp_path / "run",
                 check=False, timeout=180)  # fmt: skip
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("train: error:")]
    assert len(errors) == 1 and "token id 1500" in errors[0], r.stderr[-3000:]
