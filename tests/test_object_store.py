"""A run folder and inputs on an object store: a real S3-compatible server on 127.0.0.1 (moto's
standalone server, started by the tests), reached over HTTP through pyarrow's S3 filesystem.
The same pipeline gives the same bytes there as on local disk, resumes after kill -9, and
notices parts deleted or changed on the store."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from corpus import storage
from corpus.dataset import Dataset
from corpus.errors import CorruptPartError
from samples.pydoc_jsonl import write_pydoc_sample
from samples.shared_data import DOLMA_FILE, real_documents
from tests.commands import ROOT, kill_when, run_corpus
from tests.datasets import snapshot, store_snapshot, without_locations
from tests.runs import SHUFFLING_STAGES, SLOW_STAGE
from tests.s3_server import free_port, start_s3_server

pytestmark = pytest.mark.shared_data  # the pipelines read ../shared/data


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
    part_rows: 20
{stages}
  - stage: train
    shards: shards
    config: {trainer}
    eval_text: ["{inputs}/held-out.txt"]
"""

TRAINER = """
model: {block_size: 64, vocab_size: 600, n_layer: 1, n_head: 2, n_embd: 32, dropout: 0.0}
batch_size: 4
seq_len: 64
total_batch_tokens: 256
max_steps: 4
lr: 0.003
min_lr_ratio: 0.1
warmup_steps: 1
weight_decay: 0.1
grad_clip: 1.0
eval_interval: 2
eval_tokens: 512
log_interval: 1
checkpoint_interval: 2
seed: 1337
"""


@pytest.fixture
def inputs(tmp_path):
    """The same input files on local disk and in a bucket, under the same relative names."""
    local = tmp_path / "in"
    write_pydoc_sample(local)
    (local / "dolma").mkdir()
    shutil.copyfile(DOLMA_FILE, local / "dolma" / DOLMA_FILE.name)
    (local / "tiny.yaml").write_text(TRAINER)
    held_out = " ".join(text for _, text in real_documents(2000, books=("pg972",))[:3])
    (local / "held-out.txt").write_text(held_out)
    return local


def test_storage_operations_on_a_real_server(s3, tmp_path, monkeypatch):
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
    monkeypatch.setenv("CORPUS_CACHE", str(tmp_path / "cache"))
    copy = storage.local_copy(f)
    assert copy.is_relative_to(tmp_path / "cache") and copy.read_bytes() == b"x" * 1000
    assert storage.location_of(copy) == Path(storage.show(f))
    inode = copy.stat().st_ino
    assert storage.local_copy(f).stat().st_ino == inode  # the store's size and time: kept
    storage.write_bytes(f, b"y" * 999)  # changed on the store: fetched again
    assert storage.local_copy(f).read_bytes() == b"y" * 999
    storage.write_bytes(f, b"z" * 998)
    with pytest.raises(CorruptPartError, match="checksum mismatch"):
        storage.local_copy(f, hashlib.sha256(b"y" * 999).hexdigest())
    staged = storage.staging_path(bucket / "c.txt")
    staged.write_bytes(b"staged")
    storage.upload(staged, bucket / "c.txt")
    assert storage.read_bytes(bucket / "c.txt") == b"staged" and not staged.exists()
    assert [storage.show(p) for p in storage.walk_files(bucket)] == [
        storage.show(bucket / "a" / "b.bin"),
        storage.show(bucket / "c.txt"),
    ]
    storage.unlink(bucket / "c.txt")
    storage.unlink(bucket / "c.txt")  # already gone: nothing to do
    storage.rmtree(bucket / "a")
    assert storage.walk_files(bucket) == []


def test_unreachable_or_missing_storage_stops_with_one_line_naming_it(s3, tmp_path, inputs):
    config = tmp_path / "p.yaml"
    config.write_text(
        PIPELINE.format(
            stages=SHUFFLING_STAGES.strip("\n"), inputs=inputs, trainer=inputs / "tiny.yaml"
        )
    )
    closed = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    strict = start_s3_server(tmp_path / "strict.log", checks_keys=True)  # knows no keys of ours
    cases = [
        ("s3://nowhere-bucket/run", closed, "s3://nowhere-bucket/run"),
        ("s3://no-such-bucket-here/run", {}, "s3://no-such-bucket-here/run"),
        ("s3://locked/run", {"AWS_ENDPOINT_URL": strict.endpoint}, "s3://locked/run"),
    ]
    try:
        results = [
            (run_corpus("run", config, "--run-dir", run, "--executor", "local", env=env), named)
            for run, env, named in cases
        ]
    finally:
        strict.stop()
    for r, named in results:
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0], r.stderr
        assert "Traceback" not in r.stderr
    assert not (ROOT / "s3:").exists()  # no store location was taken for a local path


