"""The crawl's WARC files: the record of what was fetched, and the frontier's state.

Every URL the crawler handles ends in one `metadata` record (JSON: the URL, its depth, outcome,
reason, and the links found), written after the URL's request and response records, all in one
write followed by fsync. So the WARC alone says which URLs are done and what they linked to: a
killed crawl cuts its files back to the last complete URL and resumes from them, fetching nothing
twice. Metadata records carry `Content-Type: application/json; profile=corpus-crawl`.
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
from corpus.sources.warc import iter_gzip_members

OUTCOME_TYPE = "application/json; profile=corpus-crawl"


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
    """The outcomes recorded in a crawl WARC; cuts off an incomplete tail (a killed write)."""
    size = path.stat().st_size
    good_end = 0
    outcomes = []
    previous_was_outcome = False
    with open(path, "rb") as f:
        for offset, data in iter_gzip_members(f, 1 << 30):
            if previous_was_outcome:
                good_end = offset
            previous_was_outcome = False
            if isinstance(data, Rejected):
                break
            for record in ArchiveIterator(io.BytesIO(data)):
                content_type = record.rec_headers.get_header("Content-Type") or ""
                if record.rec_type == "metadata" and content_type == OUTCOME_TYPE:
                    outcomes.append(json.loads(record.content_stream().read()))
                    previous_was_outcome = True
                else:
                    record.content_stream().read()
        else:
            if previous_was_outcome:
                good_end = size
    if good_end < size:
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return iter(outcomes)
