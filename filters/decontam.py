"""Decontamination: drop training documents that share a word n-gram with held-out text.

Text is normalized as the exact-dedup keys are (`filters.dedup.keys.normalize_text`: NFKC, case
folding, punctuation and invisible format characters deleted, whitespace runs made one space),
then cut into words as MinHash shingles are (`filters.dedup.minhash.word_spans`: runs of letters
and digits, and each character of a script written without spaces alone). So "The cat's hat." in
a training page and "the cats hat" in a benchmark are the same three words. An n-gram (13 words
by default, as GPT-3's decontamination) is hashed to 64 bits: its words' hashes combined by a
polynomial, then mixed. With 64 bits, an index of a hundred million n-grams flags a clean
document of ten thousand words by chance with odds of about 1 in 10^7.

The index is the sorted distinct hashes of every n-gram of the held-out texts: 8 bytes each, so
its memory is bounded by the size of the held-out set, never by the corpus. A text shorter than
n words has no n-gram and contaminates nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpus.heldout import read_documents
from corpus.stage import StageResult, decide
from filters.dedup.keys import normalize_text
from filters.dedup.lsh import mix64
from filters.dedup.minhash import token_hashes, word_spans, word_windows

BATCH_CHARS = 1 << 22  # characters hashed at a time: bounds a task's memory


def ngram_hashes(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every n-gram hash of every text, in text order, with the text each belongs to and the
    word it starts at."""
    words, counts = token_hashes([normalize_text(t) for t in texts])
    starts = np.cumsum(counts) - counts
    h, doc, inside = word_windows(words, counts, n)
    first = np.flatnonzero(inside)
    return mix64(h[inside]), doc[first], first - starts[doc[first]]


def ngram_text(text: str, start: int, n: int) -> str:
    """The n normalized words of `text` from word `start`: what a match shows."""
    norm = normalize_text(text).lower()  # token_hashes lowercases what it splits
    codes = np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), np.uint32)
    lo, hi = word_spans(codes)
    spans = zip(lo[start : start + n], hi[start : start + n], strict=True)
    return " ".join(norm[a:b] for a, b in spans)


@dataclass(frozen=True)
class NgramIndex:
    """The distinct n-gram hashes of a set of held-out texts, sorted."""

    hashes: np.ndarray
    n: int
    texts: int  # held-out documents read

    @classmethod
    def build(cls, paths: list[Path], n: int, flag: str = "--against") -> NgramIndex:
        found, texts = [np.zeros(0, dtype=np.uint64)], 0
        for path in paths:
            docs = read_documents(Path(path), flag)
            texts += len(docs)
            for batch in _batches(docs):
                found.append(np.unique(ngram_hashes(batch, n)[0]))
        return cls(np.unique(np.concatenate(found)), n, texts)

    def first_matches(self, texts: list[str]) -> list[int | None]:
        """For each text, the word where its first n-gram found in the index starts, or None."""
        out: list[int | None] = [None] * len(texts)
        if not len(self.hashes):
            return out
        offset = 0
        for batch in _batches(texts):
            h, doc, start = ngram_hashes(batch, self.n)
            at = np.minimum(np.searchsorted(self.hashes, h), len(self.hashes) - 1)
            hit = np.flatnonzero(self.hashes[at] == h)
            docs, first = np.unique(doc[hit], return_index=True)  # hits are in text order
            for d, i in zip(docs.tolist(), first.tolist(), strict=True):
                out[offset + d] = int(start[hit[i]])
            offset += len(batch)
        return out

    def decontaminate(self, table: pa.Table) -> StageResult:
        """Keep the documents sharing no n-gram with the index; a dropped one's reason is
        `contaminated` and its `error` the n-gram it shares."""
        texts = table.column("text").to_pylist()
        starts = self.first_matches(texts)
        reasons = [None if s is None else "contaminated" for s in starts]
        result = decide(table, reasons)
        matched = [
            f"shares the {self.n}-gram: {ngram_text(t, s, self.n)}"
            for t, s in zip(texts, starts, strict=True)
            if s is not None
        ]
        errors = pa.array(matched, pa.string())
        result.rejected = result.rejected.set_column(
            result.rejected.schema.get_field_index("error"), "error", errors
        )
        return result


def _batches(texts: list[str]):
    """`texts` in runs of about BATCH_CHARS characters (a longer text is a run by itself)."""
    start, size = 0, 0
    for i, t in enumerate(texts):
        if size and size + len(t) > BATCH_CHARS:
            yield texts[start:i]
            start, size = i, 0
        size += len(t)
    if start < len(texts):
        yield texts[start:]


@lru_cache(maxsize=2)
def _cached(paths: tuple[str, ...], n: int, stats: tuple) -> NgramIndex:
    return NgramIndex.build([Path(p) for p in paths], n)


def index_of(paths: list[str], n: int) -> NgramIndex:
    """The index of `paths`, built once per process while the files stay the same."""
    stats = tuple((os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths)
    return _cached(tuple(paths), n, stats)
