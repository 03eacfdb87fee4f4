import json

import pyarrow as pa
import pytest

from corpus.checksums import sha256_file
from corpus.dataset import Dataset, write_manifest, write_part
from corpus.errors import CorruptPartError, DatasetError
from corpus.schema import DOCUMENT_SCHEMA, conform


def _docs(n: int, start: int = 0) -> pa.Table:
    rows = [{"id": f"d{i}", "text": f"text {i}", "source": "web"} for i in range(start, start + n)]
    return conform(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA))


def test_parts_and_manifest_describe_the_files(tmp_path):
    parts = [write_part(_docs(3), tmp_path, "part-1"), write_part(_docs(2, 3), tmp_path, "part-0")]
    write_manifest(tmp_path, parts)
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert [p["name"] for p in manifest["parts"]] == ["part-0.parquet", "part-1.parquet"]
    for entry in manifest["parts"]:
        path = tmp_path / entry["name"]
        assert entry["sha256"] == sha256_file(path)
        assert entry["bytes"] == path.stat().st_size
    ds = Dataset(tmp_path)
    assert ds.num_rows == 5 == manifest["rows"]
    assert sorted(ds.read_all().column("id").to_pylist()) == [f"d{i}" for i in range(5)]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_the_same_table_gives_the_same_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_part(_docs(100), tmp_path / "a", "p")
    chunked = pa.concat_tables([_docs(40), _docs(60, 40)])  # same rows, other chunking
    two = write_part(chunked, tmp_path / "b", "p")
    assert one.sha256 == two.sha256


def test_a_changed_part_is_reported_by_name_and_never_read(tmp_path):
    write_manifest(tmp_path, [write_part(_docs(3), tmp_path, "part-0")])
    path = tmp_path / "part-0.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    ds = Dataset(tmp_path)
    with pytest.raises(CorruptPartError, match="part-0.parquet: checksum mismatch"):
        ds.read_all()


def test_unreadable_parquet_with_matching_checksum_is_a_clear_error(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"this is not parquet")
    entry = {
        "name": "part-0.parquet",
        "rows": 1,
        "bytes": 19,
        "sha256": sha256_file(tmp_path / "part-0.parquet"),
    }
    manifest = {"format": "corpus.dataset/1", "rows": 1, "parts": [entry]}
    (tmp_path / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="not a readable Parquet part"):
        Dataset(tmp_path).read_all()


def test_folder_without_manifest_is_not_a_finished_dataset(tmp_path):
    write_part(_docs(1), tmp_path, "part-0")
    with pytest.raises(DatasetError, match="not a finished dataset"):
        Dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such dataset folder"):
        Dataset(tmp_path / "missing")


def test_conform_orders_columns_and_requires_id_text_source():
    table = pa.table({"score": [0.5], "text": ["t"], "source": ["web"], "id": ["x"]})
    out = conform(table)
    assert out.column_names == [*DOCUMENT_SCHEMA.names, "score"]
    assert out.schema.field("text").type == pa.large_string()
    with pytest.raises(DatasetError, match="'source'"):
        conform(pa.table({"id": ["x"], "text": ["t"]}))
    with pytest.raises(DatasetError, match="'id' holds nulls"):
        conform(pa.table({"id": [None], "text": ["t"], "source": ["web"]}))
