"""MinHash signatures, vectorized over a whole batch of documents: no Python loop per shingle.

A document's shingles are the word n-grams of its lowercased text (`filters.text.words`), so text
in scripts written without spaces, where each character is a word, is shingled by character
n-grams; a document with fewer words than n has one shingle, all its words. Each distinct word is
found and hashed for the whole batch at once (`token_hashes`: character classes and a polynomial
hash over prefix sums, the same in every process). An n-gram's hash combines its words' hashes by a
polynomial over 64-bit integers, truncated to 32 bits, for every n-gram of every document in n
array passes.

Permutation i maps a 32-bit shingle hash x to a_i·x + b_i mod 2^32 (a_i odd, so a bijection: two
documents agree in column i exactly when the same shingle is their minimum), with a_i, b_i drawn
from the seed. That is 32-bit integer arithmetic, which numpy vectorizes, with no division, unlike
datasketch's mod-prime family; the shingle hashes it permutes are already well mixed, and its
minima estimate Jaccard similarity as closely (tests/test_minhash.py). A signature is the
minimum over a document's shingles for each permutation, taken for many documents at once with
`np.minimum.reduceat` over blocks of shingles cut at document boundaries.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import regex

from filters.dedup.lsh import mix64
from filters.text import NO_SPACE_CHARS

MAX_HASH = np.uint64((1 << 32) - 1)
EMPTY = np.uint32((1 << 32) - 1)  # the signature value of a document with no shingles
_POLY = np.uint64(0x100000001B3)
BATCH_CHARS = 1 << 22  # characters shingled at a time
_BLOCK = 1 << 14  # shingles permuted at a time: bounds memory to _BLOCK × num_perm × 4 bytes


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) coefficients of `num_perm` permutations of 32-bit values, drawn from `seed`;
    a is odd, so x -> a·x + b mod 2^32 is a bijection."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


OTHER, WORD, SINGLE, JOINER = 0, 1, 2, 3
_SINGLE_RE = regex.compile(f"[{NO_SPACE_CHARS}]", regex.V1)
_WORD_RE = regex.compile(f"[^\\W{NO_SPACE_CHARS}]", regex.V1)
_BASE = np.uint64(0x9E3779B97F4A7C15 | 1)  # odd, so it has an inverse modulo 2^64
_BASE_INV = np.uint64(pow(int(_BASE), -1, 1 << 64))


def _char_class(c: str) -> int:
    if _SINGLE_RE.match(c):
        return SINGLE
    if _WORD_RE.match(c):
        return WORD
    return JOINER if c in "'’-." else OTHER


@lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    """The class of every code point below 65,536, built once per process (~0.1 s)."""
    return np.array([_char_class(chr(cp)) for cp in range(1 << 16)], dtype=np.uint8)


def _classes(codes: np.ndarray) -> np.ndarray:
    """The class of each code point."""
    table = _bmp_classes()
    astral = codes >= (1 << 16)
    if not astral.any():
        return table[codes]
    out = table[np.where(astral, 0, codes)]
    where = np.flatnonzero(astral)
    out[where] = [_char_class(chr(cp)) for cp in codes[where].tolist()]
    return out


def word_spans(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every word in an array of code points, as `filters.text.words` splits:
    runs of letters, marks, digits and "_" joined by single inner ' ’ - or ., and each character
    of a script written without spaces alone."""
    cls = _classes(codes)
    word = cls == WORD
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    inside = word | ((cls == JOINER) & prev_word & next_word)
    before = np.concatenate(([False], inside[:-1]))
    after = np.concatenate((inside[1:], [False]))
    single = np.flatnonzero(cls == SINGLE)
    starts = np.concatenate((np.flatnonzero(inside & ~before), single))
    ends = np.concatenate((np.flatnonzero(inside & ~after) + 1, single + 1))
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


CHUNK = 1 << 20  # code points hashed at once (one longer text is hashed on its own)
_POWERS: list[np.ndarray] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^(i+1) and B^-(i+1) mod 2^64 for i < n. The first CHUNK are made once and kept; a
    longer table (for one text longer than that) is made for the call and let go, so what a
    worker keeps does not grow with the longest document it has seen."""
    size = max(n, CHUNK)
    if size == CHUNK and _POWERS:
        return _POWERS[0][:n], _POWERS[1][:n]
    with np.errstate(over="ignore"):
        table = [
            np.cumprod(np.full(size, _BASE, dtype=np.uint64)),
            np.cumprod(np.full(size, _BASE_INV, dtype=np.uint64)),
        ]
    if size == CHUNK:
        _POWERS[:] = table
    return table[0][:n], table[1][:n]


def token_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of every lowercased word of every text, in one array, and each text's
    number of words; a word's hash depends on its characters only, so it is the same in every
    batch and every process. Texts are hashed in runs of about CHUNK code points: each run is one
    array of code points, its words found by character classes and hashed by a polynomial over
    prefix sums, with no loop per word."""
    runs, start, held = [], 0, 0
    for i, t in enumerate(texts):
        if held and held + len(t) + 1 > CHUNK:
            runs.append(texts[start:i])
            start, held = i, 0
        held += len(t) + 1
    runs.append(texts[start:])
    if len(runs) == 1:
        return _token_hashes(texts)
    parts = [_token_hashes(run) for run in runs]
    return np.concatenate([h for h, _ in parts]), np.concatenate([c for _, c in parts])


