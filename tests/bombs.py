"""Decompression bombs for tests: files of a few hundred KB or MB that inflate to gigabytes.

Each file holds `head`, then `size` bytes of filler (whole pieces: 128 KiB for zstd, 4 MiB for
gzip), then `tail`, so a bomb can sit inside a JSON line, an XML attribute or a WARC record. They
are written without compressing gigabytes: the zstd one is hand-made RLE blocks (4 bytes for each
128 KiB), the gzip one repeats the deflate bytes of one fully flushed piece, whose output does not
depend on what came before it.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import zstandard

ZSTD_BLOCK = 128 << 10  # the largest zstd block
GZIP_PIECE = 4 << 20
FILL = b"abcdefghijklmnop"  # a short period inflates a few times faster than one repeated byte


def zstd_bomb(path: Path, head: bytes, size: int, tail: bytes, window_log: int = 17) -> int:
    """Write the bomb (three zstd frames: head, `size` bytes of "a", tail); return its size.
    `window_log` is the window its frame declares: a decoder keeps that much of the output."""
    assert size % ZSTD_BLOCK == 0, "the size is a whole number of blocks"
    blocks = size // ZSTD_BLOCK
    rle = ((ZSTD_BLOCK << 3) | (1 << 1)).to_bytes(3, "little") + b"a"
    last = ((ZSTD_BLOCK << 3) | (1 << 1) | 1).to_bytes(3, "little") + b"a"
    # frame header: no checksum, no content size, then the window (2 ** (10 + exponent))
    window = bytes([(window_log - 10) << 3])
    frame = b"\x28\xb5\x2f\xfd" + b"\x00" + window + rle * (blocks - 1) + last
    cctx = zstandard.ZstdCompressor()
    path.write_bytes(cctx.compress(head) + frame + cctx.compress(tail))
    return len(head) + size + len(tail)


def gzip_bomb(path: Path, head: bytes, size: int, tail: bytes) -> int:
    """Write the bomb (one gzip member: head, `size` bytes of FILL, tail); return its size."""
    piece = (FILL * (GZIP_PIECE // len(FILL) + 1))[:GZIP_PIECE]
    assert size % GZIP_PIECE == 0 and size >= 2 * GZIP_PIECE, "the size is whole pieces"
    count = size // GZIP_PIECE
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    first = deflate.compress(head) + deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH)
    steady = deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same each time
    end = deflate.compress(tail) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(piece, crc)
    crc = zlib.crc32(tail, crc)
    total = len(head) + size + len(tail)
    final = b"\x03\x00"  # an empty last block, then the gzip trailer: CRC-32 and size mod 2**32
    trailer = struct.pack("<II", crc, total & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(first)
        for _ in range(count - 1):
            f.write(steady)
        f.write(end + final + trailer)
    return total
