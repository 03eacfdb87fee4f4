"""The token shard format (DESIGN §8), shared with llm.c and modded-nanogpt: a contract, kept exact.

A shard is a 1024-byte header of 256 little-endian int32 followed by the tokens:

    header[0]  magic     20240520 (tokens are uint16) or 20240801 (tokens are uint32)
    header[1]  version   1 with 20240520, 7 with 20240801
    header[2]  count     number of tokens after the header
    header[3:] zero

uint16 is used whenever every token id fits in 16 bits (a vocabulary of at most 65,536), so
llm.c's and modded-nanogpt's loaders read our shards unchanged; a larger vocabulary gives uint32.
Every document in a shard is preceded by the end-of-text token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.errors import CorpusError

HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
MAGIC_UINT16, VERSION_UINT16 = 20240520, 1
MAGIC_UINT32, VERSION_UINT32 = 20240801, 7
FORMATS = {  # magic -> (version, token dtype)
    MAGIC_UINT16: (VERSION_UINT16, np.dtype("<u2")),
    MAGIC_UINT32: (VERSION_UINT32, np.dtype("<u4")),
}
MANIFEST = "shards.json"


class ShardError(CorpusError):
    """A shard file that does not follow the format: wrong magic, version or size."""


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """The narrowest token type that holds every id of a vocabulary of `vocab_size`."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
    if vocab_size <= 1 << 16:
        return np.dtype("<u2")
    if vocab_size <= 1 << 32:
        return np.dtype("<u4")
    raise ValueError(f"a vocabulary of {vocab_size} does not fit in 32-bit tokens")


def magic_for(dtype: np.dtype) -> tuple[int, int]:
    """(magic, version) for tokens of `dtype`."""
    dtype = np.dtype(dtype)
    if dtype == np.dtype("<u2"):
        return MAGIC_UINT16, VERSION_UINT16
    if dtype == np.dtype("<u4"):
        return MAGIC_UINT32, VERSION_UINT32
    raise ValueError(f"shards hold uint16 or uint32 tokens, not {dtype}")


def header_bytes(count: int, dtype: np.dtype) -> bytes:
    """The 1024-byte header of a shard holding `count` tokens of `dtype`."""
    if not 0 <= count < 1 << 31:
        raise ValueError(f"a shard holds 0 to 2**31-1 tokens (the count is an int32), got {count}")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0], header[1] = magic_for(dtype)
    header[2] = count
    return header.tobytes()


@dataclass(frozen=True)
class ShardHeader:
    path: str
    magic: int
    version: int
    count: int
    dtype: np.dtype

    @property
    def token_bytes(self) -> int:
        return self.count * self.dtype.itemsize


def read_header(path: str | Path) -> ShardHeader:
    """Read and check a shard's header and size; a bad file is a one-line ShardError."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(HEADER_BYTES)
    except FileNotFoundError:
        raise ShardError(f"{path}: no such shard file") from None
    except IsADirectoryError:
        raise ShardError(f"{path}: is a folder, not a shard file") from None
    if len(raw) < HEADER_BYTES:
        raise ShardError(f"{path}: {size} bytes, too short for the {HEADER_BYTES}-byte header")
    header = np.frombuffer(raw, dtype="<i4")
    magic, version, count = (int(x) for x in header[:3])
    if magic not in FORMATS:
        raise ShardError(
            f"{path}: bad magic {magic} (expected {MAGIC_UINT16} for uint16 or {MAGIC_UINT32} "
            "for uint32 tokens); not a token shard"
        )
    expected_version, dtype = FORMATS[magic]
    if version != expected_version:
        raise ShardError(
            f"{path}: version {version} with magic {magic} (expected {expected_version})"
        )
    if count < 0:
        raise ShardError(f"{path}: negative token count {count} in the header")
    expected = HEADER_BYTES + count * dtype.itemsize
    if size != expected:
        raise ShardError(
            f"{path}: {size} bytes, but the header's {count} {dtype.name} tokens need {expected}; "
            "the shard is truncated or has trailing bytes"
        )
    return ShardHeader(str(path), magic, version, count, dtype)


def open_shard(path: str | Path) -> np.ndarray:
    """The tokens of a checked shard, memory-mapped read-only (no copy)."""
    header = read_header(path)
    if header.count == 0:
        return np.zeros(0, dtype=header.dtype)
    return np.memmap(path, dtype=header.dtype, mode="r", offset=HEADER_BYTES, shape=header.count)


class ShardWriter:
    """Writes one shard under a temporary name and renames it into place when closed cleanly,
    so a shard on disk is always whole. The header's count is filled in at the end."""

    def __init__(self, path: str | Path, dtype: np.dtype, durable: bool = True):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        magic_for(self.dtype)  # checks the type
        self.durable = durable
        self.count = 0
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._file.write(b"\0" * HEADER_BYTES)

    def write(self, tokens: np.ndarray) -> None:
        tokens = np.asarray(tokens)
        if tokens.size and tokens.dtype != self.dtype:
            if tokens.min() < 0 or int(tokens.max()) > np.iinfo(self.dtype).max:
                raise ValueError(f"token ids out of range for {self.dtype.name}")
            tokens = tokens.astype(self.dtype)
        self._file.write(memoryview(np.ascontiguousarray(tokens, dtype=self.dtype)).cast("B"))
        self.count += int(tokens.size)

    def close(self) -> None:
        self._file.seek(0)
        self._file.write(header_bytes(self.count, self.dtype))
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_shard(path: str | Path, tokens: np.ndarray, dtype: np.dtype | None = None) -> None:
    """Write `tokens` as one shard (of `dtype`, default the array's own type)."""
    with ShardWriter(path, dtype or np.asarray(tokens).dtype) as w:
        w.write(tokens)
