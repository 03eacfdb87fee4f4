"""A run folder and inputs on an object store: a real S3-compatible server on 127.0.0.1 (moto's
standalone server, started by the tests), reached over HTTP through pyarrow's S3 filesystem.
The same pipeline gives the same bytes there as on local disk, resumes after kill -9, and
notices parts deleted or changed on the store."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from corpus import storage
from corpus.dataset import Dataset
from corpus.errors import CorruptPartError
from samples.pydoc_jsonl import write_pydoc_sample
from samples.shared_data import DOLMA_FILE
from tests.commands import kill_when, run_corpus
from tests.datasets import snapshot, store_snapshot
from tests.s3_server import free_port

pytestmark = pytest.mark.shared_data  # the pipelines read ../shared/data


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


def upload_tree(local: Path, target: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            storage.write_bytes(
                Path(target) / path.relative_to(local).as_posix(), path.read_bytes()
            )


PIPELINE = """
name: s3run
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst", "{inputs}/dolma/*.jsonl.gz"]
    part_rows: 9
  - stage: length_filter
    name: filter
    min_words: 60
  - stage: dedup
    threshold: 0.8
  - stage: tokenizer
    vocab_size: 600
  - stage: shard
    name: shards
    tokenizer: tokenizer
    shard_tokens: 20000
    val_tokens: 2000
  - stage: export_jsonl
    name: export
    input: dedup
    path: documents.jsonl.zst
"""


@pytest.fixture
def inputs(tmp_path):
    """The same input files on local disk and in a bucket, under the same relative names."""
    local = tmp_path / "in"
    write_pydoc_sample(local)
    (local / "dolma").mkdir()
    shutil.copyfile(DOLMA_FILE, local / "dolma" / DOLMA_FILE.name)
    return local


def test_storage_operations_on_a_real_server(s3, tmp_path):
    bucket = Path(s3.bucket())  # Path spells it s3:/name; every operation takes both spellings
    f = bucket / "a" / "b.bin"
    assert storage.uri(f) == storage.uri(str(f).replace("s3:/", "s3://")) == storage.show(f)
    assert storage.stat(f) is None and not storage.is_file(f)
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(f)
    storage.write_bytes(f, b"x" * 1000)
    size, mtime_ns = storage.stat(f)
    assert size == 1000 and mtime_ns > 0
    assert storage.read_bytes(f) == b"x" * 1000
    assert storage.sha256(f) == hashlib.sha256(b"x" * 1000).hexdigest()
    assert storage.listdir(bucket) == ["a"] and storage.listdir(bucket / "a") == ["b.bin"]
    assert storage.is_dir(bucket / "a") and not storage.is_dir(bucket / "nothing")
    assert storage.listdir(bucket / "nothing") == []

    # a node's copy, fetched once, and the way back from it to the store
    cache = tmp_path / "cache"
    restore_cache = _setenv("CORPUS_CACHE", str(cache))
    try:
        copy = storage.local_copy(f)
        assert copy.is_relative_to(cache) and copy.read_bytes() == b"x" * 1000
        assert storage.location_of(copy) == Path(storage.show(f))
        assert storage.local_copy(f) == copy  # kept: the store has the same size and time
        storage.write_bytes(f, b"y" * 999)  # changed on the store: fetched again
        assert storage.local_copy(f).read_bytes() == b"y" * 999
        storage.write_bytes(f, b"z" * 998)
        with pytest.raises(CorruptPartError, match="checksum mismatch"):
            storage.local_copy(f, hashlib.sha256(b"y" * 999).hexdigest())
        staged = storage.staging_path(bucket / "c.txt")
        staged.write_bytes(b"staged")
        storage.upload(staged, bucket / "c.txt")
        assert storage.read_bytes(bucket / "c.txt") == b"staged"
    finally:
        restore_cache()
    assert [storage.show(p) for p in storage.walk_files(bucket)] == [
        storage.show(bucket / "a" / "b.bin"),
        storage.show(bucket / "c.txt"),
    ]
    storage.unlink(bucket / "c.txt")
    storage.unlink(bucket / "c.txt")  # already gone: nothing to do
    storage.rmtree(bucket / "a")
    assert storage.walk_files(bucket) == []


def _setenv(key, value):
    from tests.s3_server import with_env

    return with_env({key: value})


def test_unreachable_or_missing_storage_stops_with_one_line_naming_it(s3, tmp_path, inputs):
    config = tmp_path / "p.yaml"
    config.write_text(PIPELINE.format(inputs=inputs))
    closed = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    cases = [
        ("s3://nowhere-bucket/run", closed, "s3://nowhere-bucket/run"),
        ("s3://no-such-bucket-here/run", {}, "s3://no-such-bucket-here/run"),
    ]
    for run, env, named in cases:
        r = run_corpus("run", config, "--run-dir", run, "--executor", "local", env=env)
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0], r.stderr
        assert "Traceback" not in r.stderr
    assert not (Path.cwd() / "s3:").exists()  # no store location was taken for a local path


def test_a_pipeline_on_the_store_gives_the_bytes_it_gives_on_local_disk(s3, tmp_path, inputs):
    bucket = s3.bucket()
    upload_tree(inputs, f"{bucket}/in")
    local_config, remote_config = tmp_path / "local.yaml", tmp_path / "remote.yaml"
    local_config.write_text(PIPELINE.format(inputs=inputs))
    remote_config.write_text(PIPELINE.format(inputs=f"{bucket}/in"))

    local = run_corpus("run", local_config, "--run-dir", tmp_path / "local", "--executor", "local")
    assert local.returncode == 0, local.stderr
    run = f"{bucket}/runs/one"
    remote = run_corpus("run", remote_config, "--run-dir", run, "--executor", "local")
    assert remote.returncode == 0, remote.stderr
    assert not (tmp_path / "s3:").exists() and not (Path.cwd() / "s3:").exists()

    on_disk = snapshot(tmp_path / "local")
    on_store = store_snapshot(run)
    assert len(on_disk) > 20 and "shards/train_000000.bin" in on_disk
    assert "export/documents.jsonl.zst" in on_disk
    assert without_locations(on_store, lambda n: storage.read_text(f"{run}/{n}")) == (
        without_locations(on_disk, lambda n: (tmp_path / "local" / n).read_text())
    )
    report = json.loads(storage.read_text(f"{run}/report/report.json"))
    assert [s["name"] for s in report["stages"]][-1] == "export"

    # a no-op re-run reuses every stage; then a part deleted and one changed on the store
    again = run_corpus("run", remote_config, "--run-dir", run, "--executor", "local")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("reused") >= 6, again.stderr
    parts = [n for n in storage.listdir(f"{run}/filter/kept") if n.startswith("part-")]
    storage.unlink(f"{run}/filter/kept/{parts[0]}")
    changed = f"{run}/import/kept/{parts[1]}"
    data = storage.read_bytes(changed)
    storage.write_bytes(changed, data[:-1] + bytes([data[-1] ^ 1]))
    redo = run_corpus("run", remote_config, "--run-dir", run, "--executor", "local")
    assert redo.returncode == 0, redo.stderr
    assert f"{run}/filter/kept/{parts[0]} is missing; redoing it" in redo.stderr
    assert f"{run}/import/kept/{parts[1]} fails its checksum; redoing it" in redo.stderr
    assert store_snapshot(run) == on_store

    status = run_corpus("status", run)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("done") == 6, status.stdout
    doc_id = Dataset(f"{run}/dedup/kept").read_part(Dataset(f"{run}/dedup/kept").parts[0])["id"][0]
    traced = run_corpus("trace", run, doc_id.as_py())
    assert traced.returncode == 0, traced.stderr
    assert doc_id.as_py() in traced.stdout and "dedup" in traced.stdout, traced.stdout


SLOW = """
import time
from dataclasses import dataclass

from corpus.stage import decide
from pipelines.stages import MapStage


class Slow(MapStage):
    @dataclass(frozen=True)
    class Params:
        seconds: float = 0.3

    def process(self, table):
        time.sleep(self.params.seconds)
        return decide(table, [None] * table.num_rows)
"""


def test_killed_with_kill_9_on_the_store_it_resumes_to_the_same_bytes(s3, tmp_path, inputs):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slowstage.py").write_text(SLOW)
    env = {"PYTHONPATH": f"{tmp_path / 'plugins'}:{Path(__file__).resolve().parent.parent}"}
    config = tmp_path / "slow.yaml"
    config.write_text(
        f"""
name: slow
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst", "{inputs}/dolma/*.jsonl.gz"]
    part_rows: 9
  - stage: slowstage:Slow
    name: slow
  - stage: dedup
"""
    )
    ref = run_corpus("run", config, "--run-dir", tmp_path / "ref", "--executor", "local", env=env)
    assert ref.returncode == 0, ref.stderr
    run = f"{s3.bucket()}/run"
    args = ["run", config, "--run-dir", run, "--executor", "local"]
    code = kill_when(args, Path(run) / "_state" / "slow", records=5, timeout_s=120, env=env)
    assert code < 0, "the run finished before it was killed"
    total = len(storage.listdir(f"{run}/import/kept")) - 1  # less the manifest
    committed = sum(n.startswith("part-") for n in storage.listdir(f"{run}/_state/slow"))
    assert 4 <= committed < total  # 5 records: the plan and 4 parts
    assert not storage.is_file(f"{run}/slow/kept/_manifest.json")  # not published

    resumed = run_corpus(*args, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"[slow] {total} parts ({committed} reused)" in resumed.stderr
    assert store_snapshot(run) == snapshot(tmp_path / "ref")
