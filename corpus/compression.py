"""Open plain, gzip and zstd files alike; a truncated or corrupt stream is an error, not an EOF.

zstd streams are decoded frame by frame so that a file cut inside a frame is reported (the
`zstandard` stream reader returns a short read instead).

Decompression is bounded: one step inflates at most about `READ_CHUNK` bytes whatever the input,
so a gzip or zstd bomb (a few MB that expand to tens of GB) costs a reader time, not memory; the
readers cap what they keep of one line, row or document and reject the rest as `too_large`.
A zstd decoder also holds the last window of output, as large as the frame declares: windows
over 128 MiB (zstd's own default limit) are refused unless the caller allows more, as the Reddit
reader does for the Pushshift / Arctic Shift dumps (2 GiB windows, so up to 2 GiB of memory).
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import BinaryIO

import zstandard

from corpus import storage
from corpus.errors import CorpusError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_MAX_WINDOW = 128 << 20  # what `zstd -d` allows without --memory
ZSTD_LONG_WINDOW = 2**31  # Pushshift/Arctic Shift dumps use windows up to 2 GiB
READ_CHUNK = 1 << 20
ZSTD_BLOCKS_PER_STEP = 8  # a zstd block decodes to at most 128 KiB: 8 make one READ_CHUNK


class CompressedInputError(CorpusError):
    """A compressed stream that is truncated or corrupt."""


class _Decoder(io.RawIOBase):
    """A raw stream of decompressed bytes; `_step()` gives the next bounded piece."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._buf = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            if self._done:
                return 0
            self._buf, self._pos = self._step(), 0
            self._done = not self._buf
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def _step(self) -> bytes:
        """The next decompressed bytes (at most about READ_CHUNK); b"" at the end of the input."""
        raise NotImplementedError

    def close(self) -> None:
        self._raw.close()
        super().close()


class _GzipDecoder(_Decoder):
    """Concatenated gzip members; zlib caps each step's output itself (`max_length`)."""

    def __init__(self, raw: BinaryIO):
        super().__init__(raw)
        self._inflater = zlib.decompressobj(31)
        self._pending = b""  # compressed bytes read but not yet inflated
        self._in_member = False

    def _step(self) -> bytes:
        while True:
            if not self._pending:
                self._pending = self._raw.read(READ_CHUNK)
                if not self._pending:
                    out = self._inflate()  # output a long match left in the inflater
                    if not out and self._in_member:
                        raise CompressedInputError("gzip stream is truncated")
                    return out
            out = self._inflate()
            if out:
                return out

    def _inflate(self) -> bytes:
        try:
            out = self._inflater.decompress(self._pending, READ_CHUNK)
        except zlib.error as exc:
            raise CompressedInputError(f"gzip stream is corrupt: {exc}") from None
        self._in_member = self._in_member or bool(self._pending)
        if self._inflater.eof:
            self._pending = self._inflater.unused_data
            self._inflater = zlib.decompressobj(31)
            self._in_member = False
        else:
            self._pending = self._inflater.unconsumed_tail
        return out


