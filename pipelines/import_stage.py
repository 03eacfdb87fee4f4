"""The `import_jsonl` source stage: Dolma-style JSONL documents into the Document record."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpus.sources.jsonl import read_jsonl
from corpus.stage import StageResult
from pipelines.inputs import expand_paths
from pipelines.stages import SourceStage


class ImportJsonl(SourceStage):
    """Dolma-style JSONL documents (plain, .gz or .zst) into the Document record."""

    @dataclass(frozen=True)
    class Params:
        paths: list[str] = dataclasses.field(default_factory=list)
        # the source of records that name none of ours
        source: Literal["web", "article", "book", "forum", "social"] = "web"
        part_rows: int = 100_000  # most documents a part
        part_mb: int = 64  # most MB of input a part
        max_doc_mb: int = 64  # a larger document is rejected as too_large

        def __post_init__(self):
            if min(self.part_rows, self.part_mb, self.max_doc_mb) < 1:
                raise ValueError("part_rows, part_mb and max_doc_mb must be at least 1")

    def input_files(self) -> list[Path]:
        return expand_paths(self.params.paths)

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        p = self.params
        return read_jsonl(
            path,
            name=name,
            default_source=p.source,
            max_doc_bytes=p.max_doc_mb << 20,
            part_rows=p.part_rows,
            part_bytes=p.part_mb << 20,
        )
