"""The `filter` stage: the filter components of `filters.registry` (language ID, rule sets, word
lists, fastText classifiers, PII), one parameter group each."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from corpus.stage import StageResult
from filters.chain import configured_rules, filter_config, run_filters
from filters.fasttext_models import sidecar_path
from filters.registry import FILTERS
from filters.rules import Rule
from pipelines.stages import MapStage


class RegisteredFilterConfig:
    """`Filter.Params`: the filter config class of the components registered when it is read."""

    def __get__(self, instance, owner) -> type:
        return filter_config()


class Filter(MapStage):
    """Language ID, Gopher quality/repetition, C4, FineWeb, word lists, classifiers, PII."""

    Params = RegisteredFilterConfig()

    def process(self, table: pa.Table) -> StageResult:
        return run_filters(table, self.params)

    @classmethod
    def rules(cls, params) -> list[Rule]:
        return configured_rules(params)

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        files: list[Path] = []
        for spec in FILTERS.values():
            for key in spec.file_params:
                value = (params.get(spec.name) or {}).get(key)
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
