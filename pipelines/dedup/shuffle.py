"""What travels between dedup's phases: document numbers, the destinations rows are shuffled
to, and the tables of edges and signatures.

Documents are numbered by position, gid = (part ordinal << 32) | row, so every number, cluster and
choice depends on the input alone, never on the executor or the number of workers.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from filters.dedup.lsh import mix64
from pipelines.phases import read_files

ORD_SHIFT = 32
MAX_PARTITIONS = 256  # the default's ceiling: each shuffle task writes a row group per partition
ROW_MASK = np.int64((1 << ORD_SHIFT) - 1)

# the numbered destinations of a shuffle (the str of Dest(PARTITION, 3) is "p3")
PARTITION = "p"  # a shuffle partition, by key or by node
PART = "o"  # an input part, by ordinal
SIGS = "s"  # a partition's signatures, for verification
PAIRS = "v"  # a partition's candidate pairs, on their way to their signatures
SIG_GROUP_ROWS = 1 << 15  # rows of a row group of pairs with a signature each (~16 MB)


def partition_count(driver, total: int, per_partition: int) -> int:
    """The shuffle partitions when none are given: one per `per_partition` rows and at least two
    per worker, at most MAX_PARTITIONS. The output does not depend on it (tests check)."""
    workers = getattr(driver.executor, "workers", 1)
    least = 2 * workers if workers > 1 else 1
    return min(MAX_PARTITIONS, max(math.ceil(total / per_partition), least))


def gid_of(ordinal: int, row: np.ndarray) -> np.ndarray:
    return (np.int64(ordinal) << np.int64(ORD_SHIFT)) + row


def gids(ordinal: int, n: int) -> np.ndarray:
    return gid_of(ordinal, np.arange(n, dtype=np.int64))


def ordinal_of(gid: np.ndarray) -> np.ndarray:
    return gid >> np.int64(ORD_SHIFT)


def node_partition(node: np.ndarray, partitions: int) -> np.ndarray:
    return (mix64(node.astype(np.uint64)) % np.uint64(partitions)).astype(np.int64)


def key_partition(k1: np.ndarray, partitions: int) -> np.ndarray:
    return (k1 % np.uint64(partitions)).astype(np.int64)


def write_split(out, table: pa.Table, target: np.ndarray, kind: str) -> None:
    """Write the rows of `table` to destinations `Dest(kind, target[i])`, in row order: one file
    for all of them (read back with `shuffled`)."""
    if table.num_rows:
        out.write_split(kind, table, target)


def write_edges(out, a: np.ndarray, b: np.ndarray, partitions: int, both: bool) -> None:
    """Edges (a, b) to the partitions of their first node; `both` adds (b, a)."""
    if both:
        a, b = np.concatenate([a, b]), np.concatenate([b, a])
    table = pa.table({"a": pa.array(a, pa.int64()), "b": pa.array(b, pa.int64())})
    write_split(out, table, node_partition(a, partitions), PARTITION)


def edges_of(files: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    table = read_files(files)
    if table is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return table.column("a").to_numpy(), table.column("b").to_numpy()


def sig_type(num_perm: int) -> pa.DataType:
    """A signature column's type: `num_perm` uint32 values a row."""
    return pa.list_(pa.uint32(), num_perm)


def signature_table(rows: np.ndarray, sigs: np.ndarray, name: str) -> pa.Table:
    flat = pa.array(sigs.astype(np.uint32).ravel(), pa.uint32())
    return pa.table(
        {
            name: pa.array(rows, pa.int64()),
            "sig": pa.FixedSizeListArray.from_arrays(flat, sigs.shape[1]),
        }
    )


def signature_matrix(column, num_perm: int) -> np.ndarray:
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return values.flatten().to_numpy().reshape(-1, num_perm)
