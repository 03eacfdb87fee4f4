"""What every reader of external input shares: batching into parts, named rejections, decoding.

A reader yields `StageResult` batches. Rows are dicts of Document fields; `meta` may be a dict
(it is serialized here, with sorted keys so the same input gives the same bytes). A record that
cannot be used becomes a rejected row with a `reason` and an `error`, never a silent skip.
"""

from __future__ import annotations

import codecs
import json
import re
import signal
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import charset_normalizer
import pyarrow as pa

from corpus import storage
from corpus.schema import DOCUMENT_SCHEMA, conform, rejected_rows
from corpus.stage import StageResult

REJECT_TEXT_CHARS = 65536  # a rejected record keeps this much of its text, for the report


class Rejected(Exception):
    """A record that cannot become a document: `reason` names why, `error` gives the detail."""

    def __init__(self, reason: str, error: str = "", text: str = "", meta: dict | None = None):
        super().__init__(f"{reason}: {error}" if error else reason)
        self.reason, self.error, self.text = reason, error, text
        self.meta = meta  # scores behind the decision, merged into the row's meta


class Batcher:
    """Collects documents and rejections, and cuts them into bounded batches."""

    def __init__(self, part_rows: int = 100_000, part_bytes: int = 64 << 20):
        self.part_rows, self.part_bytes = part_rows, part_bytes
        self.rows: list[dict] = []
        self.rejects: list[dict] = []
        self.counters: dict[str, int] = {}
        self._bytes = 0
        self._ready: list[StageResult] = []

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def add(self, row: dict) -> None:
        """Add a document; a full batch waits in `drain()`."""
        row["text"] = normalize_newlines(row["text"])
        self.rows.append(_meta_to_json(row))
        self._bytes += len(row["text"])
        self._cut_if_full()

    def reject(self, row: dict, rej: Rejected) -> None:
        """Add a rejected record (its Document fields as far as known) under `rej.reason`."""
        row = dict(row)
        if rej.meta:
            meta = row.get("meta") or {}
            meta = json.loads(meta) if isinstance(meta, str) else meta
            row["meta"] = {**rej.meta, **meta}  # the record's provenance wins
        row = _meta_to_json(row)
        row.setdefault("text", "")
        if rej.text and not row["text"]:
            row["text"] = rej.text
        row["text"] = row["text"][:REJECT_TEXT_CHARS]
        row["reason"], row["error"] = rej.reason, rej.error[:2000] or None
        self.rejects.append(row)
        self._bytes += len(row["text"])
        self._cut_if_full()

    def drain(self) -> Iterator[StageResult]:
        """The full batches cut so far; a reader yields from this inside its loop."""
        while self._ready:
            yield self._ready.pop(0)

    def _cut_if_full(self) -> None:
        rows = len(self.rows) + len(self.rejects)
        if rows >= self.part_rows or self._bytes >= self.part_bytes:
            self._ready.append(self._cut())

    def _cut(self) -> StageResult:
        kept = pa.Table.from_pylist(self.rows, schema=DOCUMENT_SCHEMA) if self.rows else None
        result = StageResult(
            kept=conform(kept) if kept is not None else DOCUMENT_SCHEMA.empty_table(),
            rejected=rejected_rows(self.rejects),
            stats=dict(self.counters),
        )
        self.rows, self.rejects, self.counters, self._bytes = [], [], {}, 0
        return result

    def finish(self) -> Iterator[StageResult]:
        """The batches not yet drained, then the last one (always, possibly empty)."""
        yield from self.drain()
        yield self._cut()


def _meta_to_json(row: dict) -> dict:
    meta = row.get("meta")
    if isinstance(meta, dict):
        row["meta"] = json.dumps(meta, sort_keys=True, ensure_ascii=False, default=str)
    return row


_NEWLINES = re.compile(r"\r\n?|\u2028|\u2029")


