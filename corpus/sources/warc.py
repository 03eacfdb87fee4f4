"""Web documents from WARC, WET and HTML files (Common Crawl or our crawler), via warcio.

A gzip WARC is read member by member, as Common Crawl writes one record per gzip member: a corrupt
or truncated member is rejected under a named reason and reading resumes at the next member, and
each document's `meta` holds the member's compressed offset, as CC's index does. Response records
with HTML go through trafilatura; WET `conversion` records are text already. Request, metadata and
warcinfo records are not documents and are counted. Anything else that is not a document is
rejected with its reason: `not_html`, `http_status`, `too_large`, `no_text`, `extract_timeout`,
`malformed_record`, `truncated_input`, `corrupt_input`.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from corpus.compression import GZIP_MAGIC, CompressedInputError, open_input
from corpus.sources.common import Batcher, Rejected, decode_bytes, file_meta, parse_date
from corpus.sources.html import DEFAULT_OPTIONS, ExtractOptions, extract_html, is_html
from corpus.stage import StageResult

CHUNK = 1 << 20
RANGE_PROBE = 64 << 10  # bytes inflated to tell a record's gzip member from a false header
# an early look at an HTML record before trafilatura (`filters.prefilter` builds one):
# (payload, url, content type, count) -> a Rejected to drop it now, or None to extract it
Prefilter = Callable[[bytes, "str | None", "str | None", Callable[[str], None]], "Rejected | None"]
NOT_DOCUMENTS = ("request", "metadata", "warcinfo", "revisit")


def iter_gzip_members(
    f: BinaryIO, max_bytes: int, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, bytes | Rejected]]:
    """(compressed offset, decompressed bytes or a Rejected) for each gzip member of `f` that
    starts in [`start`, `end`); `start` must be where a member starts.

    A member larger than `max_bytes` once decompressed is skipped as `too_large` (a gzip bomb
    costs time, not memory); a corrupt one as `corrupt_input` and one cut short as
    `truncated_input`, after which reading resumes at the next gzip header, if any.
    """
    offset = start
    f.seek(start)
    pending = b""
    while end is None or offset < end:
        if not pending:
            pending = f.read(CHUNK)
            if not pending:
                return
        start = offset
        decoder = zlib.decompressobj(31)
        parts: list[bytes] = []
        size = 0
        while True:
            if not pending:
                pending = f.read(CHUNK)
                if not pending:
                    yield start, Rejected("truncated_input", f"gzip member at {start} is cut short")
                    # a torn member mid-file can decode the members after it as its own tail:
                    # they are whole, so read them again from the next header
                    offset, pending = _resync(f, start + 1)
                    break
            try:
                out = decoder.decompress(pending, CHUNK)
            except zlib.error as exc:
                yield start, Rejected("corrupt_input", f"gzip member at {start}: {exc}")
                offset, pending = _resync(f, start + 1)
                break
            rest = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
            offset += len(pending) - len(rest)
            pending = rest
            size += len(out)
            if size <= max_bytes:
                parts.append(out)
            if decoder.eof:
                if size > max_bytes:
                    yield start, Rejected("too_large", f"record at {start}: {size} bytes")
                else:
                    yield start, b"".join(parts)
                break


def _resync(f: BinaryIO, position: int) -> tuple[int, bytes]:
    """Find the next gzip header at or after `position`: (its offset, the bytes from there)."""
    f.seek(position)
    carry = b""
    base = position
    while chunk := f.read(CHUNK):
        data = carry + chunk
        i = data.find(GZIP_MAGIC + b"\x08")
        if i >= 0:
            return base + i, data[i:]
        carry = data[-2:]
        base += len(data) - len(carry)
    return base + len(carry), b""


# warcio meets malformed records with many kinds of error, not only its own: a request record
# without a target URI raises AttributeError, a bad length ValueError, a cut header EOFError
MALFORMED = (ArchiveLoadFailed, ValueError, EOFError, AttributeError, KeyError, TypeError,
             IndexError, UnicodeError)  # fmt: skip


def record_start(f: BinaryIO, position: int, limit: int | None = None) -> int:
    """The offset of the first gzip member at or after `position` that holds a WARC record (the
    file's size if none): the bound between two record ranges of one file. Both tasks that
    meet there find the same offset, so every member is read by exactly one of them.

    A gzip header's bytes inside compressed data are passed over: a candidate counts only if
    its member inflates whole to a `WARC/` header and is followed by another gzip header or
    the end of the file. (A gzipped WARC file stored verbatim in a record's payload could
    still pass; `range_mb: null` reads such a crawl whole.) With `limit`, the search stops
    there and gives `limit`."""
    while True:
        candidate, data = _resync(f, position)
        if limit is not None and candidate >= limit:
            return limit  # none before `limit`: a caller's range holds no record
        if not data or _whole_record_member(f, data):
            return candidate
        position = candidate + 1


def _whole_record_member(f: BinaryIO, data: bytes) -> bool:
    """Whether the gzip member at the start of `data` (the file read on from `f`) inflates to
    a WARC record and ends at another member or at the end of the file."""
    decoder = zlib.decompressobj(31)
    head = b""
    try:
        while not decoder.eof:
            out = decoder.decompress(data, RANGE_PROBE)
            if len(head) < 16:
                head += out[:16]
                seen = head.lstrip(b"\r\n")
                if not seen.startswith(b"WARC/"[: len(seen)]):
                    return False
            data = decoder.unconsumed_tail
            if not data and not decoder.eof:
                data = f.read(CHUNK)
                if not data:
                    return False  # cut short: not a member to start a range at
    except zlib.error:
        return False
    if not head.lstrip(b"\r\n").startswith(b"WARC/"):
        return False
    after = decoder.unused_data + (f.read(3) if len(decoder.unused_data) < 3 else b"")
    return not after or after[:3] == GZIP_MAGIC + b"\x08"


def warc_ranges(path: Path, every: int) -> list[tuple[int, int | None]]:
    """A gzipped WARC file as byte ranges of about `every` bytes, for one task each: each task
    aligns its range to records itself (`record_start`), so planning them reads nothing."""
    size = path.stat().st_size
    bounds = list(range(0, size, every)) or [0]
    return list(zip(bounds, [*bounds[1:], None], strict=True))


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, ArchiveLoadFailed) else str(exc)


def iter_warc_records(
    path: Path, max_bytes: int, span: tuple[int, int | None] = (0, None)
) -> Iterator[tuple[int, object]]:
    """(offset, warcio record or Rejected) for each record of a WARC (plain, gzip or zstd);
    of a gzipped one, with `span`, those whose member starts in that range of bytes, as
    aligned by `record_start`."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if span != (0, None) and not gzipped:
            raise ValueError(f"{path}: only a gzipped WARC file is read in ranges")
        if gzipped:
            start = record_start(f, span[0], limit=span[1]) if span[0] else 0
            if span[1] is not None and start >= span[1]:
                return  # no record starts in this range (a file gzipped whole, say)
            end = record_start(f, span[1]) if span[1] is not None else None
            for offset, data in iter_gzip_members(f, max_bytes, start, end):
                if isinstance(data, Rejected):
                    yield offset, data
                    continue
                if not data.lstrip(b"\r\n").startswith(b"WARC/"):
                    yield offset, Rejected("malformed_record", f"no WARC header at {offset}")
                    continue
                # the consumer reads each record's payload before asking for the next one
                found = 0
                try:
                    for record in ArchiveIterator(io.BytesIO(data), arc2warc=False):
                        found += 1
                        yield offset, record
                except MALFORMED as exc:
                    yield offset, Rejected("malformed_record", f"record at {offset}: {_why(exc)}")
                    continue
                if not found:
                    yield offset, Rejected("malformed_record", f"empty gzip member at {offset}")
            return
    # plain, or zstd (warcio reads neither a .warc.zst nor a bomb in bounded steps by itself);
    # offsets are then in the decompressed stream
    with open_input(path) as f:
        iterator = ArchiveIterator(f, arc2warc=False)
        try:
            for record in iterator:
                # where this record starts (get_record_offset() would read its payload away)
                yield iterator.offset, record
        except (*MALFORMED, CompressedInputError) as exc:
            offset = iterator.offset
            why = _why(exc)
            yield offset, Rejected("malformed_record", f"record after {offset}; rest unread: {why}")


def read_warc(
    path: Path,
    *,
    name: str | None = None,
    source: str = "web",
    options: ExtractOptions = DEFAULT_OPTIONS,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
    select: Callable[[str], bool] | None = None,
    prefilter: Prefilter | None = None,
    span: tuple[int, int | None] = (0, None),
) -> Iterator[StageResult]:
    """The documents of one WARC or WET file; with `select`, only records whose URL it accepts
    (the others are counted as `url_not_selected`, left for another stage). With `prefilter`,
    an HTML record it rejects is not extracted. With `span` (`warc_ranges`), the records of
    that range of a gzipped file only.

    A record is named by its URL and a digest of its payload, so two crawls of one site give
    the same ids whatever their files are called; a record without a URL, or that cannot be
    read, by `name` (the file's identity among the stage's inputs) and its offset."""
    batch = Batcher(part_rows, part_bytes)
    name = name or path.name
    for offset, record in iter_warc_records(path, options.max_bytes * 4, span):
        base = {"id": f"{source}:{name}@{offset}", "source": source}
        if isinstance(record, Rejected):
            base["meta"] = file_meta(path, warc_offset=offset)
            batch.reject(base, record)
        else:
            _record_document(record, offset, path, base, options, batch, select, prefilter)
        yield from batch.drain()
    yield from batch.finish()


def _record_document(
    record, offset, path, base, options, batch: Batcher, select=None, prefilter=None
) -> None:
    kind = record.rec_type
    if kind in NOT_DOCUMENTS:
        batch.count(f"records_{kind}")
        return
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI")
    if select is not None and not select(url or ""):
        batch.count("url_not_selected")
        return
    base["url"] = url
    base["date"] = parse_date(headers.get_header("WARC-Date"))
    base["meta"] = file_meta(
        path,
        warc_offset=offset,
        warc_record_id=headers.get_header("WARC-Record-ID"),
        warc_type=kind,
    )
    try:
        if kind not in ("conversion", "response", "resource"):
            raise Rejected("unsupported_record", f"WARC-Type {kind}")
        data = _read_payload(record, options.max_bytes)
        if url:
            base["id"] = f"{base['source']}:{url}#{hashlib.sha1(data).hexdigest()[:16]}"
        if len(data) > options.max_bytes:
            raise Rejected("too_large", f"payload over max_bytes {options.max_bytes}")
        if kind == "conversion":  # WET: the text is the payload
            text, _ = decode_bytes(data, headers.get_header("Content-Type"))
            if not text.strip():
                raise Rejected("no_text", "empty conversion record")
            batch.add({**base, "text": text})
            return
        status = None
        content_type = headers.get_header("Content-Type")
        if record.http_headers is not None:
            status = record.http_headers.get_statuscode()
            content_type = record.http_headers.get_header("Content-Type")
            if status and not status.startswith("2"):
                raise Rejected("http_status", f"HTTP {status}")
        if not is_html(content_type, data):
            raise Rejected("not_html", f"Content-Type {content_type}")
        if prefilter is not None and (early := prefilter(data, url, content_type, batch.count)):
            raise early
        doc = extract_html(
            data, url=url, content_type=content_type, options=options, count=batch.count
        )
    except Rejected as rej:
        batch.reject(base, rej)
        return
    meta = {**doc.pop("meta"), **base["meta"]}
    doc = {k: v for k, v in doc.items() if v is not None}
    batch.add({**base, **doc, "meta": meta, "url": url or doc.get("url")})


def _read_payload(record, max_bytes: int) -> bytes:
    """The record's payload, up to one byte past `max_bytes` (the caller rejects that)."""
    try:
        return record.content_stream().read(max_bytes + 1)
    except (OSError, zlib.error, EOFError, ValueError, CompressedInputError) as exc:
        raise Rejected("malformed_record", f"payload: {exc}") from None


HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz", ".html.zst")


def read_html_file(
    path: Path,
    *,
    source: str = "web",
    options: ExtractOptions = DEFAULT_OPTIONS,
    url: str | None = None,
    name: str | None = None,
    prefilter: Prefilter | None = None,
) -> Iterator[StageResult]:
    """One document from one HTML file (plain, gzip or zstd), named by `name`, the file's
    identity among the stage's inputs (its base name by default)."""
    batch = Batcher()
    base = {"id": f"{source}:{name or path.name}", "source": source, "meta": file_meta(path)}
    try:
        with open_input(path) as f:
            data = f.read(options.max_bytes + 1)
        if len(data) > options.max_bytes:
            raise Rejected("too_large", f"over max_bytes {options.max_bytes}")
        if not is_html(None, data):
            raise Rejected("not_html", "the file does not start like HTML")
        if prefilter is not None and (early := prefilter(data, url, None, batch.count)):
            raise early
        doc = extract_html(data, url=url, options=options, count=batch.count)
    except Rejected as rej:
        batch.reject(base, rej)
    except (OSError, CompressedInputError) as exc:
        batch.reject(base, Rejected("truncated_input", str(exc)))
    else:
        doc["meta"] = {**doc["meta"], **base["meta"]}
        batch.add({**base, **{k: v for k, v in doc.items() if v is not None}})
    yield from batch.finish()
