"""Spans of a document for sub-document dedup: its lines, or its paragraphs, each with a 128-bit
key of its normalized text.

A line ends at "\\n". A paragraph is a run of lines between blank lines (lines of whitespace
only). A span is keyed as a whole document is for exact dedup (`filters.dedup.keys`: NFKC, case
folding, punctuation and format characters deleted, whitespace runs made one space, BLAKE2b-128),
so "Share this page!" and "share this page" are one span. A span whose text has fewer than
`min_chars` characters, not counting whitespace at its ends, gets no key and is never removed;
nor is one that normalizes to nothing (a rule of dashes).

Removing spans keeps the rest as it was: each kept span with the separator that came before it
(none before the first kept), so a document that loses nothing is unchanged to the byte.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

import numpy as np

from filters.dedup.keys import normalize_text
from filters.dedup.lsh import bytes_key

UNITS = ("lines", "paragraphs")
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")  # one or more blank lines, with their ends
LONG_SPAN = 100_000  # characters: a span this long is counted (and keyed like any other)


@dataclass(frozen=True)
class Spans:
    """The spans of a batch of documents, span by span in document order."""

    doc: np.ndarray  # int64: the document (its index in the batch)
    index: np.ndarray  # int32: the span's place in its document
    k1: np.ndarray  # uint64: its key; 0, 0 for a span without one (too short)
    k2: np.ndarray
    keyed: np.ndarray  # bool: has a key
    long: int  # spans of LONG_SPAN characters or more


def split(text: str, unit: str) -> tuple[list[str], list[str]]:
    """The spans of `text` and the separator before each (the first's is "")."""
    if unit == "lines":
        parts = text.split("\n")
        return parts, [""] + ["\n"] * (len(parts) - 1)
    spans, seps, start, sep = [], [], 0, ""
    for m in _BLANK_LINES.finditer(text):
        spans.append(text[start : m.start()])
        seps.append(sep)
        start, sep = m.end(), m.group()
    spans.append(text[start:])
    seps.append(sep)
    return spans, seps


def keys(texts: list[str], unit: str, min_chars: int) -> Spans:
    """Every span of every text, with its key."""
    # typed arrays, not lists: a part's spans are 8 bytes a column each, not a Python int
    doc, index, k1, k2, long = array("q"), array("i"), array("Q"), array("Q"), 0
    keyed = bytearray()
    for d, text in enumerate(texts):
        spans, _ = split(text, unit)
        for i, span in enumerate(spans):
            doc.append(d)
            index.append(i)
            stripped = span.strip()
            long += len(span) >= LONG_SPAN
            normalized = normalize_text(stripped) if len(stripped) >= min_chars else ""
            if normalized:
                a, b = bytes_key(normalized.encode("utf-8"))
                k1.append(a)
                k2.append(b)
                keyed.append(1)
            else:
                k1.append(0)
                k2.append(0)
                keyed.append(0)
    return Spans(
        np.frombuffer(doc, dtype=np.int64),
        np.frombuffer(index, dtype=np.intc).astype(np.int32, copy=False),
        np.frombuffer(k1, dtype=np.uint64),
        np.frombuffer(k2, dtype=np.uint64),
        np.frombuffer(keyed, dtype=bool),
        long,
    )


def remove(text: str, unit: str, drop: set[int]) -> tuple[str, list[tuple[int, int]]]:
    """`text` without the spans numbered in `drop`, and where each removed span was in `text`
    (character offsets, start and end)."""
    if not drop:
        return text, []
    spans, seps = split(text, unit)
    kept, removed, at = [], [], 0
    for i, (span, sep) in enumerate(zip(spans, seps, strict=True)):
        at += len(sep)
        if i in drop:
            removed.append((at, at + len(span)))
        else:
            kept.append(sep if kept else "")
            kept.append(span)
        at += len(span)
    return "".join(kept), removed
