"""Stack Exchange dumps (`Posts.xml`): one document per question thread.

The file is streamed in chunks and cut into `<row .../>` elements by a scanner that needs no line
layout, so memory stays flat whatever the file's size; each row is parsed on its own by an XML
parser that expands no entities and loads no DTD. A row that does not parse is rejected as
`malformed_xml_row` and the scan goes on with the next one. Posts are spilled to an SQLite file in
the task's scratch folder and grouped by thread from there: the question, the accepted answer,
then the other answers by score. Both dump formats are read: Tags as `<a><b>` (older, no
ContentLicense) or `|a|b|` (newer, with a ContentLicense per row).

Other reasons: `other_post_type` (tag wikis and the like), `orphan_answer` (its question is not
in the file), `deleted_or_empty`, `below_min_score`, `too_large`, `truncated_input`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lxml.etree as etree
import pyarrow as pa
import pyarrow.compute as pc

from corpus.compression import CompressedInputError, open_input
from corpus.sources.common import Batcher, Rejected, file_meta, parse_date, scratch_db
from corpus.sources.markup import html_to_text, safe_xml_parser
from corpus.stage import StageResult

CHUNK = 1 << 20
MAX_ROW_BYTES = 16 << 20  # a longer row is rejected as too_large
ROW = re.compile(rb"""<row\b(?:[^<>"']|"[^"<]*"|'[^'<]*')*/>""")
QUESTION, ANSWER = 1, 2


def scan_rows(
    stream, max_row_bytes: int, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, bytes | Rejected]]:
    """(byte offset, row bytes or Rejected) for each `<row/>` element of an XML stream.

    The scan moves an index through its buffer, which is cut down only when a chunk is read, so
    each byte is copied a bounded number of times: time is linear in the file's size. A row or
    other tag longer than `max_row_bytes` is rejected as `too_large` and skipped.

    A byte range `[start, end)` of a file (`stream` positioned at `start`) yields the elements
    that begin in it, each read to its end: XML escapes every `<` inside a value, so the first
    `<` at or after any offset begins a tag, and ranges that meet yield each row exactly once.
    """
    buf = b""
    pos = 0  # where the scan is in buf; `start` is the offset of buf[0] in the stream
    eof = False
    while True:
        lt = buf.find(b"<", pos)
        pos = len(buf) if lt < 0 else lt
        if end is not None and start + pos >= end:  # the next element is the next range's
            return
        if buf.startswith(b"<row", pos) and len(buf) > pos + 4 and buf[pos + 4] in b" \t\r\n/>":
            m = ROW.match(buf, pos)
            if m and m.end() - pos > max_row_bytes:  # whether or not it fit in the buffer
                yield start + pos, Rejected("too_large", f"row over {max_row_bytes} bytes")
                pos = m.end()
                continue
            if m:
                yield start + pos, m.group(0)
                pos = m.end()
                continue
            nxt = buf.find(b"<", pos + 1)
            if nxt >= 0:
                why = "row element is not closed"
                yield start + pos, Rejected("malformed_xml_row", why, _show(buf[pos:nxt]))
                pos = nxt
                continue
        elif pos < len(buf):
            after = _skip_markup(buf, pos)
            if after is not None:
                pos = after
                continue
        if len(buf) - pos > max_row_bytes:  # in a row or tag that does not end
            what = "row" if buf.startswith(b"<row", pos) else "tag"
            yield start + pos, Rejected("too_large", f"{what} over {max_row_bytes} bytes")
            pos = len(buf)
            continue
        if eof:
            if buf[pos:].strip():
                yield start + pos, Rejected("truncated_input", "the file ends inside an element")
            return
        try:
            chunk = stream.read(CHUNK)
        except CompressedInputError as exc:
            yield start + pos, Rejected("truncated_input", str(exc))
            return
        eof = not chunk
        buf, start, pos = buf[pos:] + chunk, start + pos, 0


def _skip_markup(buf: bytes, pos: int) -> int | None:
    """The end of a non-row tag at buf[pos] (declaration, DTD, comment, other tag); None if it
    does not end in `buf`."""
    if buf.startswith(b"<!--", pos):
        end = buf.find(b"-->", pos)
        return end + 3 if end >= 0 else None
    if buf.startswith(b"<!DOCTYPE", pos):
        gt = buf.find(b">", pos)
        subset = buf.find(b"[", pos, gt + 1 if gt >= 0 else len(buf)) >= 0
        end = buf.find(b"]>", pos) if subset else gt
        if end < 0:
            return None
        return end + (2 if buf[end : end + 2] == b"]>" else 1)
    end = buf.find(b">", pos)
    return end + 1 if end >= 0 else None


def _show(data: bytes) -> str:
    return data[:2000].decode("utf-8", "replace")


def is_posts_xml(head: bytes) -> bool:
    """Whether a file's first bytes (decompressed) are those of a Posts.xml dump."""
    return re.search(rb"<posts[\s>]", head[:4096]) is not None


def parse_row(data: bytes) -> dict[str, str]:
    try:
        el = etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise Rejected("malformed_xml_row", str(exc), _show(data)) from None
    return dict(el.attrib)


def parse_tags(value: str | None) -> list[str]:
    if not value:
        return []
    if value.startswith("<"):
        return re.findall(r"<([^<>]+)>", value)
    return [t for t in value.split("|") if t]


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


POSTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("thread", pa.int64()),
        ("type", pa.int8()),
        ("score", pa.int64()),
        ("offset", pa.int64()),
        ("row", pa.large_string()),
    ]
)


