"""`corpus trace RUN DOC_ID`: one document's path through a run.

It opens only the parts whose id filter (in the part's footer) may hold the id, so its cost is
one footer per part plus the few parts that match, not a pass over the run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc

from corpus import storage
from corpus.dataset import Dataset, PartInfo
from corpus.errors import CorpusError
from corpus.idfilter import part_may_hold
from pipelines.profile import NOT_SCORES, excerpt
from pipelines.report.collect import dataset_at

REMOVED = "subdoc_removed"  # the spans dedup's lines and paragraphs modes removed, with counts


def _candidates(ds: Dataset | None, doc_id: str) -> list[PartInfo]:
    """The parts of `ds` that may hold `doc_id`, by the id filter in each part's footer."""
    if ds is None:
        return []
    return [p for p in ds.parts if part_may_hold(ds.path / p.name, doc_id)]


def _find(ds: Dataset | None, doc_id: str) -> dict | None:
    for part in _candidates(ds, doc_id):
        ids = ds.read_part(part, ["id"]).column("id")
        hits = pc.index(ids, doc_id).as_py()
        if hits >= 0:
            return ds.read_part(part).slice(hits, 1).to_pylist()[0]
    return None


def trace(run_dir: str | Path, doc_id: str) -> str:
    """One document's path through the run: source, each stage's decision and scores, its dedup
    cluster and representative, and where its tokens are in the shards."""
    run_dir = Path(run_dir)
    record = run_dir / "_state" / "pipeline.json"
    if not storage.is_file(record):
        raise CorpusError(f"{storage.show(run_dir)}: not a run folder (no _state/pipeline.json)")
    pipeline = json.loads(storage.read_text(record))
    lines, found, before = [], False, None  # before: its text as the stage got it
    for st in pipeline["stages"]:
        name, kind = st["name"], st["type"]
        folder = run_dir / name
        kept = _find(dataset_at(folder / "kept"), doc_id)
        rejected = None if kept else _find(dataset_at(folder / "rejected"), doc_id)
        row = kept or rejected
        if row is not None:
            if not found:
                lines.append(
                    f"{doc_id}: source {row['source']}, {row.get('url') or ''}".rstrip(", ")
                )
                lines.append(f"  text: {excerpt(row.get('text'))[:160]!r}")
                found = True
            scores = {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in row.items()
                if k not in NOT_SCORES and k != REMOVED and v is not None
            }
            decision = "kept" if kept else f"REJECTED: {row['reason']}"
            if rejected and row.get("error"):
                decision += f" ({row['error']})"
            lines.append(f"[{name}] ({kind}) {decision}")
            if scores:
                lines.append("    " + ", ".join(f"{k}={v}" for k, v in sorted(scores.items())))
            source = row.get("text") if rejected else before
            for cut in row.get(REMOVED) or []:  # a span sub-document dedup removed
                span = (source or "")[cut["start"] : cut["end"]]
                lines.append(
                    f"    removed characters {cut['start']:,}..{cut['end']:,}, held by "
                    f"{cut['docs']:,} documents: {excerpt(span)[:120]!r}"
                )
            before = row.get("text")
        if kind == "dedup":
            cluster = _find(dataset_at(folder / "clusters"), doc_id)
            if cluster:
                lines.append(
                    f"    cluster {cluster['cluster']} of {cluster['size']} document(s), "
                    f"representative {cluster['representative']}"
                    + (" (this one)" if cluster["kept"] else "")
                )
        if kind == "shard":
            placed = _rows(dataset_at(folder / "documents"), doc_id)
            if placed:
                found = True
                for p in placed:
                    lines.append(
                        f"[{name}] ({kind}) {p['split']} copy {p['copy']}: {p['tokens']:,} tokens "
                        f"at offset {p['offset']:,} of {p['shard']}"
                    )
            elif found:
                lines.append(f"[{name}] ({kind}) not in the shards (dropped by its mixture weight)")
        if found and rejected is not None:
            break
    if not found:
        raise CorpusError(
            f"{storage.show(run_dir)}: no document with id {doc_id!r} in any stage of the run"
        )
    return "\n".join(lines)


def _rows(ds: Dataset | None, doc_id: str) -> list[dict]:
    out = []
    for part in _candidates(ds, doc_id):
        table = ds.read_part(part)
        hits = table.filter(pc.equal(table.column("id"), doc_id))
        out += hits.to_pylist()
    return out
