"""Stats where the work happens: each task profiles the parts it writes, the driver merges the
profiles, and `corpus report` and `corpus trace` read records and footers, not the corpus.

The report of a run over many small parts, on Ray, is checked against what one pass over the
whole datasets finds (computed here, the plain way); then the parts are replaced by garbage of
the same size and time, and the report is still the same, so it read none of them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import zstandard

import corpus.dataset
from corpus.dataset import Dataset, read_part_file, write_part
from corpus.idfilter import build, may_hold
from pipelines.config import load_pipeline
from pipelines.executors import RayExecutor
from pipelines.pipeline import run_pipeline
from pipelines.profile import KEYS, histogram, merge_sketches, sketch
from pipelines.report import trace
from pipelines.runner import STAGE_RECORD
from samples.pydoc_jsonl import write_pydoc_sample
from tests.commands import run_corpus
from tests.datasets import write_jsonl
from tests.shared_data_skip import require_shared_data

STAGES = ("import", "quality", "dedup")


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_session):
    """import (parts of 9 documents) -> the filter stage -> MinHash dedup, on Ray, over Python's
    help topics, with every third one copied under a new id so clusters form."""
    require_shared_data()
    tmp = tmp_path_factory.mktemp("profiles")
    write_pydoc_sample(tmp / "input")
    copies = []
    for path in sorted((tmp / "input").glob("*.jsonl.zst")):
        with zstandard.open(path, "rt", encoding="utf-8") as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines[::3]):
            doc = json.loads(line)
            copies.append(json.dumps({**doc, "id": f"copy-{path.name}-{i}"}))
    write_jsonl(tmp / "input" / "copies.jsonl.zst", copies)
    config = tmp / "p.yaml"
    config.write_text(
        f"""
name: p
stages:
  - stage: import_jsonl
    name: import
    paths: ["{tmp}/input/*.jsonl.zst"]
    part_rows: 9
  - stage: filter
    name: quality
    input: import
    language: {{keep: [en], min_score: 0.5}}
    c4: {{curly_braces: false}}
  - stage: dedup
    threshold: 0.8
