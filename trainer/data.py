"""The loader: token shards memory-mapped, read as one stream in rank-strided windows.

The shards of a split (ours, `train_000000.bin` ..., or llm.c's `fineweb_train_000001.bin` ...)
are laid end to end into one stream. A global batch is `world_size * batch_size * seq_len`
consecutive tokens (plus one for the last target); rank r reads the r-th slice of it, so ranks
never overlap and together they read every token once per epoch. Documents were already shuffled
when the shards were written; after the first epoch the shard order is permuted by the seed.
The loader's whole state is (epoch, position, batches) and goes into the checkpoint, so a
resumed run reads exactly the batches an uninterrupted one would. The position is a place in the
stream, the same on every rank, so it restores under another number of ranks too: the ranks
re-stride the stream from there.

`random` mode instead draws each sequence at a random offset (nanoGPT's `get_batch`), seeded by
(seed, rank, batch number): for evaluation on a sample, and the benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from corpus.errors import CorpusError
from corpus.shards import MANIFEST, open_shard


def find_shards(path: str | Path, split: str) -> list[Path]:
    """The shard files of `split` ("train" or "val") under `path`, in stream order: the list in
    shards.json when there is one, else every `*{split}*.bin` by name (llm.c's layout)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CorpusError(f"{path}: no such shard folder")
    manifest = path / MANIFEST
    if manifest.is_file():
        try:
            entries = json.loads(manifest.read_text())["shards"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CorpusError(f"{manifest}: unreadable ({exc})") from None
        return [path / e["name"] for e in entries if e["split"] == split]
    if (path / "_state").is_dir():
        raise CorpusError(
            f"{path}: the shard stage that writes this folder has not finished (no {MANIFEST}); "
            "run it again to complete it"
        )
    return sorted(p for p in path.glob(f"*{split}*.bin") if p.is_file())


class ShardLoader:
    def __init__(
        self,
        files: list[Path],
        batch_size: int,
        seq_len: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        random: bool = False,
        name: str = "the shards",  # in the error when they hold less than one batch
    ):
        if not files:
            raise CorpusError("no shard files to read")
        self.shards = [open_shard(f) for f in files]  # checks every header and size
        self.names = [str(f) for f in files]
        self.B, self.T = batch_size, seq_len
        self.rank, self.world = rank, world_size
        self.seed, self.random = seed, random
        self.total = sum(len(s) for s in self.shards)
        need = self.world * self.B * self.T + 1
        if self.total < need:
            raise CorpusError(
                f"{name}: {self.total:,} tokens in {len(files)} shard(s), fewer than one batch "
                f"needs ({need:,} = {self.world} rank(s) x {self.B} x {self.T} + 1); lower "
                "batch_size or seq_len, or shard more text"
            )
        self.epoch = self.position = self.batches = 0
        self._layout()

    def _layout(self) -> None:
        """The shard order of the current epoch and where each shard starts in the stream."""
        order = np.arange(len(self.shards))
        if self.epoch > 0:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(order)
        self.order = order
        sizes = np.array([len(self.shards[i]) for i in order], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])

    def _read(self, start: int, n: int) -> np.ndarray:
        """`n` tokens of the stream from `start`, across shard boundaries."""
        out = np.empty(n, dtype=np.int64)
        i = int(np.searchsorted(self.starts, start, side="right")) - 1
        done = 0
        while done < n:
            shard = self.shards[self.order[i]]
            offset = start + done - int(self.starts[i])
            take = min(n - done, len(shard) - offset)
            out[done : done + take] = shard[offset : offset + take]
            done += take
            i += 1
        return out

    def _wrap(self) -> None:
        """On to the next epoch when the rest of the stream holds no whole global batch."""
        if self.position + self.world * self.B * self.T + 1 > self.total:
            self.epoch, self.position = self.epoch + 1, 0
            self._layout()

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets, each (batch_size, seq_len) int64, on the CPU."""
        B, T = self.B, self.T
        if self.random:
            rng = np.random.default_rng([self.seed, self.rank, self.batches])
            offsets = rng.integers(0, self.total - T, size=B)
            windows = np.stack([self._read(int(o), T + 1) for o in offsets])
        else:
            start = self.position + self.rank * B * T
            windows = self._read(start, B * T + 1)
            self.position += self.world * B * T
            self._wrap()
        self.batches += 1
        if self.random:
            x, y = windows[:, :-1], windows[:, 1:]
        else:
            x, y = windows[:-1].reshape(B, T), windows[1:].reshape(B, T)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "batches": self.batches,
            "seed": self.seed,
            "files": self.names,
        }

    def load_state_dict(self, state: dict) -> None:
        if [Path(n).name for n in state["files"]] != [Path(n).name for n in self.names]:
            raise CorpusError(
                "the checkpoint was made on other shard files; cannot resume on these"
            )
        self.epoch, self.position, self.batches = (
            state["epoch"],
            state["position"],
            state["batches"],
        )
        self.seed = state["seed"]
        self._layout()
        if not self.random:
            self._wrap()  # saved under fewer ranks or a smaller batch, the epoch may end here


def count_tokens(files: list[Path]) -> int:
    """The tokens in `files`, from their checked headers."""
    return sum(len(open_shard(f)) for f in files)


def short_windows(total: int, seq_len: int) -> tuple[int, int]:
    """(count, length) of the windows a stream of `total` tokens holds: every whole `seq_len`
    window, or one shorter window when there is not even one (each needs one more token for the
    last target)."""
    if total - 1 >= seq_len:
        return (total - 1) // seq_len, seq_len
    return 1, total - 1
