"""The `length_filter` stage: drop documents with too few or too many characters or words."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from corpus.stage import StageResult
from filters.length import LengthThresholds, length_filter
from pipelines.stages import MapStage


class LengthFilter(MapStage):
    """Drop documents with too few or too many characters or words."""

    @dataclass(frozen=True)
    class Params:
        min_chars: int = 0
        max_chars: int | None = None
        min_words: int = 0
        max_words: int | None = None

    def process(self, table: pa.Table) -> StageResult:
        p = self.params
        limits = LengthThresholds(p.min_chars, p.max_chars, p.min_words, p.max_words)
        return length_filter(table, limits)
