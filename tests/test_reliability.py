"""Reliability as a suite: property tests of the formats, bounded fuzzing of the readers on
mutated real files, corruption caught at read, and every document accounted for."""

from __future__ import annotations

import gzip
import io
import json
import random
import resource
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.compression import open_input
from corpus.dataset import Dataset, read_part_file, write_manifest, write_part
from corpus.errors import CorruptPartError, DatasetError
from corpus.schema import SOURCES, conform
from corpus.shards import ShardError, open_shard, read_header, write_shard
from pipelines.inputs import InputFile
from pipelines.params import parse_params
from pipelines.stages import REGISTRY
from samples.shared_data import SHARED_DATA
from tests.commands import run_corpus
from tests.datasets import write_dataset
from tests.test_shards import spec_read

# --- property tests ------------------------------------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(0, 2**16 - 1), max_size=3000),
    st.lists(st.integers(0, 2**32 - 1), max_size=300),
)
def test_shard_round_trip(tmp_path, small, big):
    for name, values, dtype in (("a.bin", small, np.uint16), ("b.bin", big, np.uint32)):
        path = tmp_path / name
        write_shard(path, np.array(values, dtype=dtype))
        assert spec_read(path).tolist() == values  # the reader written from the spec
        assert open_shard(path).tolist() == values
        assert read_header(path).count == len(values)


documents = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=20),
            "text": st.text(max_size=300),
            "source": st.sampled_from(SOURCES),
        },
        optional={
            "url": st.none() | st.text(max_size=40),
            "title": st.none() | st.text(max_size=20),
            "meta": st.none() | st.dictionaries(st.text(max_size=5), st.integers()).map(json.dumps),
        },
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents)
def test_document_parquet_round_trip(tmp_path, rows):
    table = (
        conform(pa.Table.from_pylist(rows))
        if rows
        else conform(pa.table({"id": [], "text": [], "source": []}))
    )
    info = write_part(table, tmp_path, "part-00000")
    again = read_part_file(tmp_path / info.name, info.sha256)
    assert again.equals(table)
    assert again.to_pylist() == table.to_pylist()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(["alpha beta gamma delta epsilon zeta eta theta",
                              "one two three four five six seven eight nine",
                              "the quick brown fox jumps over the lazy dog again"]),
             min_size=1, max_size=30),
    st.integers(0, 2**16),
)  # fmt: skip
def test_dedup_is_deterministic_whatever_the_partitions(tmp_path_factory, base, salt):
    from tests.test_dedup import dedup

    rng = random.Random(salt)
    docs = []
    for i, text in enumerate(base):
        words = text.split()
        if rng.random() < 0.5:  # a near copy
            words[rng.randrange(len(words))] = f"w{rng.randrange(5)}"
        docs.append({"id": f"d{i}", "text": " ".join(words * 3)})
    tmp = tmp_path_factory.mktemp("dd")
    write_dataset(tmp / "in", docs, part_rows=rng.randint(1, 7))
    _, one = dedup(tmp / "in", tmp / "p1", partitions=1, threshold=0.7)
    _, many = dedup(tmp / "in", tmp / "p5", partitions=5, threshold=0.7)
    _, again = dedup(tmp / "in", tmp / "p5b", partitions=5, threshold=0.7)
    assert one == many == again
    exact = {}
    for d in docs:
        exact.setdefault(d["text"], []).append(d["id"])
    cluster = {r["id"]: r["cluster"] for r in one}
    for ids in exact.values():  # identical texts always share a cluster
        assert len({cluster[i] for i in ids}) == 1


# --- bounded fuzzing of the readers --------------------------------------------------------------

