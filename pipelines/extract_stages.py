"""The `extract_*` source stages: one per kind of source (web, article, book, forum, social).

Each reads its input files by format, sniffed from the file's first bytes (so a `.gz` or `.zst`
of any format works), and counts a file it cannot read as `unsupported_format`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from corpus import storage
from corpus.compression import GZIP_MAGIC, ZSTD_LONG_WINDOW, CompressedInputError, open_input
from corpus.sources.books import read_epub, read_text_book
from corpus.sources.common import Batcher, Rejected, file_meta
from corpus.sources.html import ExtractOptions, is_html
from corpus.sources.social import read_mastodon, read_reddit, read_twitter
from corpus.sources.stackexchange import is_posts_xml, read_posts_xml
from corpus.sources.warc import read_html_file, read_warc, warc_ranges
from corpus.stage import StageResult
from filters import prefilter as early
from pipelines import forum_ranges
from pipelines.inputs import InputFile, expand_paths
from pipelines.stages import Phased, SourceStage

SNIFF_BYTES = 65536


def sniff(path: Path) -> bytes:
    """The first bytes of a file, decompressed, as far as they can be read (a WARC file whose
    second gzip member is corrupt still starts like one); b"" if none can."""
    head = b""
    try:
        # any window a Reddit dump uses: reading 64 KiB fills little of it
        with open_input(path, max_window=ZSTD_LONG_WINDOW) as f:
            while len(head) < SNIFF_BYTES and (block := f.read(4096)):
                head += block
    except (OSError, CompressedInputError):
        pass
    return head[:SNIFF_BYTES]


def unsupported(path: Path, name: str, source: str, why: str) -> Iterator[StageResult]:
    batch = Batcher()
    row = {"id": f"{source}:{name}", "source": source, "meta": file_meta(path)}
    batch.reject(row, Rejected("unsupported_format", why))
    yield from batch.finish()


@dataclass(frozen=True)
class _Common:
    paths: list[str] = field(default_factory=list)  # or `input:` naming a crawl stage
    part_rows: int = 100_000  # most documents a part
    part_mb: int = 64  # most MB of text a part

    def __post_init__(self):
        if min(self.part_rows, self.part_mb) < 1:
            raise ValueError("part_rows and part_mb must be at least 1")


class _Extract(SourceStage):
    source = "web"

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        group = params.get("prefilter")
        if not group:
            return []
        try:
            return early.files(early.PrefilterParams(**group))
        except (TypeError, ValueError):
            return []  # the params check names what is wrong

    def input_files(self) -> list[Path]:
        return expand_paths(self.params.paths)

    def sizes(self) -> dict:
        return {"part_rows": self.params.part_rows, "part_bytes": self.params.part_mb << 20}


@dataclass(frozen=True)
class _HtmlParams(_Common):
    favor: Literal["precision", "balanced", "recall"] = "precision"  # trafilatura's trade-off
    comments: bool = False  # keep a page's comment section
    time_limit_s: float = 5.0  # extraction time a page (retried once with 4 times as long)
    max_page_mb: float = 8.0  # larger pages are rejected as too_large, not parsed
    min_chars: int = 1  # shorter extractions are rejected as no_text
    # a page's date from its markup and URL, or also guessed from its text (slower)
    dates: Literal["markup", "extensive"] = "markup"

    # regexes (searched in the record's URL) choosing which WARC records this stage reads, so
    # that two stages can split one crawl (`/news/` as articles, the rest as web pages); the
    # others are counted as url_not_selected
    url_include: str | None = None
    url_exclude: str | None = None  # records whose URL matches it are not read
    # early decisions on a fast rendering, before trafilatura (language, length, URL block
    # lists): a record they drop is never extracted; see filters/prefilter.py
    prefilter: early.PrefilterParams | None = None

    def __post_init__(self):
        super().__post_init__()
        for key in ("url_include", "url_exclude"):
            try:
                re.compile(getattr(self, key) or "")
            except re.error as exc:
                raise ValueError(f"{key} is not a valid regex: {exc}") from None

    def select(self):
        """A test of a record's URL, or None to read every record."""
        if self.url_include is None and self.url_exclude is None:
            return None
        include = re.compile(self.url_include or "")
        exclude = re.compile(self.url_exclude) if self.url_exclude else None

        def chosen(url: str) -> bool:
            return bool(include.search(url)) and not (exclude and exclude.search(url))

        return chosen


