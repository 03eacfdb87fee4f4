"""A Bloom filter of a part's document ids, kept in the part's Parquet footer.

`corpus trace RUN ID` looks for one id in every stage of a run. Reading each part's id column
would cost a pass over the corpus; instead each published part carries a filter of its ids
(about 10 bits per id, 1% false positives), read from the footer alone, and only the parts
whose filter may hold the id are opened.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpus import storage
from corpus.errors import CorruptPartError, DatasetError

KEY = b"corpus.ids.bloom"
HASHES = 7
BITS_PER_ID = 10


def _positions(ids: list[str], bits: int) -> np.ndarray:
    digests = b"".join(hashlib.blake2b(i.encode(), digest_size=16).digest() for i in ids)
    pairs = np.frombuffer(digests, dtype="<u8").reshape(-1, 2)
    h1, h2 = pairs[:, 0:1], pairs[:, 1:2] | np.uint64(1)
    steps = np.arange(HASHES, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):  # the hashes wrap around 2**64, as they should
        return ((h1 + steps * h2) % np.uint64(bits)).ravel()


def build(ids: list[str]) -> bytes:
    """The filter of `ids`: 4 bytes of size in bits, then the bits."""
    bits = max(64, -(-len(ids) * BITS_PER_ID // 64) * 64)
    array = np.zeros(bits // 8, dtype=np.uint8)
    if ids:
        pos = _positions(ids, bits)
        np.bitwise_or.at(array, pos >> np.uint64(3), (1 << (pos & np.uint64(7))).astype(np.uint8))
    return bits.to_bytes(4, "little") + array.tobytes()


def may_hold(bloom: bytes, doc_id: str) -> bool:
    bits = int.from_bytes(bloom[:4], "little")
    array = np.frombuffer(bloom, dtype=np.uint8, offset=4)
    pos = _positions([doc_id], bits)
    return bool(np.all(array[pos >> np.uint64(3)] & (1 << (pos & np.uint64(7))).astype(np.uint8)))


def footer_entry(table: pa.Table) -> dict[bytes, bytes]:
    """The Parquet footer entry holding the filter of `table`'s ids (base64: footer values are
    text to other readers)."""
    return {KEY: base64.b64encode(build(table.column("id").to_pylist()))}


def without_filter(table: pa.Table) -> pa.Table:
    """`table` as read, less a filter that describes the part, not what is made of it."""
    metadata = table.schema.metadata
    if not metadata or KEY not in metadata:
        return table
    rest = {k: v for k, v in metadata.items() if k != KEY}
    return table.replace_schema_metadata(rest or None)


def part_may_hold(path: str | Path, doc_id: str) -> bool:
    """False only if the part at `path` carries a filter and the filter rules `doc_id` out."""
    try:
        with storage.open_input(path) as source:
            metadata = pq.read_metadata(source).metadata or {}
    except FileNotFoundError:
        raise DatasetError(f"{storage.show(path)}: part is missing") from None
    except (pa.ArrowException, OSError) as exc:
        raise CorruptPartError(
            f"{storage.show(path)}: not a readable Parquet part ({exc})"
        ) from None
    bloom = metadata.get(KEY)
    return True if bloom is None else may_hold(base64.b64decode(bloom), doc_id)