def _token_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    lowered = [t.lower() for t in texts]
    lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
    codes = np.frombuffer("\n".join(lowered).encode("utf-32-le", "surrogatepass"), np.uint32)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(len(texts), dtype=np.int64)
    starts, ends = word_spans(codes)
    powers, inverse = _powers(len(codes))
    with np.errstate(over="ignore"):
        one = np.ones(1, dtype=np.uint64)
        prefix = np.concatenate((one - one, np.cumsum(codes.astype(np.uint64) * powers)))
        # sum of c_i·B^(i+1) over the word, shifted to start at B^1 by B^-(start)
        h = (prefix[ends] - prefix[starts]) * np.concatenate((one, inverse))[starts]
        h = mix64(h + (ends - starts).astype(np.uint64) * _BASE)
    doc_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    doc = np.searchsorted(doc_starts, starts, side="right") - 1
    return h, np.bincount(doc, minlength=len(texts)).astype(np.int64)


def word_windows(
    ids: np.ndarray, counts: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hash of every run of n consecutive words of `token_hashes` (their hashes combined by
    a polynomial), the text of each word, and which runs lie within one text."""
    h = np.zeros(max(len(ids) - n + 1, 0), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _POLY + ids[k : k + len(h)]
    doc = np.repeat(np.arange(len(counts)), counts)
    return h, doc, doc[: len(h)] == doc[n - 1 :]


def shingles_of_batch(texts: list[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Every shingle hash (32 bits, in uint64) of every text, in text order, and each text's
    number of shingles (repeats included: they do not change a minimum)."""
    ids, counts = token_hashes(texts)
    starts = np.cumsum(counts) - counts
    h, doc, inside = word_windows(ids, counts, ngram)
    shingles = h[inside]
    n_shingles = np.maximum(counts - ngram + 1, 0)
    short = np.flatnonzero((counts > 0) & (counts < ngram))
    if len(short):  # fewer words than n: one shingle of all of them, spliced into place
        extra = np.zeros(len(short), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for row, d in enumerate(short):
                for k in range(counts[d]):
                    extra[row] = extra[row] * _POLY + ids[starts[d] + k]
        n_shingles[short] = 1
        offsets = np.concatenate(([0], np.cumsum(n_shingles)[:-1]))
        full = np.empty(int(n_shingles.sum()), dtype=np.uint64)
        is_short = np.zeros(len(full), dtype=bool)
        is_short[offsets[short]] = True
        full[is_short] = extra
        full[~is_short] = shingles
        shingles = full
    return shingles & MAX_HASH, n_shingles


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """The distinct shingle hashes of one text."""
    return np.unique(shingles_of_batch([text], ngram)[0])


def signatures(texts: list[str], num_perm: int = 128, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """A (documents × num_perm) uint32 matrix of signatures; a document without shingles gets
    EMPTY in every column. Texts are taken in batches of about BATCH_CHARS characters, which
    bounds memory (a longer text is a batch by itself)."""
    a, b = permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size + len(texts[end]) <= BATCH_CHARS):
            size += len(texts[end])
            end += 1
        shingles, counts = shingles_of_batch(texts[start:end], ngram)
        out[start:end] = signatures_of_shingles(shingles, counts, a, b)
        start = end
    return out


def signatures_of_shingles(
    shingles: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Signatures of documents whose shingles lie one document after another in `shingles`,
    `counts[i]` of them for document i. Each block holds (permutations × shingles), so the
    minimum per document is a reduction along contiguous memory."""
    out = np.full((len(a), len(counts)), EMPTY, dtype=np.uint32)
    ends = np.cumsum(counts)
    starts = ends - counts
    x = shingles.astype(np.uint32)
    buf = np.empty((len(a), _BLOCK), dtype=np.uint32)
    a, b = a[:, None], b[:, None]
    doc, n_docs = 0, len(counts)
    while doc < n_docs:
        if counts[doc] > _BLOCK:  # a long document alone, its shingles a block at a time
            for s in range(starts[doc], ends[doc], _BLOCK):
                block = _permuted(x[s : min(s + _BLOCK, ends[doc])], a, b, buf)
                np.minimum(out[:, doc], block.min(axis=1), out=out[:, doc])
            doc += 1
            continue
        last = max(int(np.searchsorted(ends, starts[doc] + _BLOCK, side="right")), doc + 1)
        nonempty = np.flatnonzero(counts[doc:last] > 0) + doc
        if len(nonempty):
            block = _permuted(x[starts[doc] : ends[last - 1]], a, b, buf)
            offsets = starts[nonempty] - starts[doc]
            out[:, nonempty] = np.minimum.reduceat(block, offsets, axis=1)
        doc = last
    return np.ascontiguousarray(out.T)


def _permuted(x: np.ndarray, a: np.ndarray, b: np.ndarray, buf: np.ndarray) -> np.ndarray:
    block = buf[:, : len(x)]
    with np.errstate(over="ignore"):
        np.multiply(a, x[None, :], out=block)
        np.add(block, b, out=block)
    return block


def estimated_jaccard(s1: np.ndarray, s2: np.ndarray) -> float:
    return float(np.mean(s1 == s2))
