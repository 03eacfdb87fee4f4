"""Train the GPT on token shards: one process, or several with torchrun (DDP, ZeRO-1 or FSDP).

    python -m trainer.train --shards RUN/shards --config configs/trainer/tiny.yaml --out RUN/train
    torchrun --nproc_per_node 8 -m trainer.train --shards DIR \
        --config configs/trainer/gpt2-124m.yaml

Each optimizer step sees `total_batch_tokens` tokens: `batch_size x seq_len` per micro-batch, on
every rank, accumulated over as many micro-batches as make up the rest. The learning rate warms
up linearly, then decays to `lr x min_lr_ratio` at `max_steps`: on a cosine, or (`schedule: wsd`)
held until the last `decay_fraction` of the steps, then linearly. The forward runs in autocast of
`dtype`: by default bf16 on CUDA, fp16 with a grad scaler on GPUs without bf16, fp32 on the CPU
(where bf16 may be asked for). On CUDA the model is compiled and AdamW is fused. A thread reads
batches ahead (into pinned memory, for CUDA), and the host waits for the device only at logged
steps, where it reads the loss and the gradient norm (tokens/s is over the steps since the last
logged one). Under torchrun, `sharding` keeps every state on every rank (`ddp`), or splits the
AdamW state (`zero1`) or everything (`fsdp`) between the ranks (see trainer/sharding.py); the
first step prints the bytes each rank holds. Evaluation runs the uncompiled model: the compiled
graph is training's, and eval mode under no_grad would recompile it.

`--out` receives `metrics.jsonl` (one JSON object per logged step: step, loss, lr, tokens_per_s,
mfu where the device's peak is known; where evaluated, val_loss and val_bpb, bits per byte with
the shards' tokenizer or `--tokenizer`, and `eval`: {name: {loss, bpb}} for each `--eval-text`
file, plain text or JSONL of {"text": ...}) and checkpoints
`ckpt_STEP.pt` holding the model, optimizer, step, loader position, RNG states and config; they
load with `torch.load(..., weights_only=True)`. They are fsynced before they are renamed into
place, and `keep_checkpoints: K` keeps the latest K. `--resume` continues from the one of the
highest step, and gives the same weights, bit for bit on the CPU, as a run that never stopped; it
may resume on another number of ranks, which read on from the same place in the token stream.

The val loss is over a fixed, seeded set of windows spread over the whole val split, the same at
every evaluation. A val split smaller than one batch, or an eval text shorter than one window, is
evaluated on what it holds (fewer windows, or one shorter window), and the run says so in one line.
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
from trainer.data import ShardLoader, find_shards
from trainer.evaluation import EvalSet, eval_tokenizer, text_set, token_bytes, val_set
from trainer.model import GPT
from trainer.prefetch import Prefetcher
from trainer.sharding import (
    build_optimizer,
    check_sharding,
    full_state,
    load_full_state,
    rank_bytes,
    shard_model,
)

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
    """Linear warmup to `lr`, then a decay to `lr * min_lr_ratio` at `max_steps`: on a cosine,
    or (wsd: warmup, stable, decay) constant until the last `decay_fraction` of the steps, then
    linear."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    floor = cfg.lr * cfg.min_lr_ratio
    if cfg.schedule == "wsd":
        decay = round(cfg.decay_fraction * cfg.max_steps)
        progress = min(1.0, max(0, step - (cfg.max_steps - decay)) / max(1, decay))
        return cfg.lr - progress * (cfg.lr - floor)
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - floor)


def autocast_dtype(name: str, device: torch.device) -> torch.dtype:
    """The forward's dtype for `dtype: name` on `device`; one the device cannot run is one line."""
    cuda = device.type == "cuda"
    bf16 = cuda and torch.cuda.is_bf16_supported(including_emulation=False)
    if name == "auto":
        name = ("bf16" if bf16 else "fp16") if cuda else "fp32"
    if name == "fp16" and not cuda:
        raise TrainConfigError(
            f"dtype: fp16 (with a grad scaler) is for CUDA GPUs without bf16; on {device.type} "
            "use bf16 or fp32"
        )
    if name == "bf16" and cuda and not bf16:
        raise TrainConfigError(
            f"dtype: bf16 needs a GPU that has it; {torch.cuda.get_device_name(device)} has not: "
            "use fp16"
        )
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def shard_facts(shards: Path) -> dict:
    """What shards.json says of the tokenizer, when the folder has one (llm.c's have none)."""
    manifest = Path(shards) / MANIFEST
    if not manifest.is_file():
        return {}
    return json.loads(manifest.read_text()).get("tokenizer", {})