"""
    )
    run_dir = tmp / "run"
    run_pipeline(load_pipeline(config), run_dir, RayExecutor(), log=lambda line: None)
    return run_dir


def _table(run_dir: Path, stage: str, kind: str) -> pa.Table:
    return Dataset(run_dir / stage / kind).read_all()


def _hash(doc_id: str) -> bytes:
    return hashlib.blake2b(doc_id.encode(), digest_size=8).digest()


def test_the_report_is_what_one_pass_over_the_whole_datasets_finds(run):
    data = json.loads((run / "report" / "report.json").read_text())
    assert len(Dataset(run / "quality" / "kept").parts) > 5  # many parts, merged
    drops = {d["stage"]: d for d in data["drops"]}
    kept = _table(run, "quality", "kept")
    rejected = _table(run, "quality", "rejected")
    reasons = drops["quality"]["reasons"]
    assert len(reasons) >= 3
    all_reasons = rejected.column("reason").to_pylist()
    ids = rejected.column("id").to_pylist()
    sources = rejected.column("source").to_pylist()
    for reason, found in reasons.items():
        rows = [i for i, r in enumerate(all_reasons) if r == reason]
        assert found["count"] == len(rows)
        per_source: dict = {}
        for i in rows:
            per_source[sources[i]] = per_source.get(sources[i], 0) + 1
        assert found["per_source"] == per_source
        chosen = sorted(sorted(rows, key=lambda i: (_hash(ids[i]), i))[:5])
        assert [s["id"] for s in found["samples"]] == [ids[i] for i in chosen]
        if found["column"] and found["column"] in kept.column_names:
            values = np.array(kept.column(found["column"]).to_pylist(), dtype=float)
            distance = np.abs(values - found["threshold"]["value"])
            order = [i for i in np.argsort(distance, kind="stable") if np.isfinite(distance[i])]
            kept_ids = kept.column("id").to_pylist()
            near = [kept_ids[i] for i in order[:5]]
            assert [s["id"] for s in found["kept_near_threshold"]] == near
    # histograms: every score column over kept and rejected, bins from the values and thresholds
    histograms = next(s for s in data["scores"] if s["stage"] == "quality")["histograms"]
    assert len(histograms) > 20
    for column, h in histograms.items():
        values = np.concatenate(
            [np.array(t.column(column).to_pylist(), dtype=float) for t in (kept, rejected)]
        )
        values = values[np.isfinite(values)]
        assert len(np.unique(values)) <= KEYS  # so the summary holds every value exactly
        lo = min([values.min()] + [t["value"] for t in h["thresholds"]])
        hi = max([values.max()] + [t["value"] for t in h["thresholds"]])
        counts, _ = np.histogram(values, bins=30, range=(lo, hi if hi > lo else lo + 1))
        assert h["counts"] == counts.tolist(), column
        assert h["n"] == len(values) and h["mean"] == round(float(values.mean()), 6)
    langs = kept.column("lang").to_pylist() + rejected.column("lang").to_pylist()
    assert data["languages"] == {
        lang: langs.count(lang) for lang in sorted(set(langs), key=lambda x: (-langs.count(x), x))
    }
    # dedup: cluster sizes, and the two largest clusters' first members
    clusters = _table(run, "dedup", "clusters").to_pylist()
    centres = [r for r in clusters if r["cluster"] is not None and r["cluster"] == r["id"]]
    sizes: dict = {}
    for r in centres:
        sizes[str(r["size"])] = sizes.get(str(r["size"]), 0) + 1
    assert data["dedup"]["size_distribution"] == dict(
        sorted(sizes.items(), key=lambda kv: int(kv[0]))
    )
    assert data["dedup"]["clusters"] == len(centres)
    biggest = sorted({(-r["size"], r["cluster"]) for r in clusters if (r["size"] or 0) > 1})[:2]
    assert len(biggest) == 2
    for example, (minus, name) in zip(data["dedup"]["examples"], biggest, strict=True):
        members = sorted(
            (r for r in clusters if r["cluster"] == name), key=lambda r: (not r["kept"], r["id"])
        )
        assert example["size"] == -minus
        assert [m["id"] for m in example["members"]] == [r["id"] for r in members[:2]]
        assert all(m["excerpt"] for m in example["members"])


def test_the_report_reads_records_not_documents(run, tmp_path):
    out = tmp_path / "from-parts"
    for stage in STAGES:  # a stage recorded without profiles is profiled from its parts
        record = run / "_state" / stage / STAGE_RECORD
        saved = record.read_bytes()
        doc = json.loads(saved)
        doc.pop("profiles")
        record.write_text(json.dumps(doc))
        try:
            r = run_corpus("report", run, "--out", out)
        finally:
            record.write_bytes(saved)
        assert r.returncode == 0, r.stderr
        assert (out / "report.json").read_bytes() == (run / "report" / "report.json").read_bytes()
    # with every part garbage (same size and time), the report is the same: it reads none
    originals = {}
    for part in run.rglob("*.parquet"):
        if "_state" not in part.parts:
            st = part.stat()
            originals[part] = part.read_bytes()
            part.write_bytes(bytes(st.st_size))
            os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))
    try:
        r = run_corpus("report", run, "--out", tmp_path / "again")
    finally:
        for part, data in originals.items():
            st = part.stat()
            part.write_bytes(data)
            os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert r.returncode == 0, r.stderr
    again = (tmp_path / "again" / "report.json").read_bytes()
    assert again == (run / "report" / "report.json").read_bytes()


def test_trace_opens_only_the_parts_that_can_hold_the_id(run, monkeypatch):
    doc_id = _table(run, "dedup", "kept").column("id")[3].as_py()
    holders, total = set(), 0
    for stage in STAGES:
        for kind in ("kept", "rejected", "clusters"):
            folder = run / stage / kind
            if not (folder / "_manifest.json").is_file():
                continue
            ds = Dataset(folder)
            for part in ds.parts:
                total += 1
                if doc_id in ds.read_part(part, ["id"]).column("id").to_pylist():
                    holders.add(str(folder / part.name))
    opened = []
    real = corpus.dataset.read_part_file

    def counting(path, *args, **kwargs):
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(corpus.dataset, "read_part_file", counting)
    text = trace(run, doc_id)
    assert "[dedup] (dedup) kept" in text and "cluster " in text
    assert total > 30 and len(holders) == 4  # import, quality and dedup kept; dedup clusters
    assert holders <= set(opened)
    assert len(set(opened) - holders) <= 1  # a filter may let a rare other part through


def test_id_filters_have_no_false_negatives_and_few_false_positives():
    ids = [f"doc-{i}" for i in range(20_000)]
    bloom = build(ids)
    assert all(may_hold(bloom, i) for i in ids)
    false = sum(may_hold(bloom, f"other-{i}") for i in range(20_000))
    assert false < 20_000 * 0.02
    assert not may_hold(build([]), "doc-1")


def test_a_part_read_back_has_no_filter_in_its_schema(tmp_path):
    table = pa.table({"id": ["a", "b"], "text": ["x", "y"]})
    info = write_part(table, tmp_path, "part-00000")
    back = read_part_file(tmp_path / info.name, info.sha256)
    assert back.equals(table) and back.schema.metadata is None


def test_merged_histograms_do_not_depend_on_the_order_of_merging():
    rng = np.random.default_rng(0)
    chunks = [rng.lognormal(0, 2, 3000) for _ in range(8)]  # 24,000 distinct values
    sketches = [sketch(c) for c in chunks]

    def fold(items):
        total = None
        for s in items:
            total = merge_sketches(total, s)
        return total

    forward = fold(sketches)
    backward = fold(sketches[::-1])
    pairs = fold([merge_sketches(sketches[i], sketches[i + 1]) for i in (6, 0, 4, 2)])
    assert forward == backward == pairs
    values = np.concatenate(chunks)
    assert len(forward["values"]) <= KEYS
    assert (forward["n"], forward["min"], forward["max"]) == (
        len(values),
        values.min(),
        values.max(),
    )
    h = histogram(forward, [{"value": 0.5}])
    exact, _ = np.histogram(values, bins=30, range=(values.min(), values.max()))
    assert sum(h["counts"]) == len(values)
    assert np.abs(np.array(h["counts"]) - exact).sum() <= len(values) * 0.005
    assert h["mean"] == round(float(values.mean()), 6)


def test_a_stage_that_rejects_everything_has_a_report(tmp_path):
    require_shared_data()
    write_pydoc_sample(tmp_path / "input")
    config = tmp_path / "all.yaml"
    config.write_text(
        f"""
name: all
stages:
  - stage: import_jsonl
    name: import
    paths: ["{tmp_path}/input/*.jsonl.zst"]
  - stage: filter
    name: quality
    gopher_quality: {{min_words: 1000000}}
"""
    )
    run = tmp_path / "run"
    r = run_corpus("run", config, "--run-dir", run, "--executor", "local")
    assert r.returncode == 0, r.stderr
    data = json.loads((run / "report" / "report.json").read_text())
    (drop,) = [d for d in data["drops"] if d["stage"] == "quality"]
    assert drop["rejected"] == drop["docs_in"] == Dataset(run / "import" / "kept").num_rows
    histograms = next(s for s in data["scores"] if s["stage"] == "quality")["histograms"]
    assert histograms["gopher_words"]["n"] == drop["docs_in"]
