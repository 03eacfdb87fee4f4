"""LSH banding: bands × rows from a threshold, and 128-bit band keys computed column-wise.

A pair of documents with Jaccard similarity s shares at least one of b bands of r rows with
probability P(s) = 1 - (1 - s^r)^b. The false-positive area is the integral of P over [0, t], the
false-negative area that of 1 - P over [t, 1]; `optimal_bands` picks the (b, r) with b·r ≤
num_perm that minimizes their weighted sum, as datasketch's `_optimal_param` does, by its own
numerical integration.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of uint64 that spreads every input bit over all."""
    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype=np.uint64)
        x = (x ^ (x >> _S30)) * _M1
        x = (x ^ (x >> _S27)) * _M2
        return x ^ (x >> _S31)


def _probability(s: np.ndarray, b: int, r: int) -> np.ndarray:
    return 1.0 - (1.0 - s**r) ** b


def _area(lo: float, hi: float, b: int, r: int, miss: bool) -> float:
    s = np.linspace(lo, hi, 1001)
    p = _probability(s, b, r)
    y = 1.0 - p if miss else p
    return float(np.sum((y[1:] + y[:-1]) * np.diff(s)) / 2.0)  # trapezoids


@lru_cache(maxsize=64)
def optimal_bands(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """The (bands, rows) minimizing fp_weight·FP area + fn_weight·FN area at `threshold`."""
    best, best_error = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _area(0.0, threshold, b, r, miss=False)
            fn = _area(threshold, 1.0, b, r, miss=True)
            error = fp_weight * fp + fn_weight * fn
            if error < best_error - 1e-15:
                best, best_error = (b, r), error
    return best


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Two (documents × bands) uint64 arrays: the 128-bit key of each band of each signature.

    Each half chains SplitMix64 over the band's values from its own seed, so equal bands give
    equal keys and distinct bands collide with probability about 2^-128.
    """
    n = sigs.shape[0]
    k1 = np.empty((n, bands), dtype=np.uint64)
    k2 = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h1 = np.full(n, mix64(np.uint64(2 * band + 1)), dtype=np.uint64)
            h2 = np.full(n, mix64(np.uint64(2 * band + 2) * _GOLDEN), dtype=np.uint64)
            for col in range(band * rows, (band + 1) * rows):
                v = sigs[:, col]
                h1 = mix64(h1 ^ v)
                h2 = mix64((h2 + _GOLDEN) ^ (v * _M2))
            k1[:, band], k2[:, band] = h1, h2
    return k1, k2


def bytes_key(data: bytes) -> tuple[int, int]:
    """A 128-bit key of `data` as two unsigned 64-bit integers (BLAKE2b)."""
    digest = hashlib.blake2b(data, digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")