def test_a_pipeline_on_the_store_gives_the_bytes_it_gives_on_local_disk(s3, tmp_path, inputs):
    bucket = s3.bucket()
    upload_tree(inputs, f"{bucket}/in")
    local_config, remote_config = tmp_path / "local.yaml", tmp_path / "remote.yaml"
    trainer = inputs / "tiny.yaml"  # a config file: local; the eval text is read from the store
    local_config.write_text(
        PIPELINE.format(stages=SHUFFLING_STAGES.strip("\n"), inputs=inputs, trainer=trainer)
    )
    remote_config.write_text(
        PIPELINE.format(stages=SHUFFLING_STAGES.strip("\n"), inputs=f"{bucket}/in", trainer=trainer)
    )

    local = run_corpus("run", local_config, "--run-dir", tmp_path / "local", "--executor", "local")
    assert local.returncode == 0, local.stderr
    run = f"{bucket}/runs/one"
    remote = run_corpus("run", remote_config, "--run-dir", run, "--executor", "local")
    assert remote.returncode == 0, remote.stderr
    assert not (tmp_path / "s3:").exists() and not (ROOT / "s3:").exists()

    on_disk = snapshot(tmp_path / "local")
    on_store = store_snapshot(run)
    # the trainer's files hold timings; its losses and bits per byte must match
    metrics = [
        [
            {k: v for k, v in json.loads(line).items() if k == "eval" or "loss" in k or "bpb" in k}
            for line in text.splitlines()
        ]
        for text in (
            (tmp_path / "local" / "train" / "metrics.jsonl").read_text(),
            storage.read_text(f"{run}/train/metrics.jsonl"),
        )
    ]
    assert metrics[0] == metrics[1] and "val_bpb" in metrics[0][-1]
    assert any("eval" in row for row in metrics[0])  # the held-out text, read from the store
    assert any(n.startswith("train/ckpt_") for n in on_store)
    on_disk = {k: v for k, v in on_disk.items() if not k.startswith("train/")}
    on_store = {k: v for k, v in on_store.items() if not k.startswith("train/")}
    assert len(on_disk) > 20 and "shards/train_000000.bin" in on_disk
    assert "export/documents.jsonl.zst" in on_disk
    assert without_locations(on_store, lambda n: storage.read_text(f"{run}/{n}")) == (
        without_locations(on_disk, lambda n: (tmp_path / "local" / n).read_text())
    )
    report = json.loads(storage.read_text(f"{run}/report/report.json"))
    assert [s["name"] for s in report["stages"]][-2:] == ["export", "train"]

    # a part deleted and one changed on the store are redone, and the rest reused
    parts = [n for n in storage.listdir(f"{run}/filter/kept") if n.startswith("part-")]
    storage.unlink(f"{run}/filter/kept/{parts[0]}")
    changed = f"{run}/import/kept/{parts[1]}"
    data = storage.read_bytes(changed)
    storage.write_bytes(changed, data[:-1] + bytes([data[-1] ^ 1]))
    redo = run_corpus("run", remote_config, "--run-dir", run, "--executor", "local")
    assert redo.returncode == 0, redo.stderr
    assert f"{run}/filter/kept/{parts[0]} is missing; redoing it" in redo.stderr
    assert f"{run}/import/kept/{parts[1]} fails its checksum; redoing it" in redo.stderr
    for stage in ("dedup", "tokenizer", "shards", "export", "train"):  # the same bytes in
        done = re.search(rf"^\[{stage}\] (\d+) parts \((\d+) reused\)", redo.stderr, re.M)
        assert done and done.group(1) == done.group(2), (stage, redo.stderr)
    assert {k: v for k, v in store_snapshot(run).items() if not k.startswith("train/")} == on_store

    status = run_corpus("status", run)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("done") == 7, status.stdout
    doc_id = Dataset(f"{run}/dedup/kept").read_part(Dataset(f"{run}/dedup/kept").parts[0])["id"][0]
    traced = run_corpus("trace", run, doc_id.as_py())
    assert traced.returncode == 0, traced.stderr
    assert doc_id.as_py() in traced.stdout and "dedup" in traced.stdout, traced.stdout


def test_killed_with_kill_9_on_the_store_it_resumes_to_the_same_bytes(s3, tmp_path, inputs):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slowstage.py").write_text(SLOW_STAGE)
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


def test_a_big_plain_jsonl_on_the_store_is_read_as_ranges_like_a_local_one(s3, tmp_path):
    lines = []
    for i, (_, text) in enumerate(real_documents(1000) * 2):
        record = {"text": text} if i % 5 else {"id": f"d{i}", "text": text}
        lines.append(json.dumps(record))
    local = tmp_path / "big.jsonl"
    local.write_text("\n".join(lines) + "\n")
    assert local.stat().st_size > 3 << 20
    remote = f"{s3.bucket()}/in/big.jsonl"
    storage.write_bytes(remote, local.read_bytes())
    out = {}
    for where, source in (("local", local), ("store", remote)):
        target = tmp_path / "out" if where == "local" else remote.replace("in/big.jsonl", "out")
        r = run_corpus("import", source, "--out", target, "--part-mb", "1", "--executor", "local")
        assert r.returncode == 0, r.stderr
        out[where] = Dataset(target)
    assert len(out["store"].parts) >= 3  # several byte ranges, read by ranged requests
    assert [p.sha256 for p in out["store"].parts] == [p.sha256 for p in out["local"].parts]
    assert "big.jsonl:2" in out["store"].read_all(["id"]).column("id").to_pylist()


def test_a_big_plain_posts_xml_on_the_store_is_read_as_ranges_like_a_local_one(s3, tmp_path):
    from samples.posts_xml import real_rows, write_repeated_posts_xml

    local = tmp_path / "Posts.xml"
    write_repeated_posts_xml(local, real_rows(), 2.5)
    remote = f"{s3.bucket()}/in/Posts.xml"
    storage.write_bytes(remote, local.read_bytes())
    out = {}
    for where, source in (("local", local), ("store", remote)):
        target = tmp_path / "out" if where == "local" else remote.replace("in/Posts.xml", "out")
        args = ("extract", "forum", source, "--out", target, "--set", "part_mb=1")
        r = run_corpus(*args, "--executor", "local")
        assert r.returncode == 0, r.stderr
        assert "[extract threads] 3 of 3 parts to do" in r.stderr  # ranged reads of the object
        out[where] = Dataset(target).read_all()
    assert out["store"].num_rows > 700
    for column in ("id", "text", "title"):
        assert out["store"][column].equals(out["local"][column])
    paths = {json.loads(m)["path"] for m in out["store"]["meta"].to_pylist()}
    assert paths == {remote}  # the object's URI, not a node's copy
