"""How the model and its AdamW state are spread over the ranks, as the ZeRO paper's stages.

- `ddp`: every rank holds everything; DDP averages the gradients with an all-reduce.
- `zero1`: parameters and gradients as `ddp`, the AdamW state split between the ranks
  (`ZeroRedundancyOptimizer`: each rank steps its share of the parameters, then broadcasts it).
- `fsdp`: parameters, gradients and AdamW state split (FSDP2 `fully_shard` on each block and on
  the whole model): a block's parameters are all-gathered for its forward and its backward, and
  its gradients reduce-scattered.

A checkpoint holds the full state whatever the sharding, in the format one process writes
(`model.state_dict()`, `optimizer.state_dict()`), so any run reads it: `sample`, `export-hf`, or a
resume under another sharding or number of ranks.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn as nn

from trainer.config import TrainConfigError


def check_sharding(sharding: str, device: torch.device) -> None:
    """Stop with one line when this torch or device cannot run `sharding`."""
    if sharding == "ddp":
        return
    if not torch.distributed.is_available():
        raise TrainConfigError(f"sharding: {sharding} needs torch.distributed, not in this torch")
    if device.type not in ("cuda", "cpu"):
        raise TrainConfigError(
            f"sharding: {sharding} runs on cuda (nccl) or the cpu (gloo), not on {device.type}"
        )
    if sharding == "fsdp":
        try:
            from torch.distributed.fsdp import fully_shard  # noqa: F401
        except ImportError:
            raise TrainConfigError(
                f"sharding: fsdp needs FSDP2 (torch.distributed.fsdp.fully_shard, torch 2.6 or "
                f"later); torch {torch.__version__} has none: use zero1 or ddp"
            ) from None


def shard_model(model: nn.Module, sharding: str) -> None:
    """Under `fsdp`, split the model's parameters between the ranks, in place."""
    if sharding != "fsdp":
        return
    from torch.distributed.fsdp import fully_shard

    for block in model.transformer.h:
        fully_shard(block)
    fully_shard(model)  # the rest: embeddings (tied to the head) and the last LayerNorm


def build_optimizer(model, cfg, sharding: str, fused: bool) -> torch.optim.Optimizer:
    """The model's AdamW, under `zero1` split between the ranks."""
    adamw = model.optimizer(cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), fused=fused)
    if sharding != "zero1":
        return adamw
    from torch.distributed.optim import ZeroRedundancyOptimizer

    groups = [
        {"params": g["params"], "weight_decay": g["weight_decay"]} for g in adamw.param_groups
    ]
    takes = inspect.signature(type(adamw)).parameters  # defaults hold some it does not take
    defaults = {k: v for k, v in adamw.defaults.items() if k in takes and k != "weight_decay"}
    return ZeroRedundancyOptimizer(groups, optimizer_class=type(adamw), **defaults)


def _names(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The parameters' names in the optimizer's order: `optimizer.state_dict()` numbers them so."""
    name = {id(p): n for n, p in model.named_parameters()}
    return [name[id(p)] for group in optimizer.param_groups for p in group["params"]]


def full_state(model: nn.Module, optimizer, sharding: str, master: bool) -> tuple[dict, dict]:
    """The model's and the optimizer's full state on the CPU, as one process would save them,
    on the master rank (empty dicts elsewhere). Every rank must call it: it gathers."""
    if sharding == "zero1":
        optimizer.consolidate_state_dict(to=0)
    if sharding != "fsdp":
        return (model.state_dict(), optimizer.state_dict()) if master else ({}, {})
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    full = StateDictOptions(full_state_dict=True, cpu_offload=True)
    weights = get_model_state_dict(model, options=full)
    named = get_optimizer_state_dict(model, optimizer, options=full)
    if not master:
        return {}, {}
    index = {n: i for i, n in enumerate(_names(model, optimizer))}
    state = {index[n]: s for n, s in named["state"].items()}
    groups = [{**g, "params": [index[n] for n in g["params"]]} for g in named["param_groups"]]
    return weights, {"state": state, "param_groups": groups}


def load_full_state(model: nn.Module, optimizer, sharding: str, weights: dict, optim: dict) -> None:
    """Load a full state, as `full_state` gives it, into a model and optimizer of any sharding."""
    if sharding != "fsdp":
        model.load_state_dict(weights)
        optimizer.load_state_dict(optim)  # ZeroRedundancyOptimizer keeps its share of it
        return
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    names = _names(model, optimizer)
    named = {
        "state": {names[i]: s for i, s in optim["state"].items()},
        "param_groups": [
            {**g, "params": [names[i] for i in g["params"]]} for g in optim["param_groups"]
        ],
    }
    full = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, weights, options=full)
    set_optimizer_state_dict(model, optimizer, named, options=full)


def rank_bytes(model: nn.Module, optimizer) -> tuple[int, int]:
    """The bytes of parameters and of optimizer state this rank holds."""

    def local(t: torch.Tensor) -> torch.Tensor:
        return t.to_local() if hasattr(t, "to_local") else t  # an FSDP DTensor: its shard

    inner = getattr(optimizer, "optim", optimizer)  # ZeroRedundancyOptimizer: this rank's AdamW
    params = sum(local(p).nbytes for p in model.parameters())
    state = sum(
        local(t).nbytes for s in inner.state.values() for t in s.values() if torch.is_tensor(t)
    )
    return params, state
