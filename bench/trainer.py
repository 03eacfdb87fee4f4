"""The trainer and its loader against nanoGPT's ways, on the same shards and model config.

The shards: ~2.8M tokens of real text (books, Stack Exchange, Reddit, web pages and Python's help
topics from ../shared/data, four copies of each under other ids) with a BPE of 4,096 ids. Most
val documents have copies in train: the figures compare loaders, not generalization.

Loader: tokens/s of random-window batches (64 x 1024) from our `ShardLoader` against nanoGPT's
`get_batch` (a fresh np.memmap per batch, one slice and `astype(int64)` per row, torch.stack),
and of our permuted and contiguous batches.

Windows: `trainer.train` for `--window-steps` steps of the config (tiny.yaml: 4 layers, 4 heads,
width 128, 2 micro-batches of 8 x 128 tokens, lr 3e-3, 20 warmup steps, cosine to 3e-4) with each
`loader:` mode, contiguous, permuted and random; then permuted with document masking. Val loss and
bits per byte at equal steps, on the same val windows for all.

Trainer: tokens/s of `trainer.train` against a plain loop in nanoGPT's style (the same GPT class
and config, AdamW, random memmap batches, no schedule, clipping or logging) for the same number of
steps and tokens per step. On the CPU both run the same fp32 kernels, so the ratio measures our
loop's overhead; on a CUDA GPU ours adds bf16 autocast, torch.compile and fused AdamW, and the
run prints MFU from the device's peak.

    python -m bench.trainer [--steps 30] [--window-steps 300] [--seeds 1] [--shards DIR]
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

from bench.shards import write_docs
from corpus.shards import HEADER_BYTES
from pipelines.standalone import run_on_dataset
from samples.shared_data import real_documents
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
    run_on_dataset("tokenizer", dataset.path, work / "tok", {"vocab_size": vocab})
    tokenizer = str(work / "tok" / "tokenizer.json")
    params = {"tokenizer": tokenizer, "val_tokens": 100_000}
    run_on_dataset("shard", dataset.path, work / "shards", params)
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
    dtype = ShardLoader(files[:1], 1, 8).stream.arrays[0].dtype
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    theirs = rate(lambda: nanogpt_get_batch(str(files[0]), B, T, dtype), B * T)
    ours = {
        mode: rate(ShardLoader(files, B, T, mode=mode).next_batch, B * T)
        for mode in ("random", "permuted", "contiguous")
    }
    torch.set_num_threads(threads)
    print(f"loader, {B} x {T} batches, one core (M tokens/s):")
    for name, value in (
        ("nanoGPT get_batch, random windows", theirs),
        ("ShardLoader, random windows", ours["random"]),
        ("ShardLoader, permuted (training)", ours["permuted"]),
        ("ShardLoader, contiguous", ours["contiguous"]),
    ):
        print(f"  {name:<36} {value / 1e6:8.1f}  ({value / theirs:.2f}x)")
    verdict = "met" if ours["random"] >= 50e6 else "NOT met"
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
    dtype = ShardLoader(files[:1], 1, 8).stream.arrays[0].dtype
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


def run_trainer(shards: Path, config: Path, steps: int, out: Path) -> list[dict]:
    """`trainer.train` in this process; the rows of its metrics.jsonl."""
    from trainer.train import train

    args = argparse.Namespace(
        shards=str(shards), config=str(config), max_steps=steps, stop_after=None, resume=False,
        out=str(out), device=None, eval_text=None, tokenizer=None,
    )  # fmt: skip
    train(args)
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def variant(config: Path, path: Path, **overrides) -> Path:
    """`config` with `overrides`, written to `path`."""
    import yaml

    doc = yaml.safe_load(config.read_text())
    doc.update(overrides)
    path.write_text(yaml.safe_dump(doc))
    return path


def median_rate(rows: list[dict]) -> float:
    return float(np.median([r["tokens_per_s"] for r in rows if r["step"] >= 2]))


def bench_loop(shards: Path, config: Path, steps: int, work: Path) -> None:
    quiet = variant(config, work / "bench.yaml", log_interval=1, eval_interval=0,
                    checkpoint_interval=0)  # fmt: skip
    plain = plain_loop(shards, quiet, steps)
    rows = run_trainer(shards, quiet, steps, work / "run")
    ours = median_rate(rows)
    mfu = [r["mfu"] for r in rows if "mfu" in r and r["step"] >= 2]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"train loop, {config.name}, {steps} steps, median tokens/s after 2 ({device}):")
    print(f"  plain nanoGPT-style loop   {plain:12,.0f}")
    print(f"  trainer.train              {ours:12,.0f}  ({ours / plain:.2f}x)")
    if mfu:
        print(f"  MFU (bf16 dense peak)      {float(np.median(mfu)):12.1%}")
    verdict = "met" if ours >= plain else "NOT met"
    print(f"  goal >= 1.0x the plain loop: {verdict}")


def bench_windows(shards: Path, config: Path, steps: int, seeds: int, work: Path) -> None:
    """Val loss and bpb after `steps` steps with each loader mode, and with document masking;
    each run `seeds` times, with shuffle seeds 0, 1, ... (the model's init stays the same)."""
    val_tokens = sum(
        e["tokens"] for e in json.loads((shards / "shards.json").read_text())["shards"]
        if e["split"] == "val"
    )  # fmt: skip
    runs = [(mode, {"loader": mode}) for mode in ("contiguous", "permuted", "random")]
    runs.append(("permuted, doc masking", {"loader": "permuted", "doc_masking": True}))
    results = {}
    for name, overrides in runs:
        rows, rates, started = [], [], time.perf_counter()
        for seed in range(seeds):
            path = variant(config, work / "windows.yaml", log_interval=10, eval_interval=steps,
                           eval_tokens=val_tokens, checkpoint_interval=0, shuffle_seed=seed,
                           **overrides)  # fmt: skip
            out = work / f"{name.replace(', ', '-').replace(' ', '_')}-{seed}"
            metrics = run_trainer(shards, path, steps, out)
            rows.append([r for r in metrics if "val_loss" in r][-1])
            rates.append(median_rate(metrics))
        losses = [r["val_loss"] for r in rows]
        bpb = float(np.mean([r["val_bpb"] for r in rows]))
        results[name] = (losses, bpb, float(np.median(rates)), time.perf_counter() - started)
    windows = load_config(path)
    print(
        f"train windows, {config.name}, val after {rows[-1]['step']} steps of "
        f"{windows.total_batch_tokens:,} tokens, {seeds} shuffle seed(s) each (mean, and min..max);"
        f" the same val windows ({val_tokens:,} tokens at most) for each:"
    )
    head = ("val loss", 9), ("min..max", 15), ("val bpb", 9), ("tok/s", 8), ("wall s", 7)
    print(f"  {'loader':<24}" + "".join(f" {title:>{width}}" for title, width in head))
    for name, (losses, bpb, tps, wall) in results.items():
        spread = f"{min(losses):.4f}..{max(losses):.4f}"
        print(
            f"  {name:<24} {np.mean(losses):9.4f} {spread:>15} {bpb:9.4f} {tps:8,.0f} {wall:7.0f}"
        )
    permuted, rand = (float(np.mean(results[k][0])) for k in ("permuted", "random"))
    verdict = "met" if permuted <= rand else f"NOT met (by {permuted - rand:.4f})"
    print(f"  goal: permuted no worse than random: {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trainer")
    parser.add_argument("--steps", type=int, default=30, help="of the tokens/s comparison")
    parser.add_argument("--window-steps", type=int, default=300, help="of each loader mode's run")
    parser.add_argument("--seeds", type=int, default=1, help="runs of each loader mode")
    parser.add_argument("--config", default=str(ROOT / "configs" / "trainer" / "tiny.yaml"))
    parser.add_argument("--shards", help="a shard folder (default: built from ../shared/data)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    try:
        shards = Path(args.shards) if args.shards else make_shards(work, vocab=4096)
        bench_loader(shards)
        bench_loop(shards, Path(args.config), args.steps, work)
        bench_windows(shards, Path(args.config), args.window_steps, args.seeds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
