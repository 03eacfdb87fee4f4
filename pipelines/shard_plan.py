"""What the shard stage decides for each document, from a hash of (seed, id) alone: its split
(val by document), how many copies its source's mixture weight gives it, and each copy's place in
the shuffle; and the parameters those decisions follow."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from corpus.schema import SOURCES
from filters.dedup.lsh import mix64
from pipelines.params import ConfigError

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
VAL_BITS = 16  # the val split is chosen in 2**16 bins of the val hash
COPY_BITS = 12  # under a token budget, fractional copies are given in 2**12 bins of the copy hash


@dataclass(frozen=True)
class ShardParams:
    tokenizer: str = "tokenizer"  # a tokenizer.json, or the name of this pipeline's tokenizer stage
    shard_tokens: int = 100_000_000  # tokens per shard (the last of each split holds the rest)
    val_tokens: int = 10_000_000  # held out by document, up to max_val_fraction (0: no val split)
    max_val_fraction: float = 0.1  # the largest share of the tokens the val split may take
    seed: int = 0  # of the shuffle, the val split and fractional weights
    weights: dict[str, float] | None = None  # per source: 2 repeats each document, 0.5 keeps half
    bucket_tokens: int = 50_000_000  # tokens a shuffle bucket holds (sorted in ~8M-token slices)
    # a token budget: every weight is scaled so the train split holds about this many tokens
    # (a smaller dataset is repeated, a larger one sampled, by whole documents)
    tokens: int | None = None

    def __post_init__(self):
        if not 1 <= self.shard_tokens < 1 << 31:
            raise ValueError(f"shard_tokens must be in 1..2147483647, got {self.shard_tokens}")
        if self.tokens is not None and self.tokens < 1:
            raise ValueError(f"tokens must be at least 1, got {self.tokens}")
        if self.val_tokens < 0 or self.bucket_tokens < 1:
            raise ValueError("val_tokens must be at least 0 and bucket_tokens at least 1")
        if not 0.0 <= self.max_val_fraction < 1.0:
            raise ValueError(f"max_val_fraction must be in [0, 1), got {self.max_val_fraction}")
        for source, weight in (self.weights or {}).items():
            if source not in SOURCES:
                raise ValueError(
                    f"weights: unknown source '{source}' (sources: {', '.join(SOURCES)})"
                )
            if not (math.isfinite(weight) and 0.0 <= weight <= 1000.0):
                raise ValueError(f"weights.{source} must be in [0, 1000], got {weight}")

    def weight(self, source: str) -> float:
        return (self.weights or {}).get(source, 1.0)


def parse_weights(text: str) -> dict[str, float]:
    """`web=1,book=2.5` as a mapping; a malformed item is a ConfigError."""
    weights: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            weights[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weights takes SOURCE=NUMBER,..., got {item!r}") from None
    return weights


def doc_hashes(ids: list[str], seed: int) -> np.ndarray:
    """Three independent 64-bit hashes per document id (val, copies, order), keyed by `seed`."""
    key = b"corpus-shards" + seed.to_bytes(8, "little", signed=True)
    raw = b"".join(
        hashlib.blake2b(i.encode("utf-8"), digest_size=24, key=key).digest() for i in ids
    )
    return np.frombuffer(raw, dtype="<u8").reshape(len(ids), 3)


def unit(h: np.ndarray) -> np.ndarray:
    """uint64 hashes as floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def val_bin(h_val: np.ndarray) -> np.ndarray:
    """The val bin of each document: the top VAL_BITS bits of its val hash."""
    return (h_val >> np.uint64(64 - VAL_BITS)).astype(np.int64)


def val_bins(tokens: np.ndarray, val_tokens: int, max_fraction: float, eligible: int) -> np.ndarray:
    """Cumulative tokens of the val bins taken, given the tokens per bin: documents go to val in
    the order of their val hash, bin by bin, until `val_tokens` is reached, unless that passes
    `max_fraction` of the `eligible` tokens; then as many bins as stay within it."""
    cum = np.cumsum(tokens)
    cap = int(max_fraction * eligible)
    last = int(np.searchsorted(cum, val_tokens))  # first bin reaching the request
    last = min(last, len(cum) - 1)
    if cum[last] > cap:
        last = int(np.searchsorted(cum, cap, side="right")) - 1  # the most within the cap
    return cum[: last + 1]


def copies(weight: np.ndarray, h_copy: np.ndarray, is_val: np.ndarray) -> np.ndarray:
    """Copies of each document: its weight's whole part, one more with the probability of the
    fraction; one for a val document."""
    n = np.floor(weight).astype(np.int64)
    n += unit(h_copy) < (weight - np.floor(weight))
    n[is_val] = 1
    return n


def copy_bin(h_copy: np.ndarray) -> np.ndarray:
    """The copy bin of each document: the top COPY_BITS bits of its copy hash."""
    return (h_copy >> np.uint64(64 - COPY_BITS)).astype(np.int64)


def budget_copies(whole: np.ndarray, below: np.ndarray, h_copy: np.ndarray, is_val: np.ndarray):
    """Copies of each document under a token budget: its source's `whole` copies, one more when
    its copy bin is under its source's `below`; one for a val document."""
    n = whole + (copy_bin(h_copy) < below)
    n[is_val] = 1
    return n


def fit_budget(
    hists: dict[str, np.ndarray], weights: dict[str, float], budget: int
) -> tuple[float, dict[str, list[int]], int]:
    """The one factor on every source's weight that brings the train split closest to `budget`
    tokens, given each source's train tokens per copy bin (`hists`); then per source its whole
    copies and the copy bins that get one more (`budget_copies`), and the tokens that gives.
    Exact to a bin: what the split holds is what the bins sum to, not an expectation."""
    bins = 1 << COPY_BITS
    cums = {s: np.concatenate([[0.0], np.cumsum(h, dtype=np.float64)]) for s, h in hists.items()}

    def plan(scale: float) -> tuple[dict[str, list[int]], float]:
        chosen, total = {}, 0.0
        for s, cum in cums.items():
            w = weights.get(s, 1.0) * scale
            whole = math.floor(w)
            below = min(bins, math.floor((w - whole) * bins))
            chosen[s] = [whole, below]
            total += whole * cum[-1] + cum[below]
        return chosen, total

    if sum(c[-1] for s, c in cums.items() if weights.get(s, 1.0) > 0) < 1:
        raise ValueError("no train tokens to scale to the token budget")
    lo, hi = 0.0, 1.0
    while plan(hi)[1] < budget:  # the tokens grow with the factor, at least linearly past 1
        lo, hi = hi, hi * 2
    for _ in range(64):  # plan(lo) under the budget, plan(hi) at or over it
        mid = (lo + hi) / 2
        if plan(mid)[1] < budget:
            lo = mid
        else:
            hi = mid
    under, over = plan(lo), plan(hi)
    scale, (chosen, total) = (lo, under) if budget - under[1] < over[1] - budget else (hi, over)
    return scale, chosen, round(total)


def repeats(rows: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row once per copy, and the copy number of each repeat: 0, 1, ... within each row."""
    doc = np.repeat(rows, reps)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    return doc, np.arange(len(doc), dtype=np.int64) - first


def shuffle_key(h_order: np.ndarray, copy: np.ndarray) -> np.ndarray:
    """A random 64-bit key for each copy of a document: its bucket, and its place there."""
    with np.errstate(over="ignore"):
        return mix64(h_order + copy.astype(np.uint64) * GOLDEN)
