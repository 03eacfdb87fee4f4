"""The `dedup` stage's `lines` and `paragraphs` modes: spans repeated across the dataset are removed
from the documents that hold them, counted exactly.

Phases (on the executor, committed and resumed by `pipelines/phases.py`):
  spans   per part: every span's key (`filters/dedup/spans.py`), kept for `final`; each
          document's distinct keys shuffled by key
  count   per partition: the number of distinct documents holding each key, exact (sorted, no
          Bloom filter); a key in `min_docs` documents or more is sent back to the parts of
          those documents (all of them, or all but the first with `keep_first`), with its count
  final   per part: each document without its removed spans; it records how many spans and
          characters went, and where each was with the count that removed it; a document left
          with under `min_left_chars` characters is rejected as `subdoc_too_short`
Documents are numbered by position (`pipelines/dedup/shuffle.py`), so the first document of a
span, and the output, depend on the input alone: not on the executor, workers or partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus import storage
from corpus.dataset import read_part_file
from corpus.schema import conform
from corpus.stage import decide, text_bytes
from filters.dedup import spans as span_rules
from pipelines.dedup.params import DedupParams
from pipelines.dedup.shuffle import (
    PART,
    PARTITION,
    ROW_MASK,
    gid_of,
    key_partition,
    ordinal_of,
    partition_count,
    write_split,
)
from pipelines.dedup.tasks import merged_stats
from pipelines.phases import (
    Dest,
    InputPart,
    ShuffleInput,
    files_by_dest,
    input_parts,
    read_files,
    shuffled,
)

DOCS_PER_PARTITION = 20_000  # a partition holds the keys of about this many documents' spans
TOP = 25  # the most repeated spans the stage reports
REMOVED_TYPE = pa.list_(
    pa.struct([("start", pa.int64()), ("end", pa.int64()), ("docs", pa.int64())])
)


@dataclass(frozen=True)
class SpanPart:
    """spans: a part's span keys."""

    part: InputPart
    ordinal: int
    partitions: int


@dataclass(frozen=True)
class SpanCount:
    """count: one partition's (key, document) rows."""

    files: ShuffleInput


@dataclass(frozen=True)
class SpanDecide:
    """final: a part, its span keys, the removals sent to it, and the keys of the most repeated
    spans whose first document it holds (their text goes to the report)."""

    part: InputPart
    ordinal: int
    spans: list[dict]
    removals: ShuffleInput
    top: list[list[str]]  # [k1, k2] as decimal strings


def drive(stage, driver, tasks) -> tuple[list[dict], dict]:
    p: DedupParams = stage.params
    total = sum(storage.parquet_metadata(t.input_path).num_rows for t in tasks)
    n_part = p.partitions or partition_count(driver, total, DOCS_PER_PARTITION)
    parts = list(enumerate(input_parts(tasks)))
    run = driver.run_payloads
    keyed = run("spans", [SpanPart(part, o, n_part) for o, part in parts], show=True)
    key_files = files_by_dest(keyed)
    counted = run("count", [SpanCount(shuffled(key_files, PARTITION, j)) for j in range(n_part)])
    # ties broken by the key as a number, as each partition broke them: the same 25 whatever
    # the partitions
    top = sorted(
        (t for r in counted for t in r["stats"]["top"]), key=lambda t: (-t[2], int(t[0]), int(t[1]))
    )[:TOP]
    top_of: dict[int, list[list[str]]] = {}
    for k1, k2, _, first in top:
        top_of.setdefault(int(ordinal_of(np.int64(first))), []).append([k1, k2])
    removals = files_by_dest(counted)
    final = run(
        "final",
        [
            SpanDecide(
                part,
                o,
                files_by_dest([keyed[o]])[Dest("spans")],
                shuffled(removals, PART, o),
                top_of.get(o, []),
            )
            for o, part in parts
        ],
        keys=[t.key for t in tasks],
        show=True,
    )
    found = {k: v for r in final for k, v in r["stats"].pop("top_spans").items()}
    stats = merged_stats(final, keyed + counted)
    stats.setdefault("counters", {})["partitions"] = n_part
    stats["top_spans"] = [
        {"text": found[f"{k1}:{k2}"]["text"], "docs": docs, "first": found[f"{k1}:{k2}"]["id"]}
        for k1, k2, docs, _ in top
    ]
    return final, stats


# the tasks -----------------------------------------------------------------------------------


