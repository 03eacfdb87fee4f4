"""The `export_jsonl` sink stage: documents as dolma-style JSON lines in one compressed file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from corpus.compression import open_output
from corpus.sources.jsonl import write_jsonl
from pipelines.stages import SinkStage


class ExportJsonl(SinkStage):
    """Documents as dolma-style JSON lines in one file, compressed by its suffix (.zst, .gz)."""

    @dataclass(frozen=True)
    class Params:
        path: str = "documents.jsonl.zst"  # relative to the stage's folder unless absolute

        def __post_init__(self):
            if not self.path.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")):
                raise ValueError(f"path must end in .jsonl, .jsonl.gz or .jsonl.zst: {self.path}")

    def fragment(self, table: pa.Table, path: Path) -> None:
        with open(path, "wb") as f:
            write_jsonl(table, f)

    def outputs(self, out_dir: Path) -> list[Path]:
        return [out_dir / self.params.path]

    def finish(self, fragments: list[Path], out_dir: Path) -> None:
        # one compressed stream, not concatenated frames: many zstd readers stop after one frame
        (target,) = self.outputs(out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{target.name}")  # keeps the suffix that picks compression
        with open_output(tmp) as out:
            for fragment in fragments:
                with open(fragment, "rb") as f:
                    while chunk := f.read(1 << 22):
                        out.write(chunk)
        tmp.replace(target)
