"""The real test data in ../shared/data (cloned beside the checkout, or where CORPUS_SHARED_DATA
says), and real documents of about 1 KB cut from it at paragraph breaks: from the books (both
editions of book 972, both encodings of book 9198), Stack Exchange posts, Reddit comments (grouped
in order), Common Crawl pages and the help topics that ship with Python."""

from __future__ import annotations

import gzip
import json
import os
import pydoc_data.topics
from pathlib import Path

from corpus.compression import open_input
from corpus.sources.books import strip_gutenberg
from corpus.sources.markup import html_to_text
from corpus.sources.stackexchange import ROW, parse_row

SHARED_DATA = Path(
    os.environ.get("CORPUS_SHARED_DATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "data"
)
DOLMA_FILE = SHARED_DATA / "warc" / "dolma_cc_en_head-0091.jsonl.gz"
BOOKS = (
    ("pg972", "pg972_devils-dictionary.txt.gz", "utf-8"),
    ("pg972old", "pg972_old-edition_dvldc10.txt.gz", "latin-1"),
    ("pg9198", "pg9198_complete-angler_ascii.txt.gz", "ascii"),
    ("pg9198latin1", "pg9198_complete-angler_latin1.txt.gz", "latin-1"),
)


def chunks(paragraphs: list[str], target: int) -> list[str]:
    """Consecutive paragraphs joined into pieces of at least `target` characters."""
    out, current = [], []
    size = 0
    for para in paragraphs:
        para = para.strip()
        if not para:
            continue
        current.append(para)
        size += len(para)
        if size >= target:
            out.append("\n\n".join(current))
            current, size = [], 0
    if size >= target // 2:
        out.append("\n\n".join(current))
    return out


def _book_paragraphs(name: str, encoding: str) -> list[str]:
    with gzip.open(SHARED_DATA / "books" / name) as f:
        text = f.read().decode(encoding, "replace").replace("\r\n", "\n")
    body, _ = strip_gutenberg(text)
    return [" ".join(p.split()) for p in body.split("\n\n")]


def _stackexchange() -> list[str]:
    with gzip.open(SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz") as f:
        data = f.read()
    texts = []
    for match in ROW.finditer(data):
        body = parse_row(match.group(0)).get("Body")
        if body:
            texts.append(html_to_text(body))
    return texts


def _reddit() -> list[str]:
    with open_input(SHARED_DATA / "social" / "reddit_from_praw_cassette.ndjson.zst") as f:
        rows = [json.loads(line) for line in f.read().decode().splitlines() if line.strip()]
    return [r.get("body") or r.get("selftext") or "" for r in rows]


def _web() -> list[str]:
    with gzip.open(DOLMA_FILE) as f:
        return [json.loads(line)["text"] for line in f]


def real_documents(target: int = 1000, books: tuple[str, ...] | None = None) -> list[tuple]:
    """(id, text) pairs of about `target` characters each, in a fixed order. `books` names the
    books to include (default all four files, which hold near-duplicates of each other)."""
    docs: list[tuple[str, str]] = []
    for key, name, encoding in BOOKS:
        if books is None or key in books:
            for i, text in enumerate(chunks(_book_paragraphs(name, encoding), target)):
                docs.append((f"{key}-{i}", text))
    pydoc = [t for _, t in sorted(pydoc_data.topics.topics.items())]
    sources = (("se", _stackexchange()), ("reddit", _reddit()), ("web", _web()), ("pydoc", pydoc))
    for key, texts in sources:
        paragraphs = [p for t in texts for p in t.split("\n\n")]
        for i, text in enumerate(chunks(paragraphs, target)):
            docs.append((f"{key}-{i}", text))
    return docs
