"""The crawl's WARC files: the record of what was fetched, and the frontier's state.

Every URL the crawler handles ends in one `metadata` record (JSON: the URL, its depth, outcome,
reason, and the links found), written after the URL's request and response records, all in one
write followed by fsync. So the WARC alone says which URLs are done and what they linked to: a
killed crawl, or a partition's task run again after its worker died, cuts the file back to its
last complete URL and resumes from it, fetching nothing twice. Metadata records carry
`Content-Type: application/json; profile=corpus-crawl`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus.sources.common import Rejected
from corpus.sources.warc import MALFORMED, iter_gzip_members

OUTCOME_TYPE = "application/json; profile=corpus-crawl"
MAX_MEMBER = 1 << 30  # one record decompressed; pages are capped far below this


def unit_bytes(outcome: dict, response=None) -> bytes:
    """The gzip members for one URL: request + response (if kept) + the outcome record."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    if response is not None:
        req_line = response.url.split("/", 3)[3] if response.url.count("/") >= 3 else ""
        request = writer.create_warc_record(
            response.url,
            "request",
            http_headers=StatusAndHeaders(
                f"GET /{req_line} HTTP/1.1", response.request_headers, is_http_request=True
            ),
        )
        http = StatusAndHeaders(
            f"{response.status} {response.reason}", response.headers, protocol="HTTP/1.1"
        )
        record = writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(response.body),
            http_headers=http,
            warc_headers_dict={"WARC-IP-Address": response.ip},
        )
        record.rec_headers.replace_header(
            "WARC-Concurrent-To", request.rec_headers.get_header("WARC-Record-ID")
        )
        writer.write_record(request)
        writer.write_record(record)
    body = json.dumps(outcome, sort_keys=True).encode()
    meta = writer.create_warc_record(
        outcome["url"],
        "metadata",
        payload=io.BytesIO(body),
        warc_content_type=OUTCOME_TYPE,
        length=len(body),
    )
    writer.write_record(meta)
    return buf.getvalue()


def append_unit(path: Path, data: bytes) -> None:
    """Append one URL's records and make them durable before the URL counts as done."""
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def scan(path: Path) -> Iterator[dict]:
    """The outcomes recorded in a crawl WARC, one per URL; repairs the file first.

    A URL counts when its records end in its outcome record. A killed write leaves records
    without an outcome at the end: they are cut off. Such records in the middle of the file (a
    torn member from an older crash, then more appends) and a URL's second copy are cut out,
    keeping every complete URL after them.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        members = [(offset, _kind(data)) for offset, data in iter_gzip_members(f, MAX_MEMBER)]
    ends = [offset for offset, _ in members[1:]] + [size]
    units: list[tuple[int, int]] = []  # byte ranges of complete URLs, in file order
    outcomes: list[dict] = []
    seen: set[str] = set()
    unit_start, unit_url = 0, None
    for (offset, kind), end in zip(members, ends, strict=True):
        if kind == "bad":  # the URL this member belongs to is incomplete
            unit_start, unit_url = end, None
            continue
        request = isinstance(kind, tuple) and kind[0] == "request"
        url = kind[1] if isinstance(kind, tuple) else kind["url"]
        # a request begins a URL's records, and a record of another URL begins that URL's:
        # whole records torn from their outcome (a write killed between two members) go
        if request or (unit_url is not None and url != unit_url):
            unit_start = offset
        unit_url = url
        if isinstance(kind, dict):
            if url not in seen:
                seen.add(url)
                units.append((unit_start, end))
                outcomes.append(kind)
            unit_start, unit_url = end, None
    _keep_only(path, units, size)
    return iter(outcomes)


def _kind(data: bytes | Rejected) -> dict | tuple[str, str] | str:
    """What one gzip member holds: an outcome (a dict), (record type, target URI) for another
    whole WARC record, "bad" for anything else (torn, corrupt, not one WARC record)."""
    if isinstance(data, Rejected):
        return "bad"
    found = []
    try:
        for record in ArchiveIterator(io.BytesIO(data)):
            content_type = record.rec_headers.get_header("Content-Type") or ""
            body = record.content_stream().read()
            is_outcome = record.rec_type == "metadata" and content_type == OUTCOME_TYPE
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            found.append(json.loads(body) if is_outcome else (record.rec_type, uri))
    except MALFORMED:
        return "bad"
    if len(found) != 1 or (isinstance(found[0], dict) and "url" not in found[0]):
        return "bad"
    return found[0]


def _keep_only(path: Path, units: list[tuple[int, int]], size: int) -> None:
    """Cut `path` down to the byte ranges `units`: truncated when they are all its start,
    else rewritten under a temporary name and renamed into place."""
    ends = [0] + [end for _, end in units]
    if all(start == end for (start, _), end in zip(units, ends, strict=False)):
        if ends[-1] < size:
            with open(path, "r+b") as f:
                f.truncate(ends[-1])
                f.flush()
                os.fsync(f.fileno())
        return
    tmp = path.with_name(path.name + ".repair")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        for start, end in units:
            src.seek(start)
            dst.write(src.read(end - start))
        dst.flush()
        os.fsync(dst.fileno())
    tmp.replace(path)