FUZZ_INPUTS = [
    ("web", SHARED_DATA / "warc" / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"),
    ("forum", SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz"),
    ("social", SHARED_DATA / "social" / "reddit_from_praw_cassette.ndjson.zst"),
    ("book", SHARED_DATA / "books" / "live-manual.en.epub"),
    ("book", SHARED_DATA / "books" / "pg972_devils-dictionary.txt.gz"),
]
MUTATIONS_PER_FILE = 12  # a fixed number of inputs: 60 in all


def _payload(path: Path) -> bytes:
    with open_input(path) as f:
        return f.read()


def _repack(path: Path, data: bytes, out: Path) -> Path:
    """`data` written in the same container as `path` (gzip, zstd, zip or plain)."""
    target = out / path.name
    if path.name.endswith(".gz"):
        target.write_bytes(gzip.compress(data))
    elif path.name.endswith(".zst"):
        import zstandard

        target.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        target.write_bytes(data)
    return target


def _mutate_epub(data: bytes, rng: random.Random) -> bytes:
    """An EPUB with one member's bytes damaged, or a member removed, re-zipped."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    names = src.namelist()
    victim = rng.choice(names)
    with zipfile.ZipFile(out, "w") as dst:
        for name in names:
            content = src.read(name)
            if name == victim:
                if rng.random() < 0.3:
                    continue
                content = _mutate(content, rng)
            dst.writestr(name, content)
    return out.getvalue()


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.choice(["flip", "truncate", "splice", "garbage", "repeat"])
    if kind == "flip" and b:
        for _ in range(rng.randint(1, 50)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[: rng.randrange(len(b) + 1)]
    elif kind == "splice" and b:
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        b[i:i] = b[j : j + rng.randint(1, 4000)]
    elif kind == "garbage":
        at = rng.randrange(len(b) + 1)
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000)))
    elif kind == "repeat" and b:
        i = rng.randrange(len(b))
        b[i:i] = b[i : i + 200] * rng.randint(2, 50)
    return bytes(b)


@pytest.mark.parametrize("kind, path", FUZZ_INPUTS, ids=[p.name for _, p in FUZZ_INPUTS])
@pytest.mark.shared_data
def test_readers_survive_mutated_inputs(tmp_path, kind, path):
    cls = REGISTRY[f"extract_{kind}"]
    rng = random.Random(path.name)
    original = path.read_bytes()
    payload = original if path.suffix == ".epub" else _payload(path)
    worst_s, results = 0.0, []
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(MUTATIONS_PER_FILE):
        case = tmp_path / f"case{i}"
        case.mkdir()
        if path.suffix == ".epub":
            target = case / path.name
            target.write_bytes(_mutate_epub(original, rng))
        elif i % 3 == 0:  # the container itself damaged
            target = case / path.name
            target.write_bytes(_mutate(original, rng))
        else:  # the content damaged, the container intact
            target = _repack(path, _mutate(payload, rng), case)
        stage = cls(parse_params(cls.Params, {"paths": [str(target)]}, "fuzz"))
        stage.scratch_dir = case
        started = time.perf_counter()
        kept = rejected = 0
        # must not raise: bad input is a named rejection
        for result in stage.read_group([InputFile(target, target.name)]):
            kept += result.kept.num_rows
            rejected += result.rejected.num_rows
            if result.rejected.num_rows:
                assert all(result.rejected.column("reason").to_pylist())
        worst_s = max(worst_s, time.perf_counter() - started)
        results.append((kept, rejected))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_rss) / 1024
    print(f"\n{path.name}: {MUTATIONS_PER_FILE} mutated inputs, slowest {worst_s:.2f} s, "
          f"peak RSS grew {grown_mb:.0f} MB; (kept, rejected) {results}")  # fmt: skip
    assert worst_s < 60  # the per-document time limit is 10 s; a file holds many documents
    assert grown_mb < 1024
    assert any(k + r > 0 for k, r in results)  # the damaged inputs were read, not skipped whole


# --- corruption is caught at read, named, never consumed -----------------------------------------


def test_corrupt_parts_and_shards_are_named_in_one_line(tmp_path):
    write_dataset(tmp_path / "ds", [{"id": f"d{i}", "text": f"text {i}"} for i in range(50)],
                  part_rows=10)  # fmt: skip
    ds = Dataset(tmp_path / "ds")
    victim = tmp_path / "ds" / ds.parts[2].name
    good = victim.read_bytes()
    cases = {
        "flipped": bytes([good[0], good[1] ^ 0x40]) + good[2:],
        "truncated": good[: len(good) // 2],
    }
    for name, data in cases.items():
        victim.write_bytes(data)
        with pytest.raises(CorruptPartError, match="checksum mismatch") as err:
            list(Dataset(tmp_path / "ds").tables())
        assert victim.name in str(err.value) and "\n" not in str(err.value), name
        r = run_corpus(
            "export", tmp_path / "ds", "--out", tmp_path / f"{name}.jsonl", "--executor", "local"
        )
        assert r.returncode == 1 and victim.name in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / f"{name}.jsonl").exists()  # nothing consumed as good
    victim.unlink()
    with pytest.raises(DatasetError, match="part is missing"):
        list(Dataset(tmp_path / "ds").tables())
    victim.write_bytes(good)
    (tmp_path / "ds" / "_manifest.json").write_text("{broken")
    with pytest.raises(DatasetError, match="unreadable manifest"):
        Dataset(tmp_path / "ds")
    write_manifest(tmp_path / "ds", ds.parts)
    # shards: a wrong header or size is refused by every reader we ship
    write_shard(tmp_path / "s_train_0.bin", np.arange(1000, dtype=np.uint16))
    raw = (tmp_path / "s_train_0.bin").read_bytes()
    for name, data, words in (
        ("magic", b"\x00\x00\x00\x00" + raw[4:], "bad magic"),
        ("size", raw + b"\x00" * 6, "trailing bytes"),
        ("short", raw[:-1], "truncated"),
    ):
        (tmp_path / "s_train_0.bin").write_bytes(data)
        with pytest.raises(ShardError, match=words):
            open_shard(tmp_path / "s_train_0.bin")
        r = run_corpus("shard", "inspect", tmp_path)
        assert r.returncode == 1 and words in r.stderr and r.stderr.count("\n") == 1, name


# --- nothing lost: every document is kept, rejected by name, or a counted duplicate --------------


def assert_accounted(run: Path) -> None:
    """Documents in = kept + rejected by name (duplicates included) at every stage, from the
    run's own records and datasets; and each stage's input is the previous stage's output."""
    report = json.loads((run / "report" / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    sources = ("web", "articles", "books", "forums", "social")
    for name in (*sources, "filter", "quality", "dedup", "lines"):
        s = stages[name]
        kept = Dataset(run / name / "kept").num_rows
        rejected_ds = run / name / "rejected"
        rejected = Dataset(rejected_ds).num_rows if (rejected_ds / "_manifest.json").exists() else 0
        assert s["docs_in"] == s["docs_out"] + s["docs_rejected"], name
        assert s["docs_out"] == kept and s["docs_rejected"] == rejected, name
        assert sum(s["rejected"].values()) == rejected, name
    assert stages["filter"]["docs_in"] == sum(stages[s]["docs_out"] for s in sources)
    assert stages["quality"]["docs_in"] == stages["filter"]["docs_out"]
    assert stages["dedup"]["docs_in"] == stages["quality"]["docs_out"]
    assert stages["lines"]["docs_in"] == stages["dedup"]["docs_out"]
    shards = json.loads((run / "shards" / "shards.json").read_text())
    placed = shards["splits"]["train"]["docs"] + shards["splits"]["val"]["docs"]
    assert placed == stages["lines"]["docs_out"]  # weights 1: every document once


def test_every_document_is_accounted_for_in_the_demo_run(demo_run):
    cwd, _ = demo_run
    assert_accounted(cwd / "runs" / "demo")


def test_warc_request_without_a_target_uri_is_a_named_rejection(tmp_path):
    # found by the fuzzer above: warcio raised AttributeError on this record
    record = (
        b"WARC/1.0\r\nWARC-Type: request\r\nWARC-Record-ID: <urn:uuid:1>\r\n"
        b"Content-Length: 5\r\n\r\nGET /\r\n\r\n"
    )
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(gzip.compress(record))
    cls = REGISTRY["extract_web"]
    stage = cls(parse_params(cls.Params, {"paths": [str(path)]}, "test"))
    stage.scratch_dir = tmp_path
    rejected = [
        r
        for res in stage.read_group([InputFile(path, path.name)])
        for r in res.rejected.to_pylist()
    ]
    assert [r["reason"] for r in rejected] == ["malformed_record"]
    assert "AttributeError" in rejected[0]["error"]


# --- a full disk -----------------------------------------------------------------------------------


def _can_mount() -> str | None:
    import os
    import shutil as sh

    if os.geteuid() != 0 or sh.which("mount") is None:
        return "mounting a small tmpfs needs root"
    return None


@pytest.mark.skipif(_can_mount() is not None, reason=str(_can_mount()))
def test_a_full_disk_stops_cleanly_and_the_run_resumes_when_space_is_freed(tmp_path):
    import subprocess

    from tests.datasets import write_jsonl

    rng = random.Random(0)
    lines = [
        json.dumps({"id": f"d{i}", "text": rng.randbytes(1500).hex()}) for i in range(3000)
    ]  # random text: about 5 MB of parts, more than the small disk holds
    for k in range(10):  # ten input files: ten tasks, each committed on its own
        write_jsonl(tmp_path / f"in-{k}.jsonl", lines[k * 300 : (k + 1) * 300])
    inputs = sorted(tmp_path.glob("in-*.jsonl"))
    args = ["import", *inputs, "--part-rows", "100", "--executor", "local"]
    assert run_corpus(*args, "--out", tmp_path / "roomy").returncode == 0
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)])
    if mounted.returncode:
        pytest.skip("this machine refuses to mount a tmpfs")
    try:
        out = disk / "ds"
        r = run_corpus(*args, "--out", out)
        assert r.returncode == 1
        assert (
            r.stderr.strip()
            .splitlines()[-1]
            .startswith("corpus import: error: no space left on the device")
        ), r.stderr
        assert "Traceback" not in r.stderr
        # every part a commit record names is whole; no temporary file is left behind
        records = [json.loads(p.read_text()) for p in (out / "_state").glob("part-*.json")]
        assert records, "some parts were committed before the disk filled"
        for rec in records:
            for part in rec["kept"]:
                read_part_file(out / part["name"], part["sha256"])
        assert not [p for p in out.iterdir() if ".tmp-" in p.name]
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        r = run_corpus(*args, "--out", out)
        assert r.returncode == 0, r.stderr
        roomy = {p.name: p.read_bytes() for p in (tmp_path / "roomy").glob("*.parquet")}
        resumed = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
        assert resumed == roomy
    finally:
        subprocess.run(["umount", "-l", str(disk)])


# --- kill anywhere ---------------------------------------------------------------------------------


def test_demo_pipeline_killed_at_random_moments_resumes_to_the_same_result(tmp_path):
    import os
    import signal
    import subprocess

    import yaml

    from samples.demo import write_demo_sample
    from samples.site_server import DemoSite
    from tests.commands import CORPUS, ROOT, run_corpus
    from tests.datasets import snapshot

    # the demo's data stages (not training, nor the ablation's) on its sample site, crawled
    # once: a crawl of a live site is not the same input twice (dates in every record), and its
    # own kill and resume is tested in test_crawl.py (the ablation's in test_ablate.py)
    write_demo_sample(tmp_path / "runs" / "demo-input")
    seeds = tmp_path / "seeds.txt"
    with DemoSite(tmp_path / "runs" / "demo-input" / "site") as site:
        seeds.write_text(f"{site.base}/\n")
        crawled = tmp_path / "runs" / "crawled"
        args = ["--allow-private", "--delay", "0", "--executor", "local"]
        assert run_corpus("crawl", "--seeds", seeds, "--out", crawled, *args).returncode == 0
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc["stages"] = [s for s in doc["stages"] if s["stage"] not in ("crawl", "train", "ablate")]
    for stage in doc["stages"][:2]:  # web pages and articles, from the crawl's WARC files
        del stage["input"]
        stage["paths"] = [f"{crawled}/*.warc.gz"]
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(doc))

    def run(run_dir: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*CORPUS, "run", str(config), "--run-dir", run_dir, "--executor", "local"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        )  # fmt: skip

    started = time.monotonic()
    assert run("runs/whole").wait() == 0
    whole_s = time.monotonic() - started  # kills land anywhere in a run's length, on any machine
    rng = random.Random(7)
    kills = attempts = 0
    progress: set[int] = set()
    while kills < 10 and attempts < 100:
        attempts += 1
        proc = run("runs/killed")
        try:
            proc.wait(timeout=rng.uniform(0.3, whole_s))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            done = tmp_path / "runs" / "killed" / "_state"
            progress.add(len(list(done.glob("*/_stage.json"))))  # stages finished at the kill
            continue
        assert proc.returncode == 0
        if kills < 10:  # it finished first: start over and keep killing
            import shutil

            shutil.rmtree(tmp_path / "runs" / "killed")
    assert run("runs/killed").wait() == 0
    print(f"\ndemo pipeline killed {kills} times in {attempts} attempts, with {sorted(progress)} "
          "stages finished at the kills, then resumed")  # fmt: skip
    assert kills >= 10
    assert len(progress) >= 3  # the kills fell in different stages

    def result(name: str) -> dict:
        folder = tmp_path / "runs" / name
        files = snapshot(folder / "shards")
        files.update(
            {f"clusters/{k}": v for k, v in snapshot(folder / "dedup" / "clusters").items()}
        )
        report = json.loads((folder / "report" / "report.json").read_text())
        counts = [
            (s["name"], s["docs_in"], s["docs_out"], s.get("docs_rejected"), s.get("rejected"))
            for s in report["stages"]
        ]
        manifest = json.loads((folder / "shards" / "shards.json").read_text())
        manifest["tokenizer"].pop("path")  # the run folder's own path
        files = {k: v for k, v in files.items() if not k.startswith("_") and k != "shards.json"}
        return {"files": files, "counts": counts, "manifest": manifest}

    whole, killed = result("whole"), result("killed")
    assert whole["files"] and whole["files"] == killed["files"]
    assert whole["counts"] == killed["counts"]
    assert whole["manifest"] == killed["manifest"]
    assert_accounted(tmp_path / "runs" / "killed")