def _options(p: _HtmlParams, comments: bool | None = None) -> ExtractOptions:
    return ExtractOptions(
        favor=p.favor,
        comments=p.comments if comments is None else comments,
        time_limit_s=p.time_limit_s,
        max_bytes=int(p.max_page_mb * (1 << 20)),
        min_chars=p.min_chars,
        dates=p.dates,
    )


def _read_web(
    stage: _Extract,
    path: Path,
    name: str,
    options: ExtractOptions,
    head: bytes | None = None,
    span: tuple[int, int | None] = (0, None),
) -> Iterator[StageResult]:
    """`head`: the file's first bytes, where the caller has sniffed them already; `span`: the
    byte range of a gzipped WARC file that this task reads."""
    head = sniff(path) if head is None else head
    source = stage.source
    first = early.build(stage.params.prefilter)
    check = first.check if first is not None else None
    if head.startswith((b"WARC/", b"warc/")):
        select = stage.params.select()
        return read_warc(
            path,
            name=name,
            source=source,
            options=options,
            select=select,
            prefilter=check,
            span=span,
            **stage.sizes(),
        )
    if is_html(None, head):
        return read_html_file(path, name=name, source=source, options=options, prefilter=check)
    return unsupported(path, name, source, "neither a WARC/WET file nor an HTML page")


class ExtractWeb(_Extract):
    """Web pages from WARC/WET files (Common Crawl, our crawler) and HTML files, via trafilatura."""

    source = "web"

    @dataclass(frozen=True)
    class Params(_HtmlParams):
        # a gzipped WARC file larger than this is read as ranges of records of about this
        # size, one task each, so that files of unequal size keep every worker busy; null
        # reads each file whole
        range_mb: float | None = 64

        def __post_init__(self):
            super().__post_init__()
            if self.range_mb is not None and self.range_mb < 0.01:
                raise ValueError("range_mb must be at least 0.01 (or null)")

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        return _read_web(self, path, name, _options(self.params))

    def split_bytes(self, path: Path) -> int | None:
        every = self.params.range_mb
        if every is None or storage.is_remote(path):  # a remote file is fetched whole
            return None
        try:
            with open(path, "rb") as f:
                gzipped = f.read(2) == GZIP_MAGIC
        except OSError:
            return None  # read whole, where its error is a named rejection
        if not gzipped or not sniff(path).startswith((b"WARC/", b"warc/")):
            return None
        return max(1, int(every * (1 << 20)))

    def ranges(self, one: InputFile, every: int, cache_dir: Path | None) -> list[InputFile]:
        spans = warc_ranges(one.path, every)
        return [InputFile(one.path, one.name, start, end) for start, end in spans]

    def read_group(self, inputs: list[InputFile]) -> Iterator[StageResult]:
        (one,) = inputs  # a whole file is the span (0, None)
        return _read_web(self, one.path, one.name, _options(self.params), span=(one.start, one.end))


class ExtractArticle(ExtractWeb):
    """News and blog articles (WARC or HTML) with title, author and date, via trafilatura."""

    source = "article"


class ExtractBook(_Extract):
    """Books: Project Gutenberg texts (headers stripped), EPUB files, plain text files."""

    source = "book"

    @dataclass(frozen=True)
    class Params(_Common):
        max_book_mb: int = 256  # larger books are rejected as too_large

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        max_bytes = self.params.max_book_mb << 20
        if sniff(path).startswith(b"PK\x03\x04"):
            return read_epub(path, name=name, max_bytes=max_bytes)
        return read_text_book(path, name=name, max_bytes=max_bytes)


