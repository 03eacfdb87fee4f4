"""MinHash signatures, vectorized: shingles are hashed and permuted with numpy, never one by one.

A document's shingles are its word n-grams (`filters.text.words`, lowercased), so text in scripts
written without spaces, where each character is a word, is shingled by character n-grams. Each
distinct word is hashed once (BLAKE2b, 64 bits, the same in every process); an n-gram's hash
combines its words' hashes by a polynomial over 64-bit integers, truncated to 32 bits as
datasketch's are. Permutation i maps a shingle hash x to ((a_i * x + b_i) mod 2^61 - 1) and
keeps the lowest 32 bits; the signature is the minimum over shingles for each permutation. Two
documents' estimated Jaccard similarity is the share of permutations whose minima agree.
"""

from __future__ import annotations

import hashlib

import numpy as np

from filters.text import words

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)
EMPTY = np.uint64(MAX_HASH)  # the signature value of a document with no shingles
_POLY = np.uint64(0x100000001B3)
_BLOCK = 4096  # shingles permuted at a time, to bound memory on very long documents


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) coefficients of `num_perm` permutations, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, int(MERSENNE_PRIME), size=num_perm, dtype=np.uint64)
    b = rng.integers(0, int(MERSENNE_PRIME), size=num_perm, dtype=np.uint64)
    return a, b


def word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """The distinct 32-bit hashes of the word `ngram`-grams of `text` (all its words if fewer)."""
    tokens = [w.lower() for w in words(text)]
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    cache: dict[str, int] = {}
    ids = np.fromiter(
        (cache[w] if w in cache else cache.setdefault(w, word_hash(w)) for w in tokens),
        dtype=np.uint64,
        count=len(tokens),
    )
    n = min(ngram, len(ids))
    h = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _POLY + ids[k : len(ids) - n + 1 + k]
    return np.unique(h & MAX_HASH)


def signature(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The MinHash signature (uint64 values below 2^32) of a set of shingle hashes."""
    sig = np.full(len(a), EMPTY, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(hashes), _BLOCK):
            x = hashes[start : start + _BLOCK, None]
            permuted = ((x * a + b) % MERSENNE_PRIME) & MAX_HASH
            np.minimum(sig, permuted.min(axis=0), out=sig)
    return sig


def signatures(texts: list[str], num_perm: int = 128, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """A (documents × num_perm) matrix of signatures."""
    a, b = permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint64)
    for i, text in enumerate(texts):
        out[i] = signature(shingle_hashes(text, ngram), a, b)
    return out


def estimated_jaccard(s1: np.ndarray, s2: np.ndarray) -> float:
    return float(np.mean(s1 == s2))