def normalize_newlines(text: str) -> str:
    """CRLF, lone CR and Unicode line/paragraph separators become LF."""
    return (
        _NEWLINES.sub("\n", text)
        if ("\r" in text or "\u2028" in text or "\u2029" in text)
        else text
    )


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.\-]+)", re.I)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip()).name
    except LookupError:
        return None
    # browsers read these labels as windows-1252 (WHATWG encoding standard)
    return "cp1252" if codec in ("latin_1", "iso8859-1", "ascii") else codec


def decode_bytes(
    data: bytes, content_type: str | None = None, html: bool = False
) -> tuple[str, str]:
    """Decode `data` to text and name the charset used.

    Order: a byte-order mark, the HTTP header's charset, a `<meta charset>` in the first 4 KiB
    (HTML), strict UTF-8, then charset_normalizer's guess; cp1252 with replacement as a last resort.
    """
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, "replace"), codec
    if data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", "replace"), "utf-16"
    declared = []
    if content_type:
        m = _HEADER_CHARSET.search(content_type)
        declared.append(_codec(m.group(1)) if m else None)
    if html:
        m = _META_CHARSET.search(data[:4096])
        declared.append(_codec(m.group(1).decode("ascii", "ignore")) if m else None)
    for codec in declared:
        if codec:
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError:
                continue  # a lying declaration: fall through to detection
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    western = _western(data)
    if western is not None:
        return western, "cp1252"
    best = charset_normalizer.from_bytes(data[: 1 << 20]).best()
    codec = _codec(best.encoding) if best is not None else None
    if codec:
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            pass
    return data.decode("cp1252", "replace"), "cp1252"


def _western(data: bytes) -> str | None:
    """`data` as cp1252 if it reads as Western European text: mostly ASCII letters, a few accented.

    Detectors are unreliable on short Latin-1 text (they guess cp1250 and turn è into č);
    Cyrillic or Greek in a single-byte code page would be mostly non-ASCII letters instead.
    """
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    ascii_letters = sum(c.isascii() and c.isalpha() for c in text)
    other_letters = sum(not c.isascii() and c.isalpha() for c in text)
    if other_letters and other_letters <= 0.15 * (ascii_letters + other_letters):
        return text
    return None


class TimeLimitExceeded(BaseException):
    """A block ran past its time_limit: a BaseException, like KeyboardInterrupt, so that a
    library's `except Exception` (trafilatura has several) cannot swallow it."""


@contextmanager
def time_limit(seconds: float | None):
    """Raise TimeLimitExceeded in the block after `seconds` (main thread only, as signals are).

    Ray runs a task on its worker's main thread, so the limit holds in pipelines; elsewhere (a
    thread) the block runs unbounded.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def scratch_db(scratch_dir: Path | None) -> Iterator[sqlite3.Connection]:
    """A throwaway SQLite database in `scratch_dir` (a temp folder if None) for spilling records.

    Its page cache is capped at 32 MiB, so a reader that groups records through it (threads of a
    dump) runs in flat memory whatever the input's size; it is deleted on exit.
    """
    with tempfile.TemporaryDirectory(dir=scratch_dir) as tmp:
        db = sqlite3.connect(Path(tmp) / "spill.sqlite")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-32768")
        try:
            yield db
        finally:
            db.close()


def parse_date(value: object) -> datetime | None:
    """A UTC datetime from an ISO 8601 string or Unix seconds; None when it is neither."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


LINE_STEP = 1 << 20  # the rest of an over-long line is read through this much at a time


def read_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """(line, its size in bytes) for each line of `stream`, newline kept.

    A line over `max_bytes` comes cut to its first `max_bytes + 1` bytes, with its whole size
    (so `size > len(line)`); the rest is read through and dropped, so no line is held whole.
    """
    while line := stream.readline(max_bytes + 1):
        size = len(line)
        if size > max_bytes and not line.endswith(b"\n"):
            while rest := stream.readline(LINE_STEP):
                size += len(rest)
                if rest.endswith(b"\n"):
                    break
        yield line, size


def file_meta(path: Path, **more) -> dict:
    """The provenance every document read from a file carries: the file's path."""
    where = storage.show(storage.location_of(path))  # a store's file: its URI, not our copy
    return {"path": where, **{k: v for k, v in more.items() if v is not None}}