def span_keys(p: DedupParams, task: SpanPart, out) -> dict:
    texts = read_part_file(task.part.path, task.part.sha256, ["text"]).column("text").to_pylist()
    s = span_rules.keys(texts, p.mode, p.min_chars)
    k = s.keyed
    row, k1, k2 = s.doc[k], s.k1[k], s.k2[k]
    out.write(
        Dest("spans"),
        pa.table(
            {
                "row": pa.array(row, pa.int64()),
                "span": pa.array(s.index[k], pa.int32()),
                "k1": pa.array(k1, pa.uint64()),
                "k2": pa.array(k2, pa.uint64()),
            }
        ),
    )
    # each document's distinct keys: a span repeated inside one document counts once
    order = np.lexsort((k2, k1, row))
    row, k1, k2 = row[order], k1[order], k2[order]
    new = np.ones(len(row), dtype=bool)
    new[1:] = (row[1:] != row[:-1]) | (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    row, k1, k2 = row[new], k1[new], k2[new]
    rows = pa.table(
        {
            "k1": pa.array(k1, pa.uint64()),
            "k2": pa.array(k2, pa.uint64()),
            "gid": pa.array(gid_of(task.ordinal, row), pa.int64()),
        }
    )
    write_split(out, rows, key_partition(k1, task.partitions), PARTITION)
    per_doc = np.bincount(s.doc, minlength=len(texts))
    return {
        "docs_in": len(texts),
        "counters": {
            "spans": len(s.doc),
            "keyed_spans": int(k.sum()),
            "empty_docs": sum(1 for t in texts if not t.strip()),
            "one_span_docs": int(np.count_nonzero(per_doc == 1)),
            "long_spans": s.long,
        },
    }


def count_spans(p: DedupParams, task: SpanCount, out) -> dict:
    table = read_files(task.files)
    if table is None:
        return {"top": []}
    k1, k2 = table.column("k1").to_numpy(), table.column("k2").to_numpy()
    gid = table.column("gid").to_numpy()
    order = np.lexsort((gid, k2, k1))
    k1, k2, gid = k1[order], k2[order], gid[order]
    new = np.ones(len(gid), dtype=bool)
    new[1:] = (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(gid)))
    docs = np.repeat(sizes, sizes)  # each row: how many documents hold its key
    remove = docs >= p.min_docs
    if p.keep_first:
        remove &= ~new  # the first document of each key (its lowest number) keeps it
    rows = pa.table(
        {
            "gid": pa.array(gid[remove], pa.int64()),
            "k1": pa.array(k1[remove], pa.uint64()),
            "k2": pa.array(k2[remove], pa.uint64()),
            "docs": pa.array(docs[remove], pa.int64()),
        }
    )
    write_split(out, rows, ordinal_of(gid[remove]), PART)
    repeated = np.flatnonzero(sizes >= p.min_docs)
    best = repeated[np.lexsort((k2[starts[repeated]], k1[starts[repeated]], -sizes[repeated]))]
    top = [
        [str(k1[starts[g]]), str(k2[starts[g]]), int(sizes[g]), int(gid[starts[g]])]
        for g in best[:TOP]
    ]
    return {
        "counters": {"repeated_spans": len(repeated), "span_removals": int(remove.sum())},
        "top": top,
    }


def removed_spans(spans: pa.Table | None, removals: pa.Table | None) -> pa.Table:
    """The spans of a part to remove: (row, span, docs), by row and span. A removal names a
    document's key; every span of that document with the key goes (a line repeated inside one
    document is removed each time)."""
    if spans is None or removals is None:
        return pa.schema(
            [("row", pa.int64()), ("span", pa.int32()), ("docs", pa.int64())]
        ).empty_table()
    wanted = pa.table(
        {
            "row": pa.array(removals.column("gid").to_numpy() & ROW_MASK, pa.int64()),
            "k1": removals.column("k1"),
            "k2": removals.column("k2"),
            "docs": removals.column("docs"),
        }
    )
    hits = spans.join(wanted, keys=["row", "k1", "k2"], join_type="inner")
    return hits.select(["row", "span", "docs"]).sort_by(
        [("row", "ascending"), ("span", "ascending")]
    )


def first_spans(
    spans: pa.Table | None, top: list[list[str]]
) -> dict[tuple[int, int], tuple[int, int]]:
    """Where each of the `top` keys is first found in the part: key -> (row, span)."""
    if spans is None or not top:
        return {}
    wanted = {(int(a), int(b)) for a, b in top}
    k1 = spans.column("k1")
    some = spans.filter(pc.is_in(k1, pa.array([a for a, _ in wanted], pa.uint64())))
    where: dict[tuple[int, int], tuple[int, int]] = {}
    columns = [some.column(c).to_pylist() for c in ("row", "span", "k1", "k2")]
    for r, i, a, b in zip(*columns, strict=True):
        if (a, b) in wanted and (a, b) not in where:  # the table is in document order
            where[a, b] = (r, i)
    return where


