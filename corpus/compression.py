"""Open plain, gzip and zstd files alike; a truncated or corrupt stream is an error, not an EOF.

zstd streams are decoded frame by frame so that a file cut inside a frame is reported (the
`zstandard` stream reader returns a short read instead), and long-window frames, as the Reddit
dumps use, are accepted.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import zstandard

from corpus.errors import CorpusError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_MAX_WINDOW = 2**31  # Pushshift/Arctic Shift dumps use windows up to 2 GiB
READ_CHUNK = 1 << 20


class CompressedInputError(CorpusError):
    """A compressed stream that is truncated or corrupt."""


class _FrameDecoder(io.RawIOBase):
    """Decode concatenated gzip members or zstd frames; raise if the input stops mid-frame."""

    def __init__(self, raw: BinaryIO, new_decoder: Callable[[], object], kind: str):
        self._raw = raw
        self._new_decoder = new_decoder
        self._kind = kind
        self._decoder = new_decoder()
        self._in_frame = False
        self._buf = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            if self._done:
                return 0
            chunk = self._raw.read(READ_CHUNK)
            if not chunk:
                self._done = True
                if self._in_frame:
                    raise CompressedInputError(f"{self._kind} stream is truncated")
                return 0
            self._buf, self._pos = self._decode(chunk), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def _decode(self, data: bytes) -> bytes:
        out = []
        while data:
            try:
                out.append(self._decoder.decompress(data))
            except (zlib.error, zstandard.ZstdError) as exc:
                raise CompressedInputError(f"{self._kind} stream is corrupt: {exc}") from None
            self._in_frame = True
            if not self._decoder.eof:
                break
            data = self._decoder.unused_data
            self._decoder = self._new_decoder()
            self._in_frame = False
        return b"".join(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_input(path: str | Path) -> BinaryIO:
    """Open a file for reading bytes, decompressing gzip or zstd (detected by magic bytes)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed with the wrapper
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith(GZIP_MAGIC):
        decoder = _FrameDecoder(raw, lambda: zlib.decompressobj(31), "gzip")
    elif head.startswith(ZSTD_MAGIC):
        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        decoder = _FrameDecoder(raw, dctx.decompressobj, "zstd")
    else:
        return raw
    return io.BufferedReader(decoder, buffer_size=READ_CHUNK)


def open_output(path: str | Path) -> BinaryIO:
    """Open a file for writing, compressed by its suffix (.zst, .gz), with deterministic bytes."""
    path = Path(path)
    raw = open(path, "wb")  # noqa: SIM115 - returned to the caller
    if path.suffix in (".zst", ".zstd"):
        # one or more worker threads give the same bytes whatever their number
        cctx = zstandard.ZstdCompressor(level=3, threads=-1)
        return cctx.stream_writer(raw, closefd=True)
    if path.suffix == ".gz":
        return _GzipOutput(raw)
    return raw


class _GzipOutput(gzip.GzipFile):
    """A gzip writer with no name or time in its header, that closes its file when closed."""

    def __init__(self, raw: BinaryIO):
        super().__init__(filename="", mode="wb", fileobj=raw, mtime=0)
        self._owned = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owned.close()
