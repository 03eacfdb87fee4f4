"""The `import_jsonl` source stage: Dolma-style JSONL documents into the Document record."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpus import storage
from corpus.compression import GZIP_MAGIC, ZSTD_MAGIC
from corpus.sources.jsonl import read_jsonl
from corpus.stage import StageResult
from pipelines.inputs import InputFile, expand_paths
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

    def split_bytes(self, path: Path) -> int | None:
        """An uncompressed file larger than a part is read as ranges of a part's size."""
        with storage.open_input(path) as f:
            compressed = f.read(4).startswith((GZIP_MAGIC, ZSTD_MAGIC))
        return None if compressed else self.params.part_mb << 20

    def read_group(self, inputs: list[InputFile]) -> Iterator[StageResult]:
        (one,) = inputs
        p = self.params
        return read_jsonl(
            one.path,
            name=one.name,
            default_source=p.source,
            max_doc_bytes=p.max_doc_mb << 20,
            part_rows=p.part_rows,
            part_bytes=p.part_mb << 20,
            span=(one.start, one.end, one.first_line),
        )
