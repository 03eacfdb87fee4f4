"""Helpers for the tests: where the real data is, and how to call the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the real test data, cloned beside the checkout; the tests that read it are marked `shared_data`
SHARED_DATA = Path(os.environ.get("CORPUS_SHARED_DATA") or ROOT.parent / "shared" / "data")
SHARED_DATA_MISSING = (
    "not found (set CORPUS_SHARED_DATA=/path/to/shared/data, or clone the shared data beside "
    "the checkout as ../shared)"
)
DOLMA_FILE = SHARED_DATA / "warc" / "dolma_cc_en_head-0091.jsonl.gz"
CORPUS = [sys.executable, "-m", "pipelines.cli"]


def require_shared_data() -> None:
    """Skip the test (or the fixture, and so every test that uses it) where the shared data is
    not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_DATA_MISSING)


def run_corpus(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    """Run the `corpus` CLI in a child process; returns the CompletedProcess."""
    return subprocess.run(
        [*CORPUS, *map(str, args)],
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_jsonl(path: Path, lines: list[bytes | str]) -> Path:
    """Write raw lines (str or bytes) to `path`, compressed by its suffix."""
    from corpus.compression import open_output

    with open_output(path) as f:
        for line in lines:
            f.write((line.encode() if isinstance(line, str) else line) + b"\n")
    return path


def make_pipeline(tmp: Path, name: str = "t", min_words: int = 100, part_rows: int = 7) -> Path:
    """A pipeline over real text (Python's help topics and a Dolma file): import, filter, export."""
    from corpus.samples import write_pydoc_sample

    require_shared_data()
    inputs = tmp / "input"
    if not inputs.exists():
        write_pydoc_sample(inputs)
    config = tmp / f"{name}.yaml"
    config.write_text(
        f"""
name: {name}
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst", "{DOLMA_FILE}"]
    part_rows: {part_rows}
  - stage: length_filter
    name: filter
    min_words: {min_words}
  - stage: export_jsonl
    name: export
"""
    )
    return config


def snapshot(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every data file of a run (datasets and exports, not records or reports)."""
    import hashlib

    files = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if path.is_file() and rel.parts[0] not in ("_state", "report"):
            files[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def write_dataset(path: Path, rows: list[dict], part_rows: int = 100) -> Path:
    """A published dataset of documents (dicts with id, text and any other column) in parts of
    `part_rows`."""
    import pyarrow as pa

    from corpus.dataset import write_manifest, write_part
    from corpus.schema import conform

    path.mkdir(parents=True, exist_ok=True)
    rows = [{"source": "web", **r} for r in rows]
    table = conform(pa.Table.from_pylist(rows))
    parts = [
        write_part(table.slice(start, part_rows), path, f"part-{i:05d}")
        for i, start in enumerate(range(0, max(table.num_rows, 1), part_rows))
    ]
    write_manifest(path, parts)
    return path


def kill_when(args: list, watch: Path, records: int, timeout_s: float = 60) -> int:
    """Run the `corpus` CLI with `args` and kill -9 it (its whole process group) as soon as the
    folder `watch` holds `records` commit records (*.json); returns its exit status (negative
    SIGKILL when the kill landed, 0 when it finished first)."""
    import signal
    import time

    proc = subprocess.Popen(
        [*CORPUS, *map(str, args)], cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(watch.glob("*.json"))) >= records:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    return proc.wait()


def run_tokenizer(dataset: Path, out: Path, executor=None, **params):
    """Run the `tokenizer` stage over `dataset` into `out`; returns its outcome."""
    from bench.common import run_named_stage

    return run_named_stage("tokenizer", dataset, out, params, executor)


def run_shards(dataset: Path, out: Path, tokenizer: Path, executor=None, **params):
    """Run the `shard` stage over `dataset` into `out`; returns (outcome, shards.json)."""
    import json

    from bench.common import run_named_stage

    params = {"tokenizer": str(tokenizer), **params}
    outcome = run_named_stage("shard", dataset, out, params, executor)
    return outcome, json.loads((out / "shards.json").read_text())
