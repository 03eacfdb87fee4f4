"""HTML to a document through trafilatura: main text, metadata, and the limits around it.

`favor="precision"` is the default: on the scrapinghub article benchmark in `../shared/data` it
gives a mean token F1 of 0.987 against 0.950 for trafilatura's balanced default, and the same
results on trafilatura's own with/without snippets (see tests/test_extract_web.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import trafilatura
from trafilatura.settings import set_date_params

from corpus.sources.common import (
    Rejected,
    TimeLimitExceeded,
    decode_bytes,
    parse_date,
    time_limit,
)

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # it logs every empty page

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class ExtractOptions:
    favor: str = "precision"  # precision | balanced | recall
    comments: bool = False  # keep the comment section (forum threads want it)
    tables: bool = True
    # a safety net against hangs, not a filter: a page over the limit is tried once more, alone,
    # with retry_time_limit_s (None: 4 x time_limit_s), so that a busy machine drops nothing
    time_limit_s: float = 5.0
    retry_time_limit_s: float | None = None
    max_bytes: int = 8 << 20  # larger pages are rejected as too_large, not parsed
    min_chars: int = 1  # shorter extractions are rejected as no_text
    # where a page's date is looked for: its markup and URL ("markup"), or also guessed from its
    # free text with dateparser ("extensive", trafilatura's default: about 6 ms more a page, and
    # 6 s of regex compiling in each process)
    dates: str = "markup"


DEFAULT_OPTIONS = ExtractOptions()


def is_html(content_type: str | None, data: bytes) -> bool:
    """True for an HTML media type, or, with none given, for bytes that look like HTML."""
    if content_type and content_type.strip():
        return content_type.split(";")[0].strip().lower() in HTML_TYPES
    head = data[:2048].lower()
    if b"\x00" in head:  # binary (or UTF-16, which HTML on the web is not without a BOM)
        return False
    return any(tag in head for tag in (b"<!doctype html", b"<html", b"<head", b"<body", b"<p"))


def extract_html(
    data: bytes,
    *,
    url: str | None = None,
    content_type: str | None = None,
    options: ExtractOptions | None = None,
    count: Callable[[str], None] | None = None,
) -> dict:
    """The Document fields trafilatura finds in one page; raises Rejected when there are none.
    `count` is called with a counter's name when a page is retried after a timeout, and again
    when that retry finishes."""
    options = options or DEFAULT_OPTIONS
    if len(data) > options.max_bytes:
        raise Rejected("too_large", f"{len(data)} bytes > max_bytes {options.max_bytes}")
    html, charset = decode_bytes(data, content_type, html=True)
    try:
        doc = _extract_with_retry(html, url, options, count or (lambda name: None))
    except TimeLimitExceeded as exc:
        raise Rejected("extract_timeout", str(exc)) from None
    except (ValueError, TypeError, RecursionError, AssertionError) as exc:
        raise Rejected("extract_error", f"{type(exc).__name__}: {exc}") from None
    if doc is None:
        raise Rejected("no_text", "trafilatura found no main text")
    text = doc.text or ""
    if options.comments and doc.comments:
        text = f"{text}\n\n{doc.comments}" if text else doc.comments
    if len(text.strip()) < options.min_chars:
        raise Rejected("no_text", f"{len(text.strip())} characters of text")
    meta = {"charset": charset}
    for key in ("sitename", "hostname", "description", "categories", "tags", "language"):
        value = getattr(doc, key, None)
        if value:
            meta[key] = value
    return {
        "text": text,
        "title": doc.title or None,
        "author": doc.author or None,
        "date": parse_date(doc.date),
        "url": url or doc.url or None,
        "meta": meta,
    }


def _extract_with_retry(
    html: str, url: str | None, options: ExtractOptions, count: Callable[[str], None]
):
    """trafilatura's extraction within the time limit; a page over it is tried once more with the
    retry limit (counted `extract_timeout_retried`, then `extract_timeout_recovered` when that
    try finishes; one that does not raises TimeLimitExceeded)."""
    try:
        return _extract(html, url, options, options.time_limit_s)
    except TimeLimitExceeded:
        count("extract_timeout_retried")
    retry_s = options.retry_time_limit_s
    doc = _extract(html, url, options, 4 * options.time_limit_s if retry_s is None else retry_s)
    count("extract_timeout_recovered")
    return doc


def _extract(html: str, url: str | None, options: ExtractOptions, limit_s: float):
    with time_limit(limit_s):
        return trafilatura.bare_extraction(
            html,
            url=url,
            favor_precision=options.favor == "precision",
            favor_recall=options.favor == "recall",
            include_comments=options.comments,
            include_tables=options.tables,
            with_metadata=True,
            deduplicate=False,
            date_extraction_params=set_date_params(options.dates == "extensive"),
        )
