"""Real documents of about 1 KB from ../shared/data, and near-duplicates planted among them at
measured Jaccard similarity: the input of the dedup tests and benchmarks.

Documents are cut at paragraph breaks from the books (both editions of book 972, both encodings of
book 9198), Stack Exchange posts, Reddit comments (grouped in order), Common Crawl pages and the
help topics that ship with Python.
"""

from __future__ import annotations

import gzip
import json
import os
import pydoc_data.topics
import random
from pathlib import Path

from corpus.compression import open_input
from corpus.sources.books import strip_gutenberg
from corpus.sources.markup import html_to_text
from corpus.sources.stackexchange import ROW, parse_row

# the shared data cloned beside the checkout, or where CORPUS_SHARED_DATA says (as in the tests)
SHARED = Path(
    os.environ.get("CORPUS_SHARED_DATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "data"
)

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
    with gzip.open(SHARED / "books" / name) as f:
        text = f.read().decode(encoding, "replace").replace("\r\n", "\n")
    body, _ = strip_gutenberg(text)
    return [" ".join(p.split()) for p in body.split("\n\n")]


def _stackexchange() -> list[str]:
    with gzip.open(SHARED / "forums" / "datascience-se_Posts.xml.gz") as f:
        data = f.read()
    texts = []
    for match in ROW.finditer(data):
        body = parse_row(match.group(0)).get("Body")
        if body:
            texts.append(html_to_text(body))
    return texts


def _reddit() -> list[str]:
    with open_input(SHARED / "social" / "reddit_from_praw_cassette.ndjson.zst") as f:
        rows = [json.loads(line) for line in f.read().decode().splitlines() if line.strip()]
    return [r.get("body") or r.get("selftext") or "" for r in rows]


def _web() -> list[str]:
    with gzip.open(SHARED / "warc" / "dolma_cc_en_head-0091.jsonl.gz") as f:
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


# --- planted near-duplicates ----------------------------------------------------------------


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams of the lowercased text, as tuples: the truth, computed without our hashing."""
    words = text.lower().split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _edit(words: list[str], amount: float, rng: random.Random, filler: list[str]) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(amount * len(words) / 5))):
        out[rng.randrange(len(out))] = rng.choice(filler)
    return out


def _insert(words: list[str], amount: float, rng: random.Random, filler: list[str]) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(amount * len(words) / 20))):
        at = rng.randrange(len(out) + 1)
        start = rng.randrange(max(1, len(filler) - 12))
        out[at:at] = filler[start : start + 12]
    return out


def _reorder(words: list[str], amount: float, rng: random.Random, filler: list[str]) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(amount * len(words) / 25))):
        cut = sorted(rng.sample(range(1, len(out)), 2))
        out = out[: cut[0]] + out[cut[1] :] + out[cut[0] : cut[1]]  # move a block to the end
    return out


KINDS = {"edit": _edit, "insert": _insert, "reorder": _reorder}
LEVELS = (1.0, 0.95, 0.9, 0.85, 0.7, 0.6, 0.5)


def plant(text: str, kind: str, target: float, rng: random.Random, filler: list[str]) -> str:
    """A variant of `text` by `kind` whose shingle Jaccard with it is close to `target`."""
    words = text.split()
    if target >= 1.0:
        return text
    base = shingles(text)
    lo, hi = 0.0, 2.0
    best = words
    for _ in range(12):  # bisect the amount of change; each try from the same seed
        amount = (lo + hi) / 2
        candidate = KINDS[kind](words, amount, random.Random(rng.random()), filler)
        j = jaccard(base, shingles(" ".join(candidate)))
        best = candidate
        if abs(j - target) < 0.01:
            break
        if j > target:
            lo = amount
        else:
            hi = amount
    return " ".join(best)


def planted_corpus(n_base: int, n_variants: int, seed: int = 7) -> list[tuple[str, str]]:
    """`n_base` real documents (books without their second edition or encoding) plus
    `n_variants` planted near-duplicates of some of them, each made by one kind of change at one
    of LEVELS of Jaccard similarity; the (id, text) pairs in a shuffled order."""
    rng = random.Random(seed)
    docs = real_documents(books=("pg972", "pg9198"))
    docs = [d for d in docs if len(d[1].split()) >= 60]
    rng.shuffle(docs)
    base = docs[:n_base]
    filler = " ".join(t for _, t in docs[n_base : n_base + 50]).split()
    out = list(base)
    for i in range(n_variants):
        doc_id, text = base[i % n_base]
        kind = rng.choice(sorted(KINDS))
        level = LEVELS[i % len(LEVELS)]
        out.append((f"{doc_id}~{kind}{level}-{i}", plant(text, kind, level, rng, filler)))
    rng.shuffle(out)
    return out
