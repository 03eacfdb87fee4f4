import gzip
import json

import pyarrow as pa
import pytest

from corpus.sources.jsonl import read_jsonl, write_jsonl
from samples.shared_data import DOLMA_FILE
from tests.datasets import write_jsonl as write_lines


def _read_all(path, **kwargs):
    results = list(read_jsonl(path, **kwargs))
    kept = pa.concat_tables([r.kept for r in results])
    rejected = pa.concat_tables([r.rejected for r in results])
    return kept, rejected, results


@pytest.mark.shared_data
def test_dolma_records_map_onto_the_document_record():
    kept, rejected, _ = _read_all(DOLMA_FILE)
    with gzip.open(DOLMA_FILE) as f:
        originals = [json.loads(line) for line in f]
    assert kept.num_rows == len(originals) and rejected.num_rows == 0
    for row, orig in zip(kept.to_pylist(), originals, strict=True):
        assert row["id"] == orig["id"]
        assert row["text"] == orig["text"]
        assert row["source"] == "web"  # "common-crawl" is not one of ours; kept in meta
        assert row["url"] == orig["metadata"]["url"]
        assert row["title"] == orig["metadata"]["title"]
        assert row["date"].strftime("%Y-%m-%dT%H:%M:%SZ") == orig["created"]
        meta = json.loads(row["meta"])
        assert meta["_record"]["source"] == "common-crawl"
        assert meta["digest"] == orig["metadata"]["digest"]


@pytest.mark.shared_data
def test_round_trip_gives_back_every_field_byte_for_byte(tmp_path):
    kept, _, _ = _read_all(DOLMA_FILE)
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as f:
        write_jsonl(kept, f)
    with gzip.open(DOLMA_FILE) as f:
        assert out.read_bytes() == f.read()


def test_round_trip_keeps_fields_of_other_shapes(tmp_path):
    records = [
        {"text": "no id here", "added": "x", "extra": [1, 2, {"a": None}]},
        {"id": 7, "text": "int id", "metadata": {"title": "T", "nested": {"k": 1.5}}},
        {"id": "s", "text": "social", "source": "social", "created": 1700000000},
        {"id": "m", "text": "odd metadata", "metadata": ["not", "a", "dict"]},
    ]
    src = write_lines(tmp_path / "in.jsonl.zst", [json.dumps(r) for r in records])
    kept, rejected, _ = _read_all(src, default_source="book")
    assert rejected.num_rows == 0
    assert kept.column("source").to_pylist() == ["book", "book", "social", "book"]
    assert kept.column("id").to_pylist() == ["in.jsonl.zst:1", "7", "s", "m"]
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as f:
        write_jsonl(kept, f)
    back = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [dict(r) for r in records]
    expected[0]["id"] = "in.jsonl.zst:1"  # a generated id is stable: file name and line number
    expected[1]["id"] = "7"
    for record in (expected[0], expected[1], expected[3]):
        record["source"] = "book"  # an exported document always names its source
    assert back == expected


def test_unreadable_lines_are_rejected_with_named_reasons(tmp_path):
    lines = [
        json.dumps({"id": "ok1", "text": "fine"}),
        "{not json",
        b'{"id": "bad", "text": "caf\xe9"}',  # Latin-1 byte inside a UTF-8 file
        json.dumps([1, 2]),
        json.dumps({"id": "nt", "title": "no text"}),
        json.dumps({"id": "big", "text": "x" * 3000}),
        "",
        json.dumps({"id": "ok2", "text": "also fine\r\nwith CRLF"}),
    ]
    src = write_lines(tmp_path / "in.jsonl", lines)
    kept, rejected, results = _read_all(src, max_doc_bytes=2000)
    assert kept.column("id").to_pylist() == ["ok1", "ok2"]
    assert kept.column("text").to_pylist()[1] == "also fine\nwith CRLF"
    ids, why = rejected.column("id").to_pylist(), rejected.column("reason").to_pylist()
    reasons = dict(zip(ids, why, strict=True))
    assert reasons == {
        "in.jsonl:2": "invalid_json",
        "in.jsonl:3": "invalid_utf8",
        "in.jsonl:4": "not_an_object",
        "in.jsonl:5": "missing_text",
        "in.jsonl:6": "too_large",
    }
    assert all(rejected.column("error").to_pylist())
    assert sum(r.stats["lines"] for r in results) == 7  # the blank line is not a record


