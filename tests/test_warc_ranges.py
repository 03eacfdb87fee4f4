"""A big gzipped WARC file read as ranges of records by several tasks: together they read what
one reader of the whole file reads, every record once, whatever the range size."""

from __future__ import annotations

import gzip
import io
import json
import random

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus.dataset import Dataset
from corpus.sources.warc import read_warc, record_start, warc_ranges
from tests.commands import run_corpus
from tests.test_extract_web import PAGE, collect


def record_bytes(url: str, body: bytes, ctype: str = "text/html") -> bytes:
    """One response record, uncompressed."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
    writer.write_record(record)
    return buf.getvalue()


def text(i: int, rng: random.Random) -> str:
    vocabulary = [
        "river",
        "stone",
        "market",
        "garden",
        "letter",
        "winter",
        "harbour",
        "candle",
        "orchard",
        "bridge",
    ]
    return " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(30, 400))) + f" page{i}"


def mixed_warc(path) -> int:
    """40 pages of uneven size, one gzip member each, and three traps: a corrupt member, a
    record whose payload holds a gzipped WARC record verbatim (a stored gzip member, so its
    header and a `WARC/` inside sit in the file as they are), and a truncated last member."""
    rng = random.Random(7)
    members = []
    for i in range(40):
        page = PAGE.format(title=f"Page {i}", body=text(i, rng)).encode()
        members.append(gzip.compress(record_bytes(f"https://site.example/{i}", page), mtime=0))
        if i == 12:
            members.append(gzip.compress(b"WARC/1.0\r\n" + b"x" * 300, mtime=0)[:-40] + b"junk")
        if i == 25:
            inner = gzip.compress(record_bytes("https://inner.example/", b"<p>hidden</p>"), mtime=0)
            payload = b"a download: " + inner + b" and the rest of the file"
            outer = record_bytes("https://site.example/archive", payload, "application/gzip")
            members.append(gzip.compress(outer, compresslevel=0, mtime=0))
    members.append(gzip.compress(record_bytes("https://site.example/last", b"<p>cut</p>"))[:-30])
    data = b"".join(members)
    path.write_bytes(data)
    return len(data)


def read_all(path, spans):
    kept, rejected = [], []
    for span in spans:
        k, r, _ = collect(read_warc(path, span=span))
        kept += list(zip(k.column("id").to_pylist(), k.column("text").to_pylist(), strict=True))
        offsets = [json.loads(m)["warc_offset"] for m in r.column("meta").to_pylist()]
        rejected += list(zip(r.column("reason").to_pylist(), offsets, strict=True))
    return kept, rejected


@pytest.mark.parametrize("every", [97, 1000, 4096, 30_000])
def test_ranges_read_every_record_once(tmp_path, every):
    path = tmp_path / "mixed.warc.gz"
    size = mixed_warc(path)
    whole_kept, whole_rejected = read_all(path, [(0, None)])
    assert len(whole_kept) == 40
    assert sorted(r for r, _ in whole_rejected) == [
        "corrupt_input",
        "not_html",
        "truncated_input",
    ]
    spans = warc_ranges(path, every)
    assert len(spans) == -(-size // every) and spans[-1][1] is None
    kept, rejected = read_all(path, spans)
    assert kept == whole_kept and rejected == whole_rejected


def test_a_bound_is_never_inside_a_record(tmp_path):
    """At every byte of the file, the bound found is a member a whole reader starts at."""
    path = tmp_path / "mixed.warc.gz"
    size = mixed_warc(path)
    _, whole = read_all(path, [(0, None)])
    k, _, _ = collect(read_warc(path))
    starts = {json.loads(m)["warc_offset"] for m in k.column("meta").to_pylist()}
    starts |= {offset for _, offset in whole}
    with open(path, "rb") as f:
        bounds = {record_start(f, position) for position in range(0, size, 13)}
    assert bounds - {size} <= starts
    # the verbatim inner member, 12 bytes into a stored payload, is never taken for a bound
    data = path.read_bytes()
    inner = data.index(b"\x1f\x8b\x08", data.index(b"a download: "))
    assert inner not in bounds and len(bounds) > 30


def config(tmp_path, name: str, range_mb) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""
name: {name}
stages:
  - stage: extract_web
    name: extract
    paths: ["{tmp_path}/in/*.warc.gz"]
    range_mb: {range_mb}
"""
    )
    return str(path)


def test_a_stage_splits_big_files_into_tasks_with_the_same_result(tmp_path):
    (tmp_path / "in").mkdir()
    mixed_warc(tmp_path / "in" / "big.warc.gz")
    small = record_bytes("https://small.example/", PAGE.format(title="S", body="x y z").encode())
    (tmp_path / "in" / "small.warc.gz").write_bytes(gzip.compress(small))
    out = {}
    for name, range_mb in (("whole", "null"), ("ranges", 0.01)):
        proc = run_corpus("run", config(tmp_path, name, range_mb), "--run-dir", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        stage = json.loads((tmp_path / name / "report" / "report.json").read_text())["stages"][0]
        kept = Dataset(tmp_path / name / "extract" / "kept").read_all()
        out[name] = (stage, sorted(kept.column("id").to_pylist()))
    (whole, whole_ids), (ranges, range_ids) = out["whole"], out["ranges"]
    assert range_ids == whole_ids and len(whole_ids) == 41
    assert ranges["rejected"] == whole["rejected"]
    # ranges of 10,485 bytes: the 30 KB file is read by three tasks, the small one by one
    assert whole["tasks"] == 2 and ranges["tasks"] == 3 + 1


def test_a_bad_range_size_is_one_line(tmp_path):
    (tmp_path / "in").mkdir()
    proc = run_corpus("run", config(tmp_path, "bad", 0), "--run-dir", tmp_path / "run")
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "range_mb must be at least 0.01" in proc.stderr


def test_bounds_exactly_on_members(tmp_path):
    """A range that starts where a member starts, and one that holds no member start."""
    path = tmp_path / "mixed.warc.gz"
    size = mixed_warc(path)
    whole_kept, whole_rejected = read_all(path, [(0, None)])
    k, _, _ = collect(read_warc(path))
    starts = sorted(json.loads(m)["warc_offset"] for m in k.column("meta").to_pylist())
    a, b = starts[5], starts[6]
    spans = [(0, a), (a, a + 1), (a + 1, b), (b, size // 2), (size // 2, None)]
    kept, rejected = read_all(path, spans)
    assert kept == whole_kept and rejected == whole_rejected
    only, _ = read_all(path, [(a, a + 1)])
    assert len(only) == 1 and only[0][0] == k.column("id")[5].as_py()
    assert read_all(path, [(a + 1, b)]) == ([], [])


def test_a_file_gzipped_whole_is_read_by_its_first_range(tmp_path):
    """One gzip member for the whole file (`gzip crawl.warc`): no later range finds a record,
    and none scans the file past its own end."""
    rng = random.Random(3)
    records = [
        record_bytes(f"https://w.example/{i}", PAGE.format(title=i, body=text(i, rng)).encode())
        for i in range(30)
    ]
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(b"".join(records), mtime=0))
    whole = read_all(path, [(0, None)])
    assert len(whole[0]) == 30
    spans = warc_ranges(path, 2000)
    assert len(spans) > 3
    assert read_all(path, spans) == whole
    assert all(read_all(path, [span]) == ([], []) for span in spans[1:])
