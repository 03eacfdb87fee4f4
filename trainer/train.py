"""Train the GPT on token shards: one process, or several with torchrun (DDP).

    python -m trainer.train --shards RUN/shards --config configs/trainer/tiny.yaml --out RUN/train
    torchrun --nproc_per_node 8 -m trainer.train --shards DIR \
        --config configs/trainer/gpt2-124m.yaml

Each optimizer step sees `total_batch_tokens` tokens: `batch_size x seq_len` per micro-batch, on
every rank, accumulated over as many micro-batches as make up the rest. The learning rate warms
up linearly, then decays on a cosine to `lr x min_lr_ratio` at `max_steps`. On CUDA the forward
runs in bf16 autocast, the model is compiled and AdamW is fused; on the CPU everything is fp32.

`--out` receives `metrics.jsonl` (one JSON object per logged step: step, loss, lr, tokens_per_s,
mfu where the device's peak is known, val_loss where evaluated) and checkpoints
`ckpt_STEP.pt` holding the model, optimizer, step, loader position, RNG states and config; they
load with `torch.load(..., weights_only=True)`. They are fsynced before they are renamed into
place, and `keep_checkpoints: K` keeps the latest K. `--resume` continues from the one of the
highest step, and gives the same weights, bit for bit on the CPU, as a run that never stopped; it
may resume on another number of ranks, which read on from the same place in the token stream.

A val split smaller than one batch is evaluated on what it holds (fewer windows, or one shorter
window), and the run says so in one line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist

from corpus.errors import CorpusError
from corpus.process import exit_process
from corpus.shards import MANIFEST
from trainer.args import add_arguments
from trainer.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from trainer.config import TrainConfig, TrainConfigError, load_config
from trainer.data import ShardLoader, count_tokens, find_shards, short_windows
from trainer.model import GPT

# dense bf16 peak FLOP/s per device, from the vendors' data sheets (no sparsity)
PEAK_BF16 = {
    "H100 SXM": 989e12,
    "H100 NVL": 835e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "H200": 989e12,
    "GH200": 989e12,
    "B200": 2250e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
    "A10": 125e12,
    "L4": 121e12,
    "RTX 4090": 165e12,
    "RTX 3090": 71e12,
}


def peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak from PEAK_BF16, matched by name; None on the CPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key in sorted(PEAK_BF16, key=len, reverse=True):  # "H100 PCIe" before "H100"
        if key in name:
            return PEAK_BF16[key]
    return None


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to `lr`, then cosine decay to `lr * min_lr_ratio` at `max_steps`."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - floor)


def shard_facts(shards: Path) -> dict:
    """What shards.json says of the tokenizer, when the folder has one (llm.c's have none)."""
    manifest = Path(shards) / MANIFEST
    if not manifest.is_file():
        return {}
    return json.loads(manifest.read_text()).get("tokenizer", {})


class Trainer:
    def __init__(self, args, cfg: TrainConfig):
        self.args, self.cfg = args, cfg
        self.ddp = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        if self.ddp:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend=backend)
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
            local = int(os.environ.get("LOCAL_RANK", 0))
        else:
            self.rank, self.world, local = 0, 1, 0
        if args.device:
            self.device = torch.device(args.device)
        elif torch.cuda.is_available():
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.master = self.rank == 0
        per_micro = cfg.batch_size * cfg.seq_len * self.world
        if cfg.total_batch_tokens % per_micro:
            raise TrainConfigError(
                f"total_batch_tokens {cfg.total_batch_tokens} is not a multiple of batch_size x "
                f"seq_len x ranks = {per_micro}"
            )
        self.accum = cfg.total_batch_tokens // per_micro
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)

        self.tokenizer = shard_facts(args.shards)
        if "vocab_size" in self.tokenizer:
            cfg.model.vocab_size = self.tokenizer["vocab_size"]
        torch.manual_seed(cfg.seed)
        self.model = GPT(cfg.model).to(self.device)
        self.raw_model = self.model
        cuda = self.device.type == "cuda"
        self.optimizer = self.model.optimizer(
            cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), fused=cuda
        )
        self.train_loader = ShardLoader(
            find_shards(args.shards, "train"),
            cfg.batch_size,
            cfg.seq_len,
            self.rank,
            self.world,
            seed=cfg.shuffle_seed,
            name="the train split",
        )
        self.val_files = find_shards(args.shards, "val") if cfg.eval_interval else []
        self.val_windows, self.val_note = self._plan_val()
        self.step = 0
        if args.resume:
            self._resume()
        if cfg.compile and cuda:
            self.model = torch.compile(self.model)
        if self.ddp:
            ids = [self.device.index] if cuda else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.autocast = (
            torch.autocast(device_type="cuda", dtype=torch.bfloat16) if cuda else nullcontext()
        )
        self.flops_per_token = self.raw_model.flops_per_token(cfg.seq_len)
        self.peak = peak_flops(self.device)

    # --- checkpoints ---------------------------------------------------------------------------

    def _resume(self) -> None:
        path = latest_checkpoint(self.out)
        if path is None:
            raise CorpusError(f"--resume: no checkpoint (ckpt_*.pt) in {self.out}")
        state = load_checkpoint(path)
        if state["model_config"] != self.cfg.model.to_dict():
            raise CorpusError(
                f"{path}: made with another model config; cannot resume with this one"
            )
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        loaders = state["loader"]  # one per saved rank, all at the same place in the stream
        if len({(s["epoch"], s["position"]) for s in loaders}) != 1:
            raise CorpusError(f"{path}: its ranks' loaders disagree on the stream position")
        self.train_loader.load_state_dict(loaders[0])  # under any number of ranks
        torch.set_rng_state(state["rng"]["cpu"])
        if self.device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        if self.master:
            ranks = ""
            if len(loaders) != self.world:
                ranks = (
                    f" (saved by {len(loaders)} rank(s), now {self.world}: reading on from token "
                    f"{self.train_loader.position:,} of epoch {self.train_loader.epoch})"
                )
            print(f"resumed from {path} at step {self.step}{ranks}", file=sys.stderr)

    def _save(self) -> None:
        loaders = [self.train_loader.state_dict()]
        if self.ddp:
            gathered = [None] * self.world
            dist.all_gather_object(gathered, loaders[0])
            loaders = gathered
        if not self.master:
            return
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "model": self.raw_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "loader": loaders,
            "rng": rng,
            "config": self.cfg.to_dict(),
            "model_config": self.cfg.model.to_dict(),
            "tokenizer": self.tokenizer,
            "shards": str(Path(self.args.shards).resolve()),
        }
        save_checkpoint(self.out / f"ckpt_{self.step:06d}.pt", state)
        prune_checkpoints(self.out, self.step, self.cfg.keep_checkpoints)

    # --- the loop ------------------------------------------------------------------------------

    def _plan_val(self) -> tuple[tuple[int, int] | None, str | None]:
        """(count, length) of the windows to evaluate on when the val split holds fewer tokens
        than one batch (None when it holds enough), and the line that says so."""
        cfg = self.cfg
        if not cfg.eval_interval:
            return None, None
        if not self.val_files:
            return None, "val: no val shards, so no val loss"
        total = count_tokens(self.val_files)
        need = self.world * cfg.batch_size * cfg.seq_len + 1
        if total >= need:
            return None, None
        if total < 2:
            self.val_files = []
            return None, f"val: {total} token(s), too few for one target: no val loss"
        count, length = short_windows(total, cfg.seq_len)
        windows = f"{count} window{'s' if count > 1 else ''} of {length}"
        return (count, length), (
            f"val: {total:,} tokens, fewer than one batch ({need:,}): evaluating on {windows}"
        )

    @torch.no_grad()
    def val_loss(self) -> float | None:
        cfg = self.cfg
        if not self.val_files:
            return None
        if self.val_windows:
            return self._short_val_loss(*self.val_windows)
        loader = ShardLoader(self.val_files, cfg.batch_size, cfg.seq_len, self.rank, self.world)
        per_step = self.world * cfg.batch_size * cfg.seq_len
        steps = max(1, min(cfg.eval_tokens, loader.total - 1) // per_step)
        self.model.eval()
        total = torch.zeros((), device=self.device)
        for _ in range(steps):
            x, y = self._batch(loader)
            with self.autocast:
                _, loss = self.model(x, y)
            total += loss.float()
        self.model.train()
        total /= steps
        if self.ddp:
            dist.all_reduce(total, op=dist.ReduceOp.AVG)
        return total.item()

    def _short_val_loss(self, count: int, length: int) -> float:
        """The mean loss over `count` windows of `length`, fewer than one batch: rank r takes
        windows r, r + ranks, ... (some ranks none), on the uncompiled model."""
        x, y = self._batch(ShardLoader(self.val_files, count, length))
        x, y = x[self.rank :: self.world], y[self.rank :: self.world]
        sums = torch.zeros(2, device=self.device)  # (loss x windows, windows)
        if len(x):
            self.raw_model.eval()
            with self.autocast:
                _, loss = self.raw_model(x, y)
            self.raw_model.train()
            sums += torch.stack([loss.float() * len(x), torch.tensor(len(x), device=self.device)])
        if self.ddp:
            dist.all_reduce(sums)
        return (sums[0] / sums[1]).item()

    def _batch(self, loader: ShardLoader) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = loader.next_batch()
        top = int(y.max())
        if top >= self.cfg.model.vocab_size:
            raise CorpusError(
                f"the shards hold token id {top}, outside the model's vocabulary of "
                f"{self.cfg.model.vocab_size}; set model.vocab_size for shards without shards.json"
            )
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def train_step(self) -> tuple[float, float]:
        """One optimizer step over `accum` micro-batches; the mean loss and the gradient norm."""
        cfg = self.cfg
        lr = lr_at(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_sum = torch.zeros((), device=self.device)
        for micro in range(self.accum):
            x, y = self._batch(self.train_loader)
            sync = micro == self.accum - 1
            context = self.model.no_sync() if self.ddp and not sync else nullcontext()
            with context:
                with self.autocast:
                    _, loss = self.model(x, y)
                loss = loss / self.accum
                loss_sum += loss.detach()
                loss.backward()
        if self.ddp:
            dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
        norm = torch.tensor(0.0)
        if cfg.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_sum.item(), float(norm)

    def run(self) -> None:
        cfg, args = self.cfg, self.args
        stop = min(cfg.max_steps, args.stop_after or cfg.max_steps)
        metrics_path = self.out / "metrics.jsonl"
        if self.master:
            _truncate_metrics(metrics_path, self.step)
        metrics = open(metrics_path, "a") if self.master else None  # noqa: SIM115
        tokens_per_step = cfg.total_batch_tokens
        if self.master:
            print(
                f"training {self.raw_model.num_params():,} parameters on {self.device} x "
                f"{self.world}: {tokens_per_step:,} tokens a step ({self.accum} micro-batches), "
                f"steps {self.step}..{stop} of {cfg.max_steps}",
                file=sys.stderr,
            )
            if self.val_note:
                print(self.val_note, file=sys.stderr)
        try:
            while self.step < stop:
                row: dict = {}
                last = self.step == cfg.max_steps - 1
                if cfg.eval_interval and (self.step % cfg.eval_interval == 0 or last):
                    val = self.val_loss()
                    if val is not None:
                        row["val_loss"] = round(val, 6)
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                loss, norm = self.train_step()
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                elapsed = time.perf_counter() - started
                tps = tokens_per_step / elapsed
                row = {
                    "step": self.step,
                    "loss": round(loss, 6),
                    "lr": lr_at(self.step, cfg),
                    "grad_norm": round(norm, 6),
                    "tokens_per_s": round(tps, 1),
                    **row,
                }
                if self.peak:
                    row["mfu"] = round(tps * self.flops_per_token / (self.peak * self.world), 4)
                self.step += 1
                if self.master and (self.step % cfg.log_interval == 0 or "val_loss" in row):
                    metrics.write(json.dumps(row) + "\n")
                    metrics.flush()
                    shown = f" val {row['val_loss']:.4f}" if "val_loss" in row else ""
                    mfu = f" mfu {row['mfu']:.1%}" if "mfu" in row else ""
                    print(
                        f"step {row['step']:>6} loss {loss:.4f}{shown} lr {row['lr']:.2e} "
                        f"{tps:,.0f} tok/s{mfu}",
                        file=sys.stderr,
                    )
                interval = cfg.checkpoint_interval
                if (interval and self.step % interval == 0) or self.step == stop:
                    self._save()
        finally:
            if metrics:
                metrics.close()
            if self.ddp:
                # every rank reaches here before any tears down its connections: a rank that
                # left while the others still wrote a checkpoint could abort in gloo's threads
                dist.barrier()
                dist.destroy_process_group()


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop logged steps at or after `step` (a resumed run logs them again)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if json.loads(line)["step"] < step]
    path.write_text("".join(line + "\n" for line in keep))


def build_parser(prog: str = "python -m trainer.train") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Train the GPT on token shards.")
    add_arguments(p)
    return p


def train(args) -> None:
    cfg = load_config(args.config)
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise TrainConfigError(f"--max-steps must be at least 1, got {args.max_steps}")
        cfg.max_steps = args.max_steps
    if args.stop_after is not None and args.stop_after < 1:
        raise TrainConfigError(f"--stop-after must be at least 1, got {args.stop_after}")
    Trainer(args, cfg).run()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except CorpusError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    exit_process(main())