def test_truncated_file_keeps_what_was_read_and_rejects_the_rest(tmp_path):
    lines = [json.dumps({"id": str(i), "text": f"document {i} " * 50}) for i in range(3000)]
    src = write_lines(tmp_path / "in.jsonl.gz", lines)
    raw = src.read_bytes()
    src.write_bytes(raw[: len(raw) // 2])
    kept, rejected, _ = _read_all(src)
    assert 0 < kept.num_rows < 3000
    assert kept.column("id").to_pylist() == [str(i) for i in range(kept.num_rows)]
    assert rejected.column("reason").to_pylist() == ["truncated_input"]
    assert "gzip stream is truncated" in rejected.column("error")[0].as_py()


def test_lone_surrogates_become_replacement_characters(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", ['{"id": "s", "text": "a\\ud800b"}'])
    kept, rejected, _ = _read_all(src)
    assert kept.column("text").to_pylist() == ["a\ufffd\ufffd\ufffdb"]


def test_batches_are_bounded_by_rows(tmp_path):
    lines = [json.dumps({"id": str(i), "text": "t"}) for i in range(25)]
    src = write_lines(tmp_path / "in.jsonl", lines)
    _, _, results = _read_all(src, part_rows=10)
    assert [r.kept.num_rows for r in results] == [10, 10, 5]


@pytest.mark.shared_data
def test_a_big_plain_file_is_read_as_ranges_that_give_what_one_reader_gives(tmp_path):
    """4 MB of real text in one plain JSONL file, with records that name no id (their id is
    their line number), blank lines, broken lines and one over the size limit: imported with
    1 MB parts, it is read by several tasks on Ray, and the documents and rejections are those
    one reader of the whole file finds."""
    import pyarrow as pa

    from corpus.dataset import Dataset
    from samples.shared_data import real_documents
    from tests.commands import run_corpus

    docs = real_documents(1000)
    lines = []
    for i in range(4200):
        _, text = docs[i % len(docs)]
        if i % 97 == 0:
            lines.append("")
        elif i % 89 == 0:
            lines.append('{"text": "broken')
        elif i % 7 == 0:
            lines.append(json.dumps({"text": text}))  # no id: named by its line
        else:
            lines.append(json.dumps({"id": f"d{i}", "text": text}))
    lines[2000] = json.dumps({"id": "huge", "text": "x" * (2 << 20)})  # over max_doc_mb 1
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 4 << 20
    out = tmp_path / "out"
    r = run_corpus("import", path, "--out", out, "--part-mb", "1", "--max-doc-mb", "1")
    assert r.returncode == 0, r.stderr
    kept, rejected = Dataset(out).read_all(), Dataset(out / "_rejected").read_all()
    assert len(Dataset(out).parts) >= 4
    results = list(read_jsonl(path, name="big.jsonl", max_doc_bytes=1 << 20))
    one_kept = pa.concat_tables([b.kept for b in results])
    one_rejected = pa.concat_tables([b.rejected for b in results])
    assert kept.column("id").to_pylist() == one_kept.column("id").to_pylist()
    assert kept.column("text").to_pylist() == one_kept.column("text").to_pylist()
    assert "big.jsonl:8" in kept.column("id").to_pylist()  # line 8, with no id
    assert rejected.column("id").to_pylist() == one_rejected.column("id").to_pylist()
    assert rejected.column("reason").to_pylist() == one_rejected.column("reason").to_pylist()
    assert {"invalid_json", "too_large"} <= set(rejected.column("reason").to_pylist())