@contextmanager
def _spill(scratch_dir: Path | None):
    with scratch_db(scratch_dir) as db:
        db.execute(
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, thread INTEGER, type INTEGER, "
            "score INTEGER, offset INTEGER, row TEXT)"
        )
        yield db


def scan_posts(
    stream, path: Path, name: str, max_row_bytes: int, batch: Batcher, start=0, end=None
) -> Iterator[tuple[int, int, int, int, int, str] | None]:
    """The questions and answers among the rows of `stream` (or of its byte range `[start,
    end)`), as (id, thread, type, score, offset, row as JSON); any other row is rejected into
    `batch`, for which None is yielded, so that the caller drains it."""
    for offset, row in scan_rows(stream, max_row_bytes, start, end):
        base = {"id": f"se:{name}@{offset}", "source": "forum"}
        base["meta"] = file_meta(path, offset=offset)
        try:
            if isinstance(row, Rejected):
                raise row
            attrs = parse_row(row)
            post_id, kind = _int(attrs.get("Id"), -1), _int(attrs.get("PostTypeId"), -1)
            if post_id < 0:
                raise Rejected("malformed_xml_row", "row without an Id", _show(row))
            if kind not in (QUESTION, ANSWER):
                base["id"] = f"se:{name}:{post_id}"
                text = html_to_text(attrs.get("Body", ""))
                raise Rejected("other_post_type", f"PostTypeId {kind}", text)
            thread = post_id if kind == QUESTION else _int(attrs.get("ParentId"), -1)
            yield post_id, thread, kind, _int(attrs.get("Score")), offset, json.dumps(attrs)
        except Rejected as rej:
            batch.reject(base, rej)
            yield None


