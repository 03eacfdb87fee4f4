"""Test inputs and outputs on disk: JSONL files and datasets written, a run's data files hashed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa

from corpus import storage
from corpus.compression import open_output
from corpus.dataset import write_manifest, write_part
from corpus.schema import conform


def write_jsonl(path: Path, lines: list[bytes | str]) -> Path:
    """Write raw lines (str or bytes) to `path`, compressed by its suffix."""
    with open_output(path) as f:
        for line in lines:
            f.write((line.encode() if isinstance(line, str) else line) + b"\n")
    return path


def write_dataset(path: Path, rows: list[dict], part_rows: int = 100) -> Path:
    """A published dataset of documents (dicts with id, text and any other column) in parts of
    `part_rows`."""
    path.mkdir(parents=True, exist_ok=True)
    rows = [{"source": "web", **r} for r in rows]
    table = conform(pa.Table.from_pylist(rows))
    parts = [
        write_part(table.slice(start, part_rows), path, f"part-{i:05d}")
        for i, start in enumerate(range(0, max(table.num_rows, 1), part_rows))
    ]
    write_manifest(path, parts)
    return path


def snapshot(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every data file of a run (datasets and exports, not records or reports)."""
    files = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if path.is_file() and rel.parts[0] not in ("_state", "report"):
            files[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def store_snapshot(run: str) -> dict[str, str]:
    """`snapshot` of a run folder on an object store: SHA-256 of every data file."""
    files = {}
    prefix = storage.uri(run) + "/"
    for path in storage.walk_files(run):
        rel = storage.uri(path).removeprefix(prefix)
        if rel.split("/")[0] not in ("_state", "report"):
            files[rel] = hashlib.sha256(storage.read_bytes(path)).hexdigest()
    return files


def without_locations(files: dict[str, str], read) -> dict[str, str]:
    """`files`, with shards.json read and its tokenizer's location (which names the run folder)
    taken out, so that two run folders can be compared."""
    out = dict(files)
    for name in files:
        if name.endswith("shards.json"):
            manifest = json.loads(read(name))
            manifest["tokenizer"].pop("path")
            out[name] = json.dumps(manifest, sort_keys=True)
    return out
