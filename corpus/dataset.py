"""Datasets on disk: a folder of zstd Parquet parts plus `_manifest.json` (DESIGN §2).

A part is written under a hidden temporary name and renamed into place, so a visible part is
always complete. The manifest lists each part with its row count, size and SHA-256; a reader
checks the checksum before it trusts a part, so a damaged part is reported, never read as good.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from corpus import storage
from corpus.checksums import sha256_bytes
from corpus.errors import CorruptPartError, DatasetError
from corpus.idfilter import footer_entry, without_filter
from corpus.schema import empty_documents

MANIFEST_NAME = "_manifest.json"
MANIFEST_FORMAT = "corpus.dataset/1"
PART_SUFFIX = ".parquet"
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "row_group_size": 64 * 1024}


@dataclass(frozen=True)
class PartInfo:
    """One Parquet part of a dataset, as its manifest records it."""

    name: str
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> PartInfo:
        return cls(name=obj["name"], rows=obj["rows"], bytes=obj["bytes"], sha256=obj["sha256"])


def write_bytes_atomic(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file; `durable`
    also flushes it to disk before the rename (against power loss, not only a killed process)."""
    storage.write_bytes(path, data, durable)


def write_json_atomic(path: str | Path, obj: object) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def encode_parquet(
    table: pa.Table, scratch: bool = False, footer: dict[bytes, bytes] | None = None
) -> bytes:
    """Parquet bytes for `table`: the same table always gives the same bytes. `scratch` trades
    size for speed (zstd level 1), for intermediate files; `footer` adds key-value entries to
    the file's footer."""
    sink = pa.BufferOutputStream()
    options = dict(PARQUET_OPTIONS, compression_level=1) if scratch else dict(PARQUET_OPTIONS)
    table = table.combine_chunks()
    row_group_size = options.pop("row_group_size")
    with pq.ParquetWriter(sink, table.schema, **options) as writer:
        writer.write_table(table, row_group_size=row_group_size)
        if footer:
            writer.add_key_value_metadata(footer)
    return sink.getvalue().to_pybytes()


def write_part(table: pa.Table, directory: str | Path, stem: str, scratch: bool = False):
    """Write `table` as `directory/stem.parquet` atomically and describe it. A `scratch` part
    (an intermediate file whose checksum is checked before reuse, so a damaged one is redone) is
    compressed faster and not flushed to disk; any other part of documents carries a filter of
    its ids in its footer (`idfilter`), for `corpus trace`."""
    footer = footer_entry(table) if not scratch and "id" in table.column_names else None
    data = encode_parquet(table, scratch, footer)
    name = stem + PART_SUFFIX
    write_bytes_atomic(Path(directory) / name, data, durable=not scratch)
    return PartInfo(name=name, rows=table.num_rows, bytes=len(data), sha256=sha256_bytes(data))


def write_manifest(directory: str | Path, parts: list[PartInfo]) -> None:
    """Publish the dataset in `directory`: list its parts, sorted by name."""
    parts = sorted(parts, key=lambda p: p.name)
    manifest = {
        "format": MANIFEST_FORMAT,
        "rows": sum(p.rows for p in parts),
        "parts": [p.to_json() for p in parts],
    }
    write_json_atomic(Path(directory) / MANIFEST_NAME, manifest)


def read_part_file(path: str | Path, expected_sha256: str, columns: list[str] | None = None):
    """Read one Parquet part after checking its bytes against `expected_sha256`."""
    path = storage.show(path)
    try:
        data = storage.read_bytes(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: part is missing") from None
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise CorruptPartError(
            f"{path}: checksum mismatch (expected sha256 {expected_sha256[:12]}…, "
            f"file has {actual[:12]}…); the part is damaged or was changed"
        )
    try:
        return without_filter(pq.read_table(pa.BufferReader(data), columns=columns))
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path}: not a readable Parquet part ({exc})") from None


class Dataset:
    """A published dataset: its manifest, read and checked, and its parts."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST_NAME
        where = storage.show(self.path)
        if not storage.is_dir(self.path):
            raise DatasetError(f"{where}: no such dataset folder")
        try:
            text = storage.read_text(manifest_path)
        except FileNotFoundError:
            raise DatasetError(
                f"{where}: not a finished dataset (no {MANIFEST_NAME}); "
                "the stage that writes it has not completed"
            ) from None
        try:
            manifest = json.loads(text)
            if manifest.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format is {manifest.get('format')!r}, not {MANIFEST_FORMAT!r}")
            self.parts = [PartInfo.from_json(p) for p in manifest["parts"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"{storage.show(manifest_path)}: unreadable manifest ({exc})"
            ) from None

    @property
    def num_rows(self) -> int:
        return sum(p.rows for p in self.parts)

    def read_part(self, part: PartInfo, columns: list[str] | None = None) -> pa.Table:
        """Read one part, checked against the manifest's checksum."""
        return read_part_file(self.path / part.name, part.sha256, columns)

    def tables(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        for part in self.parts:
            yield self.read_part(part, columns)

    def read_all(self, columns: list[str] | None = None) -> pa.Table:
        """The whole dataset as one table: for tests and small data only."""
        tables = list(self.tables(columns))
        if not tables:
            empty = empty_documents()
            return empty.select(columns) if columns else empty
        return pa.concat_tables(tables)