class Trainer:
    def __init__(self, args, cfg: TrainConfig):
        self.args, self.cfg = args, cfg
        self.ddp = "RANK" in os.environ and "WORLD_SIZE" in os.environ  # started by torchrun
        local = int(os.environ.get("LOCAL_RANK", 0)) if self.ddp else 0
        if args.device:
            self.device = torch.device(args.device)
        elif torch.cuda.is_available():
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", local)  # `--device cuda`: each rank its own GPU
        self.dtype = autocast_dtype(cfg.dtype, self.device)
        self.sharding = cfg.sharding if self.ddp else "ddp"  # one process holds everything
        check_sharding(self.sharding, self.device)
        if self.ddp:
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
        else:
            self.rank, self.world = 0, 1
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
        eot = self.tokenizer.get("eot_id", cfg.model.vocab_size - 1)  # llm.c's GPT-2: 50256
        self.model = GPT(
            cfg.model,
            doc_eot=eot if cfg.doc_masking else None,
            grad_checkpointing=cfg.grad_checkpointing,
        ).to(self.device)
        self.raw_model = self.model
        cuda = self.device.type == "cuda"
        shard_model(self.raw_model, self.sharding)
        self.optimizer = build_optimizer(self.raw_model, cfg, self.sharding, fused=cuda)
        # fp16's small range needs the loss scaled up, and the gradients down before the step
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        self.train_loader = ShardLoader(
            find_shards(args.shards, "train"),
            cfg.batch_size,
            cfg.seq_len,
            self.rank,
            self.world,
            seed=cfg.shuffle_seed,
            mode=cfg.loader,
            name="the train split",
        )
        self.eval_texts, self.eval_notes = self._plan_eval()
        self.step = 0
        if args.resume:
            self._resume()
        if cfg.compile and cuda:
            self.model = torch.compile(self.model)
        if self.ddp and self.sharding != "fsdp":  # fsdp's hooks reduce the gradients themselves
            ids = [self.device.index] if cuda else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.no_sync = isinstance(self.model, torch.nn.parallel.DistributedDataParallel)
        self.autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else nullcontext()
        )
        self.train_batches: Prefetcher | None = None  # started by run()
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
        load_full_state(
            self.raw_model, self.optimizer, self.sharding, state["model"], state["optimizer"]
        )
        if self.scaler.is_enabled() and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
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
                    f" (saved by {len(loaders)} rank(s), now {self.world}: reading on from "
                    f"{self.train_loader.where()})"
                )
            print(f"resumed from {path} at step {self.step}{ranks}", file=sys.stderr)

    def _save(self) -> None:
        loaders = [self.train_batches.state_dict()]  # after the batches taken, not read ahead
        if self.ddp:
            gathered = [None] * self.world
            dist.all_gather_object(gathered, loaders[0])
            loaders = gathered
        weights, optimizer = full_state(self.raw_model, self.optimizer, self.sharding, self.master)
        if not self.master:
            return
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "model": weights,
            "optimizer": optimizer,
            "step": self.step,
            "loader": loaders,
            "rng": rng,
            "config": self.cfg.to_dict(),
            "model_config": self.cfg.model.to_dict(),
            "tokenizer": self.tokenizer,
            "shards": str(Path(self.args.shards).resolve()),
        }
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        save_checkpoint(self.out / f"ckpt_{self.step:06d}.pt", state)
        prune_checkpoints(self.out, self.step, self.cfg.keep_checkpoints)

    # --- the loop ------------------------------------------------------------------------------

    def _plan_eval(self) -> tuple[list[EvalSet], list[str]]:
        """The sets each evaluation reads (the val split's windows, then each --eval-text's), and
        the lines that say what is evaluated on less than asked, or without bits per byte."""
        cfg, args = self.cfg, self.args
        texts = [Path(t) for t in args.eval_text or []]
        tok, eot, note = eval_tokenizer(self.tokenizer, args.tokenizer)
        notes = [note] if note else []
        self.token_bytes = token_bytes(tok) if tok else None
        if tok and self.token_bytes is None:
            notes.append("bpb: the tokenizer is not a byte-level BPE, so loss only")
        if texts and not cfg.eval_interval:
            raise CorpusError("--eval-text needs eval_interval above 0 in the config")
        if texts and not tok:
            raise CorpusError(f"--eval-text needs the tokenizer: {note.removeprefix('bpb: ')}")
        if tok and tok.get_vocab_size(with_added_tokens=True) > cfg.model.vocab_size:
            raise CorpusError(
                f"the tokenizer has {tok.get_vocab_size(with_added_tokens=True):,} ids, more "
                f"than the model's vocabulary of {cfg.model.vocab_size:,}"
            )
        names = [t.name for t in texts]
        if len(set(names)) < len(names):
            raise CorpusError(f"--eval-text: two files named {max(names, key=names.count)}")
        self.val = None
        if not cfg.eval_interval:
            return [], notes
        files = find_shards(args.shards, "val")
        seed = cfg.seed if cfg.eval_seed is None else cfg.eval_seed
        self.val, val_note = val_set(
            files, cfg.batch_size, cfg.seq_len, self.world, cfg.eval_tokens, seed
        )
        texts = [text_set(t, tok, eot, cfg.seq_len, cfg.eval_tokens, seed) for t in texts]
        notes += [val_note] if val_note else []
        notes += [t.note for t in texts if t.note]
        return texts, notes

    @torch.no_grad()
    def evaluate(self, ev: EvalSet) -> dict:
        """{"loss": mean loss per target, "bpb": bits per byte (with a tokenizer)} of the model
        on `ev`'s windows, over all ranks."""
        cfg = self.cfg
        # eager: the compiled graph is training's; eval mode and no_grad in it would recompile
        model = self.raw_model
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)  # nats over targets
        targets = nbytes = 0
        self.model.eval()
        for x, y, real in ev.batches(self.rank, self.world, cfg.batch_size):
            top = int(y.max())
            if top >= cfg.model.vocab_size:
                raise CorpusError(
                    f"{ev.name}: token id {top}, outside the model's vocabulary of "
                    f"{cfg.model.vocab_size}; set model.vocab_size for shards without shards.json"
                )
            if self.token_bytes is not None and top >= len(self.token_bytes):
                raise CorpusError(
                    f"{ev.name}: token id {top}, outside the tokenizer's {len(self.token_bytes)} "
                    "ids: the shards were not made with it"
                )
            if real and self.token_bytes is not None:
                nbytes += int(self.token_bytes[y.numpy()].sum())
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self.autocast:
                _, loss = model(x, y)
            if real:  # a stand-in keeps a sharded model's ranks in step; its loss is not counted
                loss_sum += loss.double() * y.numel()
                targets += y.numel()
        self.model.train()
        counts = torch.tensor([targets, nbytes], dtype=torch.float64, device=self.device)
        sums = torch.cat([loss_sum.view(1), counts])  # one all-reduce; on the GPU for nccl
        if self.ddp:
            dist.all_reduce(sums)
        loss_sum, targets, nbytes = sums.tolist()
        out = {"loss": round(loss_sum / targets, 6)}
        if nbytes:
            out["bpb"] = round(loss_sum / math.log(2) / nbytes, 6)
        return out

    def evaluate_all(self) -> dict:
        """The metrics row's evaluations: val_loss and val_bpb, and each eval text's by name."""
        row = {}
        if self.val is not None:
            val = self.evaluate(self.val)
            row["val_loss"] = val["loss"]
            if "bpb" in val:
                row["val_bpb"] = val["bpb"]
        if self.eval_texts:
            row["eval"] = {ev.name: self.evaluate(ev) for ev in self.eval_texts}
        return row

    def _check_ids(self, y: torch.Tensor) -> None:
        """Stop at a target outside the model's vocabulary (in the prefetching thread)."""
        top = int(y.max())
        if top >= self.cfg.model.vocab_size:
            raise CorpusError(
                f"the shards hold token id {top}, outside the model's vocabulary of "
                f"{self.cfg.model.vocab_size}; set model.vocab_size for shards without shards.json"
            )

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step over `accum` micro-batches; this rank's mean loss and the gradient
        norm, left on the device (`_read` waits for them)."""
        cfg = self.cfg
        lr = lr_at(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_sum = torch.zeros((), device=self.device)
        for micro in range(self.accum):
            x, y = self.train_batches.next_batch()
            sync = micro == self.accum - 1
            if self.ddp and self.sharding == "fsdp":  # reduce-scatter once, after the last one
                self.raw_model.set_requires_gradient_sync(sync)
            context = self.model.no_sync() if self.no_sync and not sync else nullcontext()
            with context:
                with self.autocast:
                    _, loss = self.model(x, y)
                loss = loss / self.accum
                loss_sum += loss.detach()
                self.scaler.scale(loss).backward()
        norm = torch.zeros((), device=self.device)
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)  # skipped when fp16 gradients overflowed
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_sum, norm

    def _read(self, loss: torch.Tensor, norm: torch.Tensor) -> tuple[float, float]:
        """A step's loss, averaged over the ranks, and gradient norm, as numbers: the host waits
        here for the device. Every rank calls it, at logged steps only."""
        if self.ddp:
            dist.all_reduce(loss, op=dist.ReduceOp.AVG)
        if hasattr(norm, "full_tensor"):  # fsdp's norm is a DTensor
            norm = norm.full_tensor()
        return loss.item(), norm.item()

    def _now(self) -> float:
        """The time once the device has done the work queued so far."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def _print_rank_bytes(self) -> None:
        """The line of the bytes of parameters and AdamW state a rank holds (the most of any)."""
        held = rank_bytes(self.raw_model, self.optimizer)
        held = torch.tensor(held, dtype=torch.float64, device=self.device)  # nccl: on the GPU
        if self.ddp:
            dist.all_reduce(held, op=dist.ReduceOp.MAX)
        if self.master:
            params, state = (int(n) for n in held.tolist())
            print(
                f"per rank ({self.sharding}, {str(self.dtype).removeprefix('torch.')}): "
                f"parameters {params:,} bytes, AdamW state {state:,} bytes",
                file=sys.stderr,
            )

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
            for note in self.eval_notes:
                print(note, file=sys.stderr)
            if cfg.sharding != self.sharding:
                print(
                    f"sharding: {cfg.sharding} splits the state between torchrun's ranks; one "
                    "process holds it all",
                    file=sys.stderr,
                )
        self.train_batches = Prefetcher(self.train_loader, self.device, self._check_ids)
        first = self.step
        since, timed = self._now(), 0  # tokens/s is over the steps since the last logged one
        failed = False
        try:
            while self.step < stop:
                row: dict = {}
                last = self.step == cfg.max_steps - 1
                if cfg.eval_interval and (self.step % cfg.eval_interval == 0 or last):
                    row = self.evaluate_all()
                evaluated = bool(row)
                if evaluated:
                    since, timed = self._now(), 0  # the evaluation's time is not training's
                loss, norm = self.train_step()
                timed += 1
                if self.step == first:
                    self._print_rank_bytes()
                logged = (self.step + 1) % cfg.log_interval == 0 or evaluated
                if logged:
                    loss, norm = self._read(loss, norm)
                    now = self._now()
                    tps = timed * tokens_per_step / (now - since)
                    since, timed = now, 0
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
                if self.master and logged:
                    metrics.write(json.dumps(row) + "\n")
                    metrics.flush()
                    shown = _evaluations(row)
                    mfu = f" mfu {row['mfu']:.1%}" if "mfu" in row else ""
                    print(
                        f"step {row['step']:>6} loss {loss:.4f}{shown} lr {row['lr']:.2e} "
                        f"{tps:,.0f} tok/s{mfu}",
                        file=sys.stderr,
                    )
                interval = cfg.checkpoint_interval
                if (interval and self.step % interval == 0) or self.step == stop:
                    self._save()
                    since, timed = self._now(), 0
        except BaseException:
            failed = True  # the other ranks may wait in a collective: no barrier, torchrun
            raise  # ends them when this rank exits
        finally:
            self.train_batches.close()
            if metrics:
                metrics.close()
            if self.ddp:
                # every rank reaches here before any tears down its connections: a rank that
                # left while the others still wrote a checkpoint could abort in gloo's threads
                if not failed:
                    dist.barrier()
                dist.destroy_process_group()


def _evaluations(row: dict) -> str:
    """The evaluations of a metrics row, for the progress line: ` val 3.2100 (1.2000 bpb)`."""
    found = list(row.get("eval", {}).items())
    if "val_loss" in row:
        found.insert(0, ("val", {"loss": row["val_loss"], "bpb": row.get("val_bpb")}))
    shown = ""
    for name, result in found:
        bpb = f" ({result['bpb']:.4f} bpb)" if result.get("bpb") is not None else ""
        shown += f" {name} {result['loss']:.4f}{bpb}"
    return shown


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
    if args.seed is not None:  # another init and batch order; the same eval windows
        if cfg.eval_seed is None:
            cfg.eval_seed = cfg.seed
        cfg.seed = cfg.shuffle_seed = args.seed
    if args.eval_interval is not None:
        if args.eval_interval < 0:
            raise TrainConfigError(f"--eval-interval must be at least 0, got {args.eval_interval}")
        cfg.eval_interval = args.eval_interval
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