def read_posts_xml(
    path: Path,
    *,
    name: str | None = None,
    site: str | None = None,
    min_score: int | None = None,
    max_answers: int | None = None,
    max_row_bytes: int = MAX_ROW_BYTES,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """The question threads of one Posts.xml (plain, gzip or zstd); ids name it by `name`, its
    identity among the stage's inputs (every site's dump is called Posts.xml)."""
    batch = Batcher(part_rows, part_bytes)
    name = name or path.name
    with open_input(path) as stream, _spill(scratch_dir) as db:
        for post in scan_posts(stream, path, name, max_row_bytes, batch):
            if post is None:
                yield from batch.drain()
            else:
                db.execute("INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?, ?, ?)", post)
        db.execute("CREATE INDEX by_thread ON posts (thread, type)")
        yield from _threads(db, path, name, site, min_score, max_answers, batch)
    yield from batch.finish()


# --- a big plain file, read as byte ranges by several tasks ---------------------------------
# A thread's answers may sit anywhere after its question, so the ranges cannot each make their
# own threads: a range task scans its rows (rejecting the ones that are not posts) and sends each
# post to the thread task for its thread id; a thread task makes the threads of its id interval
# as one reader would. Intervals start at each range's first post id, so a dump (sorted by id)
# gives each thread task about one range's posts, and the threads come out in id order.


def range_posts(
    stream, path: Path, name: str, start: int, end: int | None, batch: Batcher, max_row_bytes
) -> Iterator[StageResult | pa.Table]:
    """The rejections of byte range `[start, end)` of a Posts.xml (`stream` at `start`) as
    batches, then the table of its posts (`POSTS_SCHEMA`)."""
    posts = []
    for post in scan_posts(stream, path, name, max_row_bytes, batch, start, end):
        if post is None:
            yield from batch.drain()
        else:
            posts.append(post)
    columns = list(zip(*posts, strict=True)) if posts else [[] for _ in POSTS_SCHEMA]
    yield pa.table(columns, schema=POSTS_SCHEMA)


def first_post_id(stream, start: int, end: int | None, max_row_bytes: int) -> int | None:
    """The id of the first row with an Id that begins in `[start, end)` (`stream` at
    `start`); None if none does."""
    for _, row in scan_rows(stream, max_row_bytes, start, end):
        if not isinstance(row, Rejected):
            found = re.search(rb'\sId="(\d+)"', row)
            if found:
                return int(found.group(1))
    return None


def threads_of(
    posts: pa.Table,
    path: Path,
    *,
    name: str,
    site: str | None = None,
    min_score: int | None = None,
    max_answers: int | None = None,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """The threads of `posts` (every post of their thread ids, from any range), as one reader
    of the whole file makes them: a later row with an id replaces an earlier one. (A dump
    whose Ids repeat with another thread, which Stack Exchange's never do, can differ from one
    reader: the rows meet only if their threads fall in one interval.)"""
    batch = Batcher(part_rows, part_bytes)
    order = pc.sort_indices(posts, [("offset", "ascending")])
    with _spill(scratch_dir) as db:
        for i in range(0, len(order), 10_000):
            rows = posts.take(order[i : i + 10_000]).to_pylist()
            db.executemany(
                "INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?, ?, ?)",
                ([r[k] for k in POSTS_SCHEMA.names] for r in rows),
            )
        db.execute("CREATE INDEX by_thread ON posts (thread, type)")
        yield from _threads(db, path, name, site, min_score, max_answers, batch)
    yield from batch.finish()


def _threads(db, path, name, site, min_score, max_answers, batch: Batcher) -> Iterator[StageResult]:
    answers_of = db.cursor()
    for qid, offset, raw in db.execute(
        "SELECT id, offset, row FROM posts WHERE type = 1 ORDER BY id"
    ):
        q = json.loads(raw)
        accepted = _int(q.get("AcceptedAnswerId"), -1)
        answers = [
            json.loads(r)
            for (r,) in answers_of.execute(
                "SELECT row FROM posts WHERE thread = ? AND type = 2 ORDER BY id", (qid,)
            )
        ]
        answers.sort(key=lambda a: (_int(a.get("Id")) != accepted, -_int(a.get("Score"))))
        if min_score is not None:
            answers = [a for a in answers if _int(a.get("Score")) >= min_score]
        if max_answers is not None:
            answers = answers[:max_answers]
        base = {
            "id": f"se:{name}:{qid}",
            "source": "forum",
            "url": f"{site.rstrip('/')}/questions/{qid}" if site else None,
            "title": q.get("Title"),
            "date": parse_date(q.get("CreationDate")),
        }
        meta = file_meta(
            path,
            offset=offset,
            question_id=qid,
            post_ids=[qid] + [_int(a.get("Id")) for a in answers],
            accepted_answer_id=accepted if accepted >= 0 else None,
            score=_int(q.get("Score")),
            answer_scores=[_int(a.get("Score")) for a in answers],
            tags=parse_tags(q.get("Tags")),
            license=q.get("ContentLicense"),
            owner_user_id=q.get("OwnerUserId"),
        )
        body = html_to_text(q.get("Body", ""))
        parts = [q.get("Title") or "", body] + [html_to_text(a.get("Body", "")) for a in answers]
        text = "\n\n".join(p for p in parts if p.strip())
        row = {**base, "meta": meta, "text": text}
        if not body.strip():
            batch.reject(row, Rejected("deleted_or_empty", "the question has no body"))
        elif min_score is not None and _int(q.get("Score")) < min_score:
            batch.reject(row, Rejected("below_min_score", f"score {q.get('Score')}"))
        else:
            batch.add(row)
        yield from batch.drain()
    for pid, thread, offset, raw in db.execute(
        "SELECT id, thread, offset, row FROM posts WHERE type = 2 AND thread NOT IN "
        "(SELECT id FROM posts WHERE type = 1) ORDER BY id"
    ):
        a = json.loads(raw)
        row = {
            "id": f"se:{name}:{pid}",
            "source": "forum",
            "text": html_to_text(a.get("Body", "")),
            "meta": file_meta(path, offset=offset, post_ids=[pid], question_id=thread),
        }
        rej = Rejected("orphan_answer", f"question {thread} is not in the file")
        batch.reject(row, rej)
        yield from batch.drain()
