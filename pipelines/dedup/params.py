"""The `dedup` stage's parameters: which documents are duplicates, and which one of each cluster
stays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from filters.dedup.lsh import optimal_bands


@dataclass(frozen=True)
class DedupParams:
    # near-duplicates, same text, same URL; or spans repeated across documents, removed from them
    mode: Literal["minhash", "exact", "url", "lines", "paragraphs"] = "minhash"
    threshold: float = 0.8  # MinHash: the Jaccard similarity of shingle sets that makes a pair
    num_perm: int = 128  # MinHash values per document
    ngram: int = 5  # words per shingle (characters for scripts written without spaces)
    bands: int | None = None  # with rows; default: chosen from threshold and the weights
    rows: int | None = None  # per band; bands × rows is at most num_perm
    false_positive_weight: float = 0.1  # low: candidates are verified, a miss is lost for good
    false_negative_weight: float = 0.9  # of a missed pair, when bands and rows are chosen
    verify: bool = True  # keep a candidate pair only if its estimated Jaccard reaches threshold
    seed: int = 1  # of the MinHash permutations
    keep: Literal["longest", "first", "quality"] = "longest"  # each cluster's representative
    quality_column: str = "quality_score"  # keep: quality keeps the highest value here
    partitions: int | None = None  # shuffle partitions; default one per 100,000 documents (per
    # 20,000 in modes lines and paragraphs), at least two per worker, at most 256
    index: str | None = None  # a folder of earlier runs' keys: dedup against them, add this run
    # modes lines and paragraphs:
    min_docs: int = 3  # a span held by this many documents or more is removed from them
    min_chars: int = 20  # a span shorter than this (ends' whitespace aside) is left alone
    keep_first: bool = False  # the first document holding a repeated span keeps it
    min_left_chars: int = 50  # a document left shorter is rejected as subdoc_too_short

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 2 or self.ngram < 1:
            raise ValueError("num_perm must be at least 2 and ngram at least 1")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is not None and (
            self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm
        ):
            raise ValueError(
                f"bands × rows must be at least 1 and at most num_perm ({self.num_perm}), "
                f"got {self.bands} × {self.rows}"
            )
        weights = (self.false_positive_weight, self.false_negative_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("the weights must be non-negative and not both zero")
        if self.min_docs < 2 or self.min_chars < 1 or self.min_left_chars < 0:
            raise ValueError(
                "min_docs must be at least 2, min_chars at least 1 and min_left_chars at least 0"
            )
        if self.mode in ("lines", "paragraphs") and self.index:
            raise ValueError(f"index is for whole documents; mode {self.mode} has none")
        if self.partitions is not None and not 1 <= self.partitions <= 65_536:
            raise ValueError(f"partitions must be in 1..65536, got {self.partitions}")

    def banding(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return optimal_bands(
            self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight
        )
