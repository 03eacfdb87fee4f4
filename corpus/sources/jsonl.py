"""Dolma-style JSONL documents (`id`, `text`, `source`, `metadata`, ...): read in, written back.

Reading maps a record onto the Document record: `metadata` becomes `meta` (url, title and author
are also lifted into their columns), `created` becomes `date`, and every other top-level field is
kept verbatim in `meta["_record"]` so that export gives the record back. Lines that cannot be
read are rejected with a named reason, never skipped: `invalid_utf8`, `invalid_json`,
`not_an_object`, `missing_text`, `too_large`, `truncated_input`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from corpus import storage
from corpus.compression import CompressedInputError, open_input, open_span
from corpus.schema import DOCUMENT_SCHEMA, SOURCES, conform, rejected_rows
from corpus.sources.common import REJECT_TEXT_CHARS, Rejected, parse_date, read_lines
from corpus.stage import StageResult

RECORD_KEY = "_record"  # meta key holding the input record's other top-level fields
LIFTED_FIELDS = ("url", "title", "author")


def read_jsonl(
    path: str | Path,
    *,
    name: str | None = None,
    default_source: str = "web",
    max_doc_bytes: int = 64 << 20,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
    span: tuple[int, int | None, int] = (0, None, 1),
) -> Iterator[StageResult]:
    """Yield the documents of a JSONL file (plain, gzip or zstd) in batches of bounded size.
    `span` (start, end, first line) reads only the lines of an uncompressed file that start in
    bytes [start, end), `start` being the start of line `first line`."""
    path = Path(path)
    name = name or path.name  # the file's identity among a stage's inputs, for unnamed records
    rows: list[dict] = []
    rejects: list[dict] = []
    stats = {"lines": 0, "newlines_normalized": 0}
    batch_bytes = 0
    start, end, first_line = span
    lineno = first_line - 1
    with open_input(path) if span == (0, None, 1) else open_span(path, start, end) as stream:
        try:
            for lineno, (line, size) in enumerate(read_lines(stream, max_doc_bytes), first_line):
                if size == len(line) and not line.strip():
                    continue
                stats["lines"] += 1
                try:
                    row = _parse_line(line, size, name, lineno, default_source, max_doc_bytes)
                except Rejected as rej:
                    rejects.append(_reject(f"{name}:{lineno}", default_source, path, rej))
                    continue
                if "\r" in row["text"]:
                    row["text"] = row["text"].replace("\r\n", "\n").replace("\r", "\n")
                    stats["newlines_normalized"] += 1
                rows.append(row)
                batch_bytes += len(line)
                if len(rows) >= part_rows or batch_bytes >= part_bytes:
                    batch = _batch(rows, rejects, stats)
                    # the rows are in the batch: let them go before it is written
                    rows, rejects, batch_bytes = [], [], 0
                    stats = {"lines": 0, "newlines_normalized": 0}
                    yield batch
                    del batch
        except CompressedInputError as exc:
            rej = Rejected("truncated_input", f"after line {lineno}: {exc}")
            rejects.append(_reject(f"{name}:{lineno + 1}", default_source, path, rej))
    yield _batch(rows, rejects, stats)


def _parse_line(
    line: bytes, size: int, name: str, lineno: int, default_source: str, max_bytes: int
) -> dict:
    """The document of one line; `size` is the line's whole size, `line` may be its head only."""
    if size > max_bytes:
        text = line[:REJECT_TEXT_CHARS].decode("utf-8", "replace")
        raise Rejected("too_large", f"{size} bytes > max_doc_bytes {max_bytes}", text)
    try:
        decoded = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_utf8", str(exc), line.decode("utf-8", "replace")) from None
    try:
        record = json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise Rejected("invalid_json", str(exc), decoded) from None
    if not isinstance(record, dict):
        raise Rejected("not_an_object", f"a JSON {type(record).__name__}", decoded)
    text = record.get("text")
    if not isinstance(text, str):
        raise Rejected("missing_text", "no string 'text' field", decoded)
    return _document(record, name, lineno, default_source)


def _document(record: dict, name: str, lineno: int, default_source: str) -> dict:
    metadata = record.get("metadata")
    extra = {k: v for k, v in record.items() if k not in ("id", "text", "metadata")}
    meta = dict(metadata) if isinstance(metadata, dict) else {}
    if metadata is not None and not isinstance(metadata, dict):
        extra["metadata"] = metadata
    if extra:
        meta[RECORD_KEY] = extra
    source = record.get("source")
    lifted = {f: _string(meta.get(f, record.get(f))) for f in LIFTED_FIELDS}
    doc_id = record.get("id")
    return {
        "id": _valid_unicode(str(doc_id)) if doc_id not in (None, "") else f"{name}:{lineno}",
        "text": _valid_unicode(record["text"]),
        "source": source if source in SOURCES else default_source,
        **lifted,
        "date": parse_date(record.get("created")),
        "meta": _valid_unicode(json.dumps(meta, ensure_ascii=False)) if meta else None,
    }


def _string(value: object) -> str | None:
    return _valid_unicode(value) if isinstance(value, str) and value else None


def _valid_unicode(s: str) -> str:
    """`s` with lone surrogates (legal in JSON escapes, not in UTF-8) replaced by U+FFFD."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _reject(doc_id: str, source: str, path: Path, rej: Rejected) -> dict:
    return {
        "id": doc_id,
        "text": rej.text[:REJECT_TEXT_CHARS],
        "source": source,
        "meta": json.dumps({"path": storage.show(storage.location_of(path))}),
        "reason": rej.reason,
        "error": rej.error,
    }


def _batch(rows: list[dict], rejects: list[dict], stats: dict) -> StageResult:
    kept = conform(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA))
    return StageResult(kept=kept, rejected=rejected_rows(rejects), stats=dict(stats))


def to_record(row: dict, annotations: list[str]) -> dict:
    """The dolma-style JSON record for one document row (a dict of the table's columns)."""
    meta = json.loads(row["meta"]) if row.get("meta") else {}
    if not isinstance(meta, dict):
        meta = {"meta": meta}
    extra = meta.pop(RECORD_KEY, {})
    record = {"id": row["id"], "text": row["text"], "source": row["source"], **extra}
    if "created" not in extra and row.get("date") is not None:
        record["created"] = format_date(row["date"])
    for name in LIFTED_FIELDS:
        if row.get(name) is not None and name not in meta and name not in extra:
            meta[name] = row[name]
    if meta:
        record["metadata"] = meta
    if annotations:
        attributes = dict(extra.get("attributes") or {})
        attributes.update({name: _jsonable(row[name]) for name in annotations})
        record["attributes"] = attributes
    return record


def format_date(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def _jsonable(value: object) -> object:
    return format_date(value) if isinstance(value, datetime) else value


def _dumps(record: dict) -> str:
    # sorted keys and compact separators: how Dolma writes its files, so a round trip is exact
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_jsonl(table: pa.Table, stream: BinaryIO) -> int:
    """Write `table`'s documents to `stream` as JSON lines; return the bytes written."""
    annotations = [c for c in table.column_names if c not in DOCUMENT_SCHEMA.names]
    written = 0
    for batch in table.to_batches(max_chunksize=4096):
        lines = [_dumps(to_record(row, annotations)) for row in batch.to_pylist()]
        data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
        stream.write(data)
        written += len(data)
    return written
