"""The `filter` stage: language ID, rule sets, word lists, fastText classifiers and PII."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from corpus.stage import StageResult
from filters.chain import FilterConfig, run_filters
from filters.fasttext_models import sidecar_path
from pipelines.stages import MapStage

# parameters that name files, by component
FILE_PARAMS = {
    "language": ("model",),
    "gopher_quality": ("stop_words_dir",),
    "c4": ("badwords",),
    "toxic_words": ("lists",),
    "toxicity": ("model",),
    "quality": ("model",),
}


class Filter(MapStage):
    """Language ID, Gopher quality/repetition, C4, FineWeb, word lists, classifiers, PII."""

    Params = FilterConfig

    def process(self, table: pa.Table) -> StageResult:
        return run_filters(table, self.params)

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        files: list[Path] = []
        for component, keys in FILE_PARAMS.items():
            for key in keys:
                value = (params.get(component) or {}).get(key)
                if not value:
                    continue
                path = Path(value)
                if path.is_dir():
                    files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
                elif path.is_file():
                    files.append(path)
                    sidecar = sidecar_path(path)  # a trained model's record
                    if key == "model" and sidecar.is_file():
                        files.append(sidecar)
        return files
