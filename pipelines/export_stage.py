"""The `export_jsonl` sink stage: documents as dolma-style JSON lines in one compressed file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from corpus import storage
from corpus.checksums import sha256_file
from corpus.compression import open_output
from corpus.sources.jsonl import write_jsonl
from pipelines.stages import SinkStage


class ExportJsonl(SinkStage):
    """Documents as dolma-style JSON lines in one file, compressed by its suffix (.zst, .gz)."""

    @dataclass(frozen=True)
    class Params:
        path: str = "documents.jsonl.zst"  # relative to the stage's folder, absolute, or a URI

        def __post_init__(self):
            if not self.path.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")):
                raise ValueError(f"path must end in .jsonl, .jsonl.gz or .jsonl.zst: {self.path}")

    def fragment(self, table: pa.Table, path: Path) -> None:
        with open(path, "wb") as f:
            write_jsonl(table, f)

    def outputs(self, out_dir: Path) -> list[Path]:
        path = self.params.path
        return [Path(path) if storage.is_remote(path) else out_dir / path]

    def finish(self, fragments: list[Path], out_dir: Path) -> dict[Path, str]:
        # one compressed stream, not concatenated frames: many zstd readers stop after one frame
        (target,) = self.outputs(out_dir)
        if storage.is_remote(target):  # written in this node's cache, then put in place
            tmp = storage.local_path(target).with_name(f".tmp-{os.getpid()}-{target.name}")
        else:
            tmp = target.with_name(f".tmp-{target.name}")  # keeps the suffix: the compression
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open_output(tmp) as out:
            for fragment in fragments:
                with storage.open_input(fragment) as f:
                    while chunk := f.read(1 << 22):
                        out.write(chunk)
        digest = sha256_file(tmp)
        storage.upload(tmp, target)
        return {target: digest}