class _ZstdDecoder(_Decoder):
    """Concatenated zstd frames (skippable ones too), fed to the decoder a few blocks at a time.

    zstandard's decoder has no cap on its output, so the input is cut by reading the frame and
    block headers (RFC 8878), which give every block's compressed size in the clear: a step feeds
    at most ZSTD_BLOCKS_PER_STEP blocks, each of which decodes to at most 128 KiB.
    """

    def __init__(self, raw: BinaryIO, max_window: int):
        super().__init__(raw)
        self._max_window = max_window
        self._dctx = zstandard.ZstdDecompressor(max_window_size=max_window)
        self._decoder = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = b""
        self._at = 0  # self._pending[:self._at] has been fed to the decoder
        self._skip = 0  # bytes of the current header or block still to feed before the next one
        self._next = "frame"  # what the next header is: "frame", "block" or "checksum"
        self._checksum = False  # whether the current frame ends with a 4-byte checksum

    def _step(self) -> bytes:
        while True:
            end = self._cut()
            if end > self._at:
                piece = memoryview(self._pending)[self._at : end]
                self._at = end
                out = self._decode(piece)
                if out:
                    return out
                continue
            more = self._raw.read(READ_CHUNK)
            rest = self._pending[self._at :]
            if not more:
                if rest:  # a header cut short: the decoder says whether it is also corrupt
                    self._decode(rest)
                if self._in_frame or rest:
                    raise CompressedInputError("zstd stream is truncated")
                return b""
            self._pending, self._at = rest + more, 0

    def _cut(self) -> int:
        """How far into self._pending the decoder may be fed: at most ZSTD_BLOCKS_PER_STEP blocks,
        and never into a header that is not all there yet."""
        data, pos, end, blocks = self._pending, self._at, len(self._pending), 0
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                pos += step
                self._skip -= step
            elif self._next == "checksum":
                self._skip, self._next = (4 if self._checksum else 0), "frame"
            elif self._next == "block":
                if blocks == ZSTD_BLOCKS_PER_STEP or end - pos < 3:
                    break
                header = int.from_bytes(data[pos : pos + 3], "little")
                kind, size = (header >> 1) & 3, header >> 3
                self._skip = 3 + (1 if kind == 1 else size)  # an RLE block holds one byte
                self._next = "checksum" if header & 1 else "block"
                blocks += 1
            else:
                if end - pos < 8:
                    break
                magic = int.from_bytes(data[pos : pos + 4], "little")
                if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame: magic, size, bytes
                    self._skip = 8 + int.from_bytes(data[pos + 4 : pos + 8], "little")
                elif data[pos : pos + 4] == ZSTD_MAGIC:
                    self._check_window(data[pos + 4], data[pos + 5])
                    self._skip, self._checksum = _zstd_frame_header_size(data[pos + 4])
                    self._next = "block"
                else:
                    return end  # not zstd: the decoder reports the corruption
        return pos

    def _check_window(self, descriptor: int, window_byte: int) -> None:
        if descriptor & 0x20:
            return  # a single-segment frame: its window is its size, which zstandard checks
        log = 10 + (window_byte >> 3)
        window = (1 << log) + ((1 << log) >> 3) * (window_byte & 7)
        if window > self._max_window:
            raise CompressedInputError(
                f"zstd frame needs a {window >> 20} MiB window, over the "
                f"{self._max_window >> 20} MiB allowed here (recompress it without --long)"
            )

    def _decode(self, data) -> bytes:
        out = []
        while data:
            try:
                out.append(self._decoder.decompress(data))
            except zstandard.ZstdError as exc:
                raise CompressedInputError(f"zstd stream is corrupt: {exc}") from None
            self._in_frame = True
            if not self._decoder.eof:
                break
            data = self._decoder.unused_data
            self._decoder = self._dctx.decompressobj()
            self._in_frame = False
        return b"".join(out)


def _zstd_frame_header_size(descriptor: int) -> tuple[int, bool]:
    """(bytes from the magic number to the first block, whether a checksum ends the frame)."""
    single_segment = descriptor & 0x20
    content_size = (0, 2, 4, 8)[descriptor >> 6] or (1 if single_segment else 0)
    dictionary_id = (0, 1, 2, 4)[descriptor & 3]
    window = 0 if single_segment else 1
    return 4 + 1 + window + dictionary_id + content_size, bool(descriptor & 4)


def open_input(path: str | Path, max_window: int = ZSTD_MAX_WINDOW) -> BinaryIO:
    """Open a file for reading bytes, decompressing gzip or zstd (detected by magic bytes);
    `max_window` is the largest zstd window accepted (the memory the decoder may hold)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed with the wrapper
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith(GZIP_MAGIC):
        decoder: _Decoder = _GzipDecoder(raw)
    elif head.startswith(ZSTD_MAGIC):
        decoder = _ZstdDecoder(raw, max_window)
    else:
        return raw
    return io.BufferedReader(decoder, buffer_size=READ_CHUNK)


def open_span(path: str | Path, start: int, end: int | None) -> BinaryIO:
    """Bytes [start, end) of an uncompressed file, read as a file of their own (one on an object
    store is read by ranged requests, never fetched whole)."""
    if storage.is_remote(path):
        raw = storage.open_input(path)
        end = raw.size() if end is None else end
    else:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed with the wrapper
    raw.seek(start)
    if end is None:
        return raw
    return io.BufferedReader(_Span(raw, end - start), buffer_size=READ_CHUNK)


class _Span(io.RawIOBase):
    """The next `size` bytes of `raw`, then end of file."""

    def __init__(self, raw: BinaryIO, size: int):
        self.raw, self.left = raw, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            return 0
        data = self.raw.read(min(len(buffer), self.left))
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


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
