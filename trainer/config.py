"""The trainer's settings: one dataclass read from YAML (configs/trainer/*.yaml), checked on load.

Unknown keys and wrong types stop at once with one line naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from corpus.errors import CorpusError
from trainer.data import MODES
from trainer.model import GPTConfig

SCHEDULES = ("cosine", "wsd")
DTYPES = ("auto", "fp32", "bf16", "fp16")
SHARDINGS = ("ddp", "zero1", "fsdp")


class TrainConfigError(CorpusError):
    pass


@dataclass
class TrainConfig:
    model: GPTConfig = field(default_factory=GPTConfig)
    batch_size: int = 8  # sequences per micro-batch per rank
    seq_len: int = 1024
    total_batch_tokens: int = 524_288  # tokens per optimizer step, over all ranks and micro-batches
    max_steps: int = 1000
    lr: float = 6e-4
    min_lr_ratio: float = 0.1  # the decay (cosine or wsd) ends at lr * this
    warmup_steps: int = 100
    schedule: str = "cosine"  # after warmup: cosine, or wsd (constant, then a linear decay)
    decay_fraction: float = 0.2  # wsd: the last fraction of max_steps, decaying to the floor
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # 0: off
    eval_interval: int = 250  # steps between val losses (and at the last step); 0: never
    eval_tokens: int = 1_048_576  # val tokens per evaluation, the same ones each time
    log_interval: int = 1
    checkpoint_interval: int = 1000  # steps between checkpoints (and at the end); 0: end only
    keep_checkpoints: int = 0  # the latest K stay on disk, older ones are deleted; 0: all
    seed: int = 1337  # of the model's init and the train batches
    eval_seed: int | None = None  # of the windows evaluated (default: seed)
    compile: bool = True  # torch.compile, on CUDA only
    dtype: str = "auto"  # auto: bf16 on CUDA that has it, else fp16 (grad scaler); CPU: fp32
    sharding: str = "ddp"  # under torchrun: ddp, zero1 (AdamW state split), fsdp (all split)
    doc_masking: bool = False  # attention stays within a document; positions restart at each
    grad_checkpointing: bool = False  # recompute each block in backward: less memory, more work
    shuffle_seed: int = 0  # of each epoch's window permutation (or shard order, contiguous)
    loader: str = "permuted"  # permuted | contiguous | random: how train windows are drawn

    def check(self) -> None:
        m = self.model
        positive = {
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "total_batch_tokens": self.total_batch_tokens,
            "max_steps": self.max_steps,
            "log_interval": self.log_interval,
            "model.n_layer": m.n_layer,
            "model.n_head": m.n_head,
            "model.n_embd": m.n_embd,
            "model.vocab_size": m.vocab_size,
            "model.block_size": m.block_size,
        }
        for name, value in positive.items():
            if value < 1:
                raise TrainConfigError(f"{name} must be at least 1, got {value}")
        if m.n_embd % m.n_head:
            raise TrainConfigError(f"model.n_embd ({m.n_embd}) must be a multiple of n_head")
        if self.seq_len > m.block_size:
            raise TrainConfigError(
                f"seq_len {self.seq_len} exceeds model.block_size {m.block_size}"
            )
        if not 0.0 <= self.min_lr_ratio <= 1.0 or self.lr <= 0:
            raise TrainConfigError("lr must be positive and min_lr_ratio in [0, 1]")
        if (
            min(self.warmup_steps, self.eval_interval, self.eval_tokens, self.checkpoint_interval)
            < 0
        ):
            raise TrainConfigError("intervals, warmup_steps and eval_tokens must be at least 0")
        choices = {"loader": MODES, "schedule": SCHEDULES, "dtype": DTYPES, "sharding": SHARDINGS}
        for name, known in choices.items():
            if getattr(self, name) not in known:
                raise TrainConfigError(
                    f"{name} must be one of {', '.join(known)}, got {getattr(self, name)!r}"
                )
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise TrainConfigError(f"decay_fraction must be in [0, 1], got {self.decay_fraction}")
        if self.keep_checkpoints < 0:
            raise TrainConfigError(
                f"keep_checkpoints must be at least 1 (or 0: keep all), got {self.keep_checkpoints}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict, where: str = "config") -> TrainConfig:
        raw = dict(raw)
        model = _build(GPTConfig, raw.pop("model", {}) or {}, f"{where}: model")
        config = _build(cls, raw, where, model=model)
        try:
            config.check()
        except TrainConfigError as exc:
            raise TrainConfigError(f"{where}: {exc}") from None
        return config


def _build(cls, raw, where: str, **given):
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{where} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(given)
    for key, value in raw.items():
        if key not in fields or key in given:
            known = ", ".join(k for k in fields if k not in given)
            raise TrainConfigError(f"{where}: unknown key '{key}' (known keys: {known})")
        kind = type(fields[key].default)
        if fields[key].default is None:  # an optional int (eval_seed)
            kind = int if value is not None else type(None)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not kind:
            raise TrainConfigError(f"{where}.{key} must be {kind.__name__}, got {value!r}")
        values[key] = value
    return cls(**values)


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise TrainConfigError(f"no such trainer config: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    return TrainConfig.from_dict(raw, str(path))
