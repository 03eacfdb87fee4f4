"""The loader: token shards memory-mapped, laid end to end into one stream, read in windows.

A window is `seq_len` tokens of the stream and the one after them (for the last target); window i
starts at token i * seq_len. The loader reads a split in one of three ways (`loader:` in the
config):

  permuted    (the default) each epoch is a seeded permutation of all the windows; the epochs
              follow one another without a gap, and a global batch is the next
              `world_size * batch_size` windows of that sequence, rank r taking the r-th
              `batch_size` of them. Every window is read once per epoch, and batches are diverse
              (windows from all over the split, not one stretch of it).
  contiguous  a global batch is the next `world_size * batch_size * seq_len` tokens of the
              stream, rank r reading the r-th slice; after the first epoch the shard order is
              permuted by the seed (the tail that holds no whole batch is skipped).
  random      each sequence at a random offset (nanoGPT's `get_batch`), seeded by (seed, rank,
              batch number): for the benchmark.

The whole state is (epoch, position, batches) and goes into the checkpoint, so a resumed run
reads exactly the batches an uninterrupted one would. The position is global (a window of the
epoch's permutation, or a token of the stream), the same on every rank, so it restores under
another number of ranks too: the ranks re-stride from there.

A permutation is a numpy array of the window indices, int32 below 2**31 windows: 40 MB for 10B
tokens at seq_len 1024, built in a fraction of a second at each epoch's start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from corpus.errors import CorpusError
from corpus.shards import MANIFEST, open_shard

MODES = ("permuted", "contiguous", "random")


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


class TokenStream:
    """Token arrays (memory-mapped shards, or a tokenized text) laid end to end in an order."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = list(arrays)
        self.total = sum(len(a) for a in self.arrays)
        self.reorder(np.arange(len(self.arrays)))

    @classmethod
    def open(cls, files: list[Path]) -> TokenStream:
        return cls([open_shard(f) for f in files])  # checks every header and size

    def reorder(self, order: np.ndarray) -> None:
        """Lay the arrays end to end in `order`."""
        self.order = order
        sizes = np.array([len(self.arrays[i]) for i in order], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])

    def read(self, start: int, out: np.ndarray) -> None:
        """Fill `out` with the tokens from `start`, across array boundaries."""
        n, done = len(out), 0
        i = int(np.searchsorted(self.starts, start, side="right")) - 1
        while done < n:
            array = self.arrays[self.order[i]]
            offset = start + done - int(self.starts[i])
            take = min(n - done, len(array) - offset)
            out[done : done + take] = array[offset : offset + take]
            done += take
            i += 1

    def windows(self, starts: np.ndarray, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets, each (len(starts), length) int64: the windows at `starts`."""
        out = np.empty((len(starts), length + 1), dtype=np.int64)
        for row, start in zip(out, starts, strict=True):
            self.read(int(start), row)
        x, y = np.ascontiguousarray(out[:, :-1]), np.ascontiguousarray(out[:, 1:])
        return torch.from_numpy(x), torch.from_numpy(y)


class ShardLoader:
    def __init__(
        self,
        files: list[Path],
        batch_size: int,
        seq_len: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        mode: str = "permuted",
        name: str = "the shards",  # in the error when they hold less than one batch
    ):
        if not files:
            raise CorpusError("no shard files to read")
        if mode not in MODES:
            raise CorpusError(f"loader must be one of {', '.join(MODES)}, got {mode!r}")
        self.stream = TokenStream.open(files)
        self.names = [str(f) for f in files]
        self.B, self.T = batch_size, seq_len
        self.rank, self.world = rank, world_size
        self.seed, self.mode = seed, mode
        self.total = self.stream.total
        self.windows = (self.total - 1) // seq_len  # whole windows in the stream
        need = self.world * self.B * self.T + 1
        if self.total < need:
            raise CorpusError(
                f"{name}: {self.total:,} tokens in {len(files)} shard(s), fewer than one batch "
                f"needs ({need:,} = {self.world} rank(s) x {self.B} x {self.T} + 1); lower "
                "batch_size or seq_len, or shard more text"
            )
        self.epoch = self.position = self.batches = 0
        self._perms: dict[int, np.ndarray] = {}
        self._layout()

    def _layout(self) -> None:
        """The shard order of the current epoch (contiguous mode permutes it after the first)."""
        order = np.arange(len(self.stream.arrays))
        if self.mode == "contiguous" and self.epoch > 0:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(order)
        self.stream.reorder(order)

    def permutation(self, epoch: int) -> np.ndarray:
        """The window indices in the order epoch `epoch` reads them (permuted mode)."""
        if epoch not in self._perms:
            dtype = np.int32 if self.windows < 2**31 else np.int64
            perm = np.arange(self.windows, dtype=dtype)
            np.random.default_rng([self.seed, epoch]).shuffle(perm)  # in place: 4 bytes a window
            self._perms = {e: p for e, p in self._perms.items() if e >= self.epoch}
            self._perms[epoch] = perm
        return self._perms[epoch]

    def _permuted_windows(self, first: int, n: int) -> np.ndarray:
        """`n` window indices from place `first` of this epoch's permutation, going on into the
        next epochs' when it ends."""
        parts, epoch = [], self.epoch
        while n > 0:
            epoch, first = epoch + first // self.windows, first % self.windows
            take = min(n, self.windows - first)
            parts.append(self.permutation(epoch)[first : first + take])
            n, first = n - take, first + take
        return np.concatenate(parts)

    def _wrap(self) -> None:
        """On to the next epoch when this one has no more to give."""
        if self.mode == "permuted":
            if self.position >= self.windows:
                self.epoch += self.position // self.windows
                self.position %= self.windows
        elif self.position + self.world * self.B * self.T + 1 > self.total:
            self.epoch, self.position = self.epoch + 1, 0
            self._layout()

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets, each (batch_size, seq_len) int64, on the CPU."""
        B, T = self.B, self.T
        if self.mode == "random":
            rng = np.random.default_rng([self.seed, self.rank, self.batches])
            x, y = self.stream.windows(rng.integers(0, self.total - T, size=B), T)
        elif self.mode == "permuted":
            windows = self._permuted_windows(self.position + self.rank * B, B)
            x, y = self.stream.windows(windows.astype(np.int64) * T, T)
            self.position += self.world * B
        else:
            tokens = np.empty(B * T + 1, dtype=np.int64)
            self.stream.read(self.position + self.rank * B * T, tokens)
            x, y = torch.from_numpy(tokens[:-1]).view(B, T), torch.from_numpy(tokens[1:]).view(B, T)
            self.position += self.world * B * T
        self._wrap()
        self.batches += 1
        return x, y

    def where(self) -> str:
        """The position in words, for the line a resumed run prints."""
        unit = "window" if self.mode == "permuted" else "token"
        return f"{unit} {self.position:,} of epoch {self.epoch}"

    def state_dict(self) -> dict:
        return {
            "mode": self.mode,
            "seq_len": self.T,
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
        mode = state.get("mode", "contiguous")  # checkpoints from before the modes: contiguous
        if mode != self.mode:
            raise CorpusError(
                f"the checkpoint's loader read {mode} windows, this config says loader: "
                f"{self.mode}; set loader: {mode} to resume"
            )
        if mode == "permuted" and state["seq_len"] != self.T:
            raise CorpusError(
                f"the checkpoint's loader read windows of {state['seq_len']} tokens, this "
                f"config has seq_len {self.T}; cannot resume in the same epoch"
            )
        self.epoch, self.position = state["epoch"], state["position"]
        self.batches, self.seed = state["batches"], state["seed"]
        self._perms = {}
        self._layout()
        if mode == "contiguous":
            self._wrap()  # saved under fewer ranks or a smaller batch, the epoch may end here


def spread_windows(total: int, seq_len: int, count: int, seed: int) -> tuple[np.ndarray, int]:
    """(starts, length) of up to `count` windows of a stream of `total` tokens, the same for the
    same arguments: the windows cut into `count` equal runs and one drawn from each by the seed,
    so they spread over the whole stream. A stream without one whole window gives one shorter
    window (each needs one more token for the last target)."""
    windows = (total - 1) // seq_len
    if windows == 0:
        return np.zeros(1, dtype=np.int64), total - 1
    count = min(count, windows)
    edges = np.arange(count + 1, dtype=np.int64) * windows // count
    offsets = np.random.default_rng([seed, windows, count]).integers(0, edges[1:] - edges[:-1])
    return (edges[:-1] + offsets) * seq_len, seq_len
