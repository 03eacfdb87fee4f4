"""`make demo` does something real: the bundled sample through import, filters, dedup, export,
tokenizer training and token shards."""

import json
import pydoc_data.topics

import zstandard

from corpus.dataset import Dataset


def test_demo_runs_end_to_end_and_says_where_the_report_is(demo_run):
    tmp_path, proc = demo_run
    assert "report: runs/demo/report/report.json" in proc.stderr
    report = json.loads((tmp_path / "runs/demo/report/report.json").read_text())
    names = [s["name"] for s in report["stages"]]
    assert names == [
        "import", "filter", "quality", "dedup", "export", "tokenizer", "shards", "train"
    ]  # fmt: skip
    assert "report: runs/demo/report/index.html" in proc.stderr
    quality, dedup = report["stages"][2], report["stages"][3]

    exported = tmp_path / "runs/demo/export/documents.jsonl.zst"
    data = zstandard.ZstdDecompressor().decompressobj().decompress(exported.read_bytes())
    docs = [json.loads(line) for line in data.decode().splitlines()]
    topics = pydoc_data.topics.topics
    long_enough = {f"pydoc-topic:{k}" for k, v in topics.items() if len(v.split()) >= 100}
    assert 0 < len(long_enough) < len(topics)
    kept = {d["id"] for d in docs}
    assert kept < long_enough  # topics of 100+ words that also pass the quality rules
    assert quality["docs_in"] == len(long_enough)
    assert quality["docs_out"] == dedup["docs_in"]
    assert sum(quality["rejected"].values()) == len(long_enough) - dedup["docs_in"]
    assert dedup["docs_out"] == len(kept)
    assert dedup["docs_in"] == dedup["docs_out"] + dedup["rejected"].get("minhash_duplicate", 0)
    clusters = Dataset(tmp_path / "runs/demo/dedup/clusters").read_all().to_pylist()
    assert len(clusters) == dedup["docs_in"]
    assert {c["id"] for c in clusters if c["kept"]} == kept
    assert all(
        reason.startswith(("language_", "gopher_", "c4_", "fineweb_"))
        for reason in quality["rejected"]
    )
    shards = json.loads((tmp_path / "runs/demo/shards/shards.json").read_text())
    splits = shards["splits"]
    assert splits["train"]["docs"] + splits["val"]["docs"] == len(kept)
    assert splits["val"]["tokens"] > 0 and splits["train"]["shards"] >= 1
    assert shards["tokenizer"]["vocab_size"] <= 4096

    # a few hundred training steps on the shards, the loss printed as it falls
    rows = [
        json.loads(x) for x in (tmp_path / "runs/demo/train/metrics.jsonl").read_text().splitlines()
    ]
    assert rows[-1]["step"] == 199
    assert rows[-1]["loss"] < rows[0]["loss"] - 3.0
    assert "[train] step    199 loss" in proc.stderr
    assert (tmp_path / "runs/demo/train/ckpt_000200.pt").is_file()
