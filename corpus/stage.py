"""The stage contract: a stage's work on one Arrow table, no Ray and no files in it (DESIGN §4).

`pipelines/` turns these results into parts, commit records and stats; a filter only decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class StageResult:
    """What a stage made of one batch: rows kept, rows rejected (with `reason`), its counters."""

    kept: pa.Table
    rejected: pa.Table  # the rejected rows with `reason` (and `error`) columns appended
    stats: dict = field(default_factory=dict)  # stage-specific counters, summed across batches


def decide(table: pa.Table, reasons: Sequence[str | None] | pa.Array) -> StageResult:
    """Split `table` by per-row reasons: None keeps the row, a reason names why it is dropped."""
    reasons = pa.array(reasons, type=pa.string())
    if len(reasons) != table.num_rows:
        raise ValueError(f"{len(reasons)} reasons for {table.num_rows} rows")
    dropped = pc.is_valid(reasons)
    kept = table.filter(pc.invert(dropped))
    rejected = table.filter(dropped)
    rejected = rejected.append_column("reason", reasons.filter(dropped))
    rejected = rejected.append_column("error", pa.nulls(rejected.num_rows, pa.string()))
    return StageResult(kept=kept, rejected=rejected)


def add_counters(total: dict, more: dict) -> dict:
    """Add the counters in `more` into `total`, nested dicts too; returns `total`. A counter
    named `peak_*` (a task's peak memory) takes the larger value instead."""
    for key, value in more.items():
        if isinstance(value, dict):
            add_counters(total.setdefault(key, {}), value)
        elif key.startswith("peak_"):
            total[key] = max(total.get(key, value), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def text_bytes(table: pa.Table) -> int:
    """UTF-8 bytes of the `text` column."""
    if table.num_rows == 0 or "text" not in table.column_names:
        return 0
    return pc.sum(pc.binary_length(table.column("text"))).as_py() or 0


def reason_counts(rejected: pa.Table) -> dict[str, int]:
    """Rejected rows per reason."""
    if rejected.num_rows == 0:
        return {}
    counts = pc.value_counts(rejected.column("reason").combine_chunks())
    return {c["values"].as_py(): c["counts"].as_py() for c in counts}


def result_stats(result: StageResult, table: pa.Table | None) -> dict:
    """A batch's stats: documents and text bytes in, out and rejected (by reason), and its
    counters; `table` is what a map read (None for a source: it read what it kept and
    rejected)."""
    stats = {
        "docs_out": result.kept.num_rows,
        "bytes_out": text_bytes(result.kept),
        "docs_rejected": result.rejected.num_rows,
        "rejected": reason_counts(result.rejected),
    }
    if table is None:  # a source: what it read is what it kept plus what it rejected
        stats["docs_in"] = result.kept.num_rows + result.rejected.num_rows
        stats["bytes_in"] = stats["bytes_out"] + text_bytes(result.rejected)
    else:
        stats["docs_in"], stats["bytes_in"] = table.num_rows, text_bytes(table)
    if result.stats:
        stats["counters"] = dict(result.stats)
    return stats
