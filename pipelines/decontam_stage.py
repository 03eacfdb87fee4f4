"""The `decontaminate` stage: drop documents that share a word n-gram with held-out texts or
benchmark files (`filters/decontam.py`), as the reason `contaminated`, the n-gram in the row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from corpus import storage
from corpus.stage import StageResult
from filters.decontam import index_of
from pipelines.params import ConfigError
from pipelines.stages import MapStage


@dataclass(frozen=True)
class DecontaminateParams:
    # held-out texts and benchmark files: plain text, or JSONL of {"text": ...}
    against: list[str] = field(default_factory=list)
    ngram: int = 13  # words in an n-gram, normalized as the exact-dedup keys are

    def __post_init__(self):
        if not self.against:
            raise ValueError("against must name at least one file")
        if not 1 <= self.ngram <= 1000:
            raise ValueError(f"ngram must be in 1..1000, got {self.ngram}")


class Decontaminate(MapStage):
    """Drop documents that share a word n-gram with held-out texts (reason `contaminated`)."""

    Params = DecontaminateParams

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        for path in params.against:
            if not storage.is_file(path):
                raise ConfigError(f"{where}.against: no such file: {path}")

    @classmethod
    def bind(cls, params: dict, run_dir: Path) -> dict:
        return {**params, "against": [str(storage.absolute(p)) for p in params["against"]]}

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        return [Path(p) for p in params["against"]]

    def process(self, table: pa.Table) -> StageResult:
        paths = [str(storage.local_copy(p)) for p in self.params.against]
        return index_of(paths, self.params.ngram).decontaminate(table)
