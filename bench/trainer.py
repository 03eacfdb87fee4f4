"""The trainer and its loader against nanoGPT's ways, on the same shards and model config.

Loader: tokens/s of random-window batches (64 x 1024) from our `ShardLoader` against nanoGPT's
`get_batch` (a fresh np.memmap per batch, one slice and `astype(int64)` per row, torch.stack),
and of our sequential rank-strided batches, which training uses.

Trainer: tokens/s of `trainer.train` against a plain loop in nanoGPT's style (the same GPT class
and config, AdamW, random memmap batches, no schedule, clipping or logging) for the same number of
steps and tokens per step. On the CPU both run the same fp32 kernels, so the ratio measures our
loop's overhead; on a CUDA GPU ours adds bf16 autocast, torch.compile and fused AdamW, and the
run prints MFU from the device's peak.

    python -m bench.trainer [--steps 30] [--config configs/trainer/tiny.yaml]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import run_named_stage
from bench.realdocs import real_documents
from bench.shards import write_docs
from corpus.shards import HEADER_BYTES
from trainer.config import load_config
from trainer.data import ShardLoader, find_shards
from trainer.model import GPT

ROOT = Path(__file__).resolve().parent.parent


def make_shards(work: Path, vocab: int) -> Path:
    docs = [
        {"id": f"{i}-{copy}", "text": t, "source": "web"}
        for copy in range(4)
        for i, t in real_documents(1000)
    ]
    dataset = write_docs(work / "docs", docs, part_bytes=4 << 20)
    run_named_stage("tokenizer", dataset.path, work / "tok", {"vocab_size": vocab})
    tokenizer = str(work / "tok" / "tokenizer.json")
    params = {"tokenizer": tokenizer, "val_tokens": 100_000}
    run_named_stage("shard", dataset.path, work / "shards", params)
    return work / "shards"


def nanogpt_get_batch(path: str, B: int, T: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """nanoGPT's train.py get_batch, reading our shard past its header."""
    data = np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES)
    ix = torch.randint(len(data) - T, (B,))
    x = torch.stack([torch.from_numpy(data[i : i + T].astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + T].astype(np.int64)) for i in ix])
    return x, y


def rate(fn, tokens_per_call: int, seconds: float = 2.0) -> float:
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls * tokens_per_call / (time.perf_counter() - start)


def bench_loader(shards: Path) -> None:
    files = find_shards(shards, "train")
    B, T = 64, 1024
    dtype = ShardLoader(files[:1], 1, 8).shards[0].dtype
    torch.set_num_threads(1)
    theirs = rate(lambda: nanogpt_get_batch(str(files[0]), B, T, dtype), B * T)
    rand = ShardLoader(files, B, T, random=True)
    ours_random = rate(rand.next_batch, B * T)
    seq = ShardLoader(files, B, T)
    ours_seq = rate(seq.next_batch, B * T)
    torch.set_num_threads(torch.get_num_threads())
    print(f"loader, {B} x {T} batches, one core (M tokens/s):")
    for name, value in (
        ("nanoGPT get_batch, random windows", theirs),
        ("ShardLoader, random windows", ours_random),
        ("ShardLoader, sequential (training)", ours_seq),
    ):
        print(f"  {name:<36} {value / 1e6:8.1f}  ({value / theirs:.2f}x)")
    verdict = "met" if ours_random >= 50e6 else "NOT met"
    print(f"  goal >= 50M tokens/s per core for random windows: {verdict}")


def plain_loop(shards: Path, config: Path, steps: int) -> float:
    """nanoGPT-style: model, AdamW, random batches, forward, backward, step. Tokens/s."""
    cfg = load_config(config)
    cfg.model.vocab_size = json.loads((shards / "shards.json").read_text())["tokenizer"][
        "vocab_size"
    ]
    torch.manual_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = GPT(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    files = find_shards(shards, "train")
    dtype = ShardLoader(files[:1], 1, 8).shards[0].dtype
    accum = cfg.total_batch_tokens // (cfg.batch_size * cfg.seq_len)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        for _ in range(accum):
            x, y = nanogpt_get_batch(str(files[0]), cfg.batch_size, cfg.seq_len, dtype)
            x, y = x.to(device), y.to(device)
            _, loss = model(x, y)
            (loss / accum).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return cfg.total_batch_tokens / float(np.median(times[2:]))


def our_loop(shards: Path, config: Path, steps: int, out: Path) -> tuple[float, float | None]:
    from trainer.train import train

    args = argparse.Namespace(
        shards=str(shards), config=str(config), max_steps=steps, stop_after=None, resume=False,
        out=str(out), device=None,
    )  # fmt: skip
    train(args)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["step"] >= 2]
    mfu = [r["mfu"] for r in rows if "mfu" in r]
    return float(np.median([r["tokens_per_s"] for r in rows])), (
        float(np.median(mfu)) if mfu else None
    )


def bench_loop(shards: Path, config: Path, steps: int, work: Path) -> None:
    import yaml

    doc = yaml.safe_load(config.read_text())
    doc.update(log_interval=1, eval_interval=0, checkpoint_interval=0)
    quiet = work / "bench.yaml"
    quiet.write_text(yaml.safe_dump(doc))
    plain = plain_loop(shards, quiet, steps)
    ours, mfu = our_loop(shards, quiet, steps, work / "run")
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"train loop, {config.name}, {steps} steps, median tokens/s after 2 ({device}):")
    print(f"  plain nanoGPT-style loop   {plain:12,.0f}")
    print(f"  trainer.train              {ours:12,.0f}  ({ours / plain:.2f}x)")
    if mfu is not None:
        print(f"  MFU (bf16 dense peak)      {mfu:12.1%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trainer")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--config", default=str(ROOT / "configs" / "trainer" / "tiny.yaml"))
    parser.add_argument("--shards", help="a shard folder (default: built from ../shared/data)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    try:
        shards = Path(args.shards) if args.shards else make_shards(work, vocab=8192)
        bench_loader(shards)
        bench_loop(shards, Path(args.config), args.steps, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