def decide_spans(p: DedupParams, task: SpanDecide, out) -> dict:
    table = read_part_file(task.part.path, task.part.sha256)
    bytes_in = text_bytes(table)
    texts = table.column("text").to_pylist()
    n = len(texts)
    spans = read_files(task.spans)
    hits = removed_spans(spans, read_files(task.removals))
    hit_span = hits.column("span").to_numpy()
    hit_docs = hits.column("docs").to_numpy()
    bounds = np.searchsorted(hits.column("row").to_numpy(), np.arange(n + 1)).tolist()
    new_texts, n_spans, n_chars, reasons, errors = [], [], [], [], []
    cut_start: list[int] = []
    cut_end: list[int] = []
    for r, text in enumerate(texts):
        lo, hi = bounds[r], bounds[r + 1]
        if lo == hi:
            new_texts.append(text)
            n_spans.append(0)
            n_chars.append(0)
            reasons.append(None)
            continue
        new, cut = span_rules.remove(text, p.mode, set(hit_span[lo:hi].tolist()))
        if len(cut) != hi - lo:  # a removal names a span the document does not have
            raise RuntimeError(f"row {r}: {hi - lo} spans to remove, {len(cut)} found")
        new_texts.append(new)
        n_spans.append(len(cut))
        n_chars.append(len(text) - len(new))
        cut_start.extend(s for s, _ in cut)
        cut_end.extend(e for _, e in cut)
        short = len(new.strip()) < p.min_left_chars
        reasons.append("subdoc_too_short" if short else None)
        if short:
            errors.append(
                f"{len(cut)} {p.mode} removed ({len(text) - len(new):,} characters), each held "
                f"by {int(hit_docs[lo:hi].min()):,} or more documents; {len(new.strip()):,} "
                f"characters left, under min_left_chars {p.min_left_chars}"
            )
    removed = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(n_spans, dtype=np.int64)]), pa.int32()),
        pa.StructArray.from_arrays(
            [
                pa.array(cut_start, pa.int64()),
                pa.array(cut_end, pa.int64()),
                pa.array(hit_docs, pa.int64()),
            ],
            fields=list(REMOVED_TYPE.value_type),
        ),
    )
    ids = table.column("id").to_pylist()
    top_spans = {}
    for (a, b), (r, i) in first_spans(spans, task.top).items():
        text = span_rules.split(texts[r], p.mode)[0][i].strip()
        top_spans[f"{a}:{b}"] = {"text": text[:500], "id": ids[r]}
    table = table.set_column(
        table.schema.get_field_index("text"), "text", pa.array(new_texts, pa.large_string())
    )
    del new_texts
    table = table.append_column("subdoc_spans_removed", pa.array(n_spans, pa.int32()))
    table = table.append_column("subdoc_chars_removed", pa.array(n_chars, pa.int64()))
    table = table.append_column("subdoc_removed", removed)
    result = decide(table, reasons)
    rejected = result.rejected
    if rejected.num_rows:  # the rejected document as it came in, with what would have gone
        original = pa.array([t for t, why in zip(texts, reasons, strict=True) if why])
        rejected = rejected.set_column(
            rejected.schema.get_field_index("text"), "text", original.cast(pa.large_string())
        )
        rejected = rejected.set_column(
            rejected.schema.get_field_index("error"), "error", pa.array(errors, pa.string())
        )
    out.write(Dest("kept"), conform(result.kept))
    out.write(Dest("rejected"), rejected)
    touched = sum(1 for k in n_spans if k)
    return {
        "docs_in": n,
        "bytes_in": bytes_in,
        "docs_out": result.kept.num_rows,
        "bytes_out": text_bytes(result.kept),
        "docs_rejected": rejected.num_rows,
        "rejected": {"subdoc_too_short": rejected.num_rows} if rejected.num_rows else {},
        "counters": {
            "docs_with_spans_removed": touched,
            "spans_removed": len(hit_docs),
            "chars_removed": sum(n_chars),
        },
        "top_spans": top_spans,
    }


TASKS = {"spans": span_keys, "count": count_spans, "final": decide_spans}
