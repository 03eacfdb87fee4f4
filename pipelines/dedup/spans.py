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

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

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
    n_part = p.partitions or min(256, max(1, math.ceil(total / DOCS_PER_PARTITION)))
    parts = list(enumerate(input_parts(tasks)))
    run = driver.run_payloads
    keyed = run("spans", [SpanPart(part, o, n_part) for o, part in parts], show=True)
    key_files = files_by_dest(keyed)
    counted = run("count", [SpanCount(shuffled(key_files, PARTITION, j)) for j in range(n_part)])
    top = sorted(
        (t for r in counted for t in r["stats"]["top"]), key=lambda t: (-t[2], t[0], t[1])
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


def decide_spans(p: DedupParams, task: SpanDecide, out) -> dict:
    table = read_part_file(task.part.path, task.part.sha256)
    bytes_in = text_bytes(table)
    texts = table.column("text").to_pylist()
    n = len(texts)
    spans = read_files(task.spans)
    removals = read_files(task.removals)
    docs_of: dict[tuple[int, int, int], int] = {}  # (row, k1, k2) -> documents holding the span
    if removals is not None:
        rows = (removals.column("gid").to_numpy() & ROW_MASK).tolist()
        for r, a, b, d in zip(
            rows,
            removals.column("k1").to_pylist(),
            removals.column("k2").to_pylist(),
            removals.column("docs").to_pylist(),
            strict=True,
        ):
            docs_of[r, a, b] = d
    drop: dict[int, dict[int, int]] = {}  # row -> {span: documents}
    where: dict[tuple[int, int], tuple[int, int]] = {}  # (k1, k2) of a top span -> (row, span)
    wanted = {(int(a), int(b)) for a, b in task.top}
    if spans is not None:
        for r, i, a, b in zip(
            spans.column("row").to_pylist(),
            spans.column("span").to_pylist(),
            spans.column("k1").to_pylist(),
            spans.column("k2").to_pylist(),
            strict=True,
        ):
            d = docs_of.get((r, a, b))
            if d is not None:
                drop.setdefault(r, {})[i] = d
            if (a, b) in wanted and (a, b) not in where:
                where[a, b] = (r, i)
    new_texts, n_spans, n_chars, removed, reasons, errors = [], [], [], [], [], []
    for r, text in enumerate(texts):
        gone = drop.get(r, {})
        new, cut = span_rules.remove(text, p.mode, set(gone))
        new_texts.append(new)
        n_spans.append(len(cut))
        n_chars.append(len(text) - len(new))
        removed.append(
            [
                {"start": s, "end": e, "docs": gone[i]}
                for (s, e), i in zip(cut, sorted(gone), strict=True)
            ]
        )
        short = bool(cut) and len(new.strip()) < p.min_left_chars
        reasons.append("subdoc_too_short" if short else None)
        if short:
            errors.append(
                f"{len(cut)} {p.mode} removed ({len(text) - len(new):,} characters), each held "
                f"by {min(gone.values()):,} or more documents; {len(new.strip()):,} characters "
                f"left, under min_left_chars {p.min_left_chars}"
            )
    ids = table.column("id").to_pylist()
    top_spans = {}
    for (a, b), (r, i) in where.items():
        text = span_rules.split(texts[r], p.mode)[0][i].strip()
        top_spans[f"{a}:{b}"] = {"text": text[:500], "id": ids[r]}
    table = table.set_column(
        table.schema.get_field_index("text"), "text", pa.array(new_texts, pa.large_string())
    )
    table = table.append_column("subdoc_spans_removed", pa.array(n_spans, pa.int32()))
    table = table.append_column("subdoc_chars_removed", pa.array(n_chars, pa.int64()))
    table = table.append_column("subdoc_removed", pa.array(removed, REMOVED_TYPE))
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
            "spans_removed": sum(n_spans),
            "chars_removed": sum(n_chars),
        },
        "top_spans": top_spans,
    }


TASKS = {"spans": span_keys, "count": count_spans, "final": decide_spans}