class ExtractForum(_Extract, Phased):
    """Forums: Stack Exchange Posts.xml dumps (threads), forum HTML pages (comments kept). A
    plain Posts.xml larger than a part is read as byte ranges by several tasks, whose posts
    meet their threads in a second phase (`pipelines.forum_ranges`)."""

    source = "forum"

    @dataclass(frozen=True)
    class Params(_HtmlParams):
        comments: bool = True
        site: str | None = None  # e.g. https://datascience.stackexchange.com, for thread URLs
        min_score: int | None = None  # answers scored below it are left out of a thread
        max_answers: int | None = None  # at most this many answers a thread

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        p = self.params
        head = sniff(path)
        if is_posts_xml(head):
            return read_posts_xml(
                path,
                name=name,
                site=p.site,
                min_score=p.min_score,
                max_answers=p.max_answers,
                scratch_dir=self.scratch_dir,
                **self.sizes(),
            )
        return _read_web(self, path, name, _options(p), head)

    def split_bytes(self, path: Path) -> int | None:
        every = self.params.part_mb << 20
        return every if forum_ranges.splits(path, every) else None

    def phased(self, tasks: list) -> bool:
        return any(not one.whole for t in tasks for one in t.inputs)

    def drive(self, driver, tasks: list) -> tuple[list[dict], dict]:
        return forum_ranges.drive(self, driver, tasks)

    def run_task(self, phase: str, payload, out) -> dict:
        return forum_ranges.run_task(self, phase, payload, out)


class ExtractSocial(_Extract):
    """Social threads: Reddit NDJSON dumps, Twitter API v2 pages, Mastodon outboxes."""

    source = "social"

    @dataclass(frozen=True)
    class Params(_Common):
        format: Literal["auto", "reddit", "twitter", "mastodon"] = "auto"  # auto: sniffed
        min_score: int | None = None  # Reddit comments below it are dropped

    def _format(self, path: Path) -> str | None:
        fmt = self.params.format
        return detect_social(sniff(path)) if fmt == "auto" else fmt

    def group_inputs(self, inputs: list[InputFile]) -> list[list[InputFile]]:
        """Every Reddit file of the stage in one task, as a thread's submission and comments
        come in different files (RS_ and RC_ dumps, later months); likewise Twitter pages,
        as a conversation spans pages. Other files are read one a task."""
        groups: list[list[InputFile]] = []
        by_format: dict[str, list[InputFile]] = {}
        for one in inputs:
            fmt = self._format(one.path)
            if fmt in ("reddit", "twitter"):
                if fmt not in by_format:
                    by_format[fmt] = []
                    groups.append(by_format[fmt])
                by_format[fmt].append(one)
            else:
                groups.append([one])
        return groups

    def read_group(self, inputs: list[InputFile]) -> Iterator[StageResult]:
        fmt = self._format(inputs[0].path)
        common = {"scratch_dir": self.scratch_dir, **self.sizes()}
        paths, names = [one.path for one in inputs], [one.name for one in inputs]
        if fmt == "reddit":
            return read_reddit(paths, names=names, min_score=self.params.min_score, **common)
        if fmt == "twitter":
            return read_twitter(paths, names=names, **common)
        (one,) = inputs
        if fmt == "mastodon":
            return read_mastodon(one.path, name=one.name, **common)
        why = "not a Reddit dump, Twitter v2 page or Mastodon outbox"
        return unsupported(one.path, one.name, "social", why)


REDDIT_KEYS = ("subreddit", "link_id", "selftext", "body")  # any one marks a Reddit post
REDDIT_KEY = re.compile(rb'"(' + "|".join(REDDIT_KEYS).encode() + rb')"\s*:')


def detect_social(head: bytes) -> str | None:
    first = head.split(b"\n", 1)[0]
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        obj = None
    if isinstance(obj, dict):
        if isinstance(obj.get("data"), list):
            return "twitter"
        if obj.keys() & set(REDDIT_KEYS):
            return "reddit"
        if obj.get("type") in ("OrderedCollection", "OrderedCollectionPage"):
            return "mastodon"
    if re.match(rb'\s*\{\s*"data"\s*:\s*\[', first):  # a page longer than the sniffed bytes
        return "twitter"
    if re.search(rb'"(orderedItems|OrderedCollection(Page)?)"', head):
        return "mastodon"
    if obj is None and re.match(rb'\s*\{\s*"', first) and REDDIT_KEY.search(first):
        return "reddit"  # a post longer than the sniffed bytes
    return None
