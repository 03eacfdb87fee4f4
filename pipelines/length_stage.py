"""The `length_filter` stage: drop documents with too few or too many characters or words."""

from __future__ import annotations

import pyarrow as pa

from corpus.stage import StageResult
from filters.length import LengthThresholds, length_filter, length_rules
from filters.rules import Rule
from pipelines.stages import MapStage


class LengthFilter(MapStage):
    """Drop documents with too few or too many characters or words."""

    Params = LengthThresholds

    def process(self, table: pa.Table) -> StageResult:
        return length_filter(table, self.params)

    @classmethod
    def rules(cls, params: LengthThresholds) -> list[Rule]:
        return length_rules(params)
