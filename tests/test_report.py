"""The quality report and `corpus trace` on a real run (the demo pipeline on Python's help text),
checked against the run's own datasets, and rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from corpus.dataset import Dataset
from corpus.shards import open_shard
from corpus.tokenizer import load_tokenizer
from tests.commands import run_corpus


@pytest.fixture(scope="module")
def demo(demo_run):
    cwd, proc = demo_run
    assert "runs/demo/report/index.html" in proc.stderr  # the run writes its report
    return cwd / "runs" / "demo"


def test_report_counts_agree_with_the_run(demo, tmp_path):
    out = tmp_path / "report"
    r = run_corpus("report", demo, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "quality" in r.stdout and "c4_min_sentences" in r.stdout  # the terminal table
    assert f"report: {out / 'index.html'}" in r.stderr
    data = json.loads((out / "report.json").read_text())
    html = (out / "index.html").read_text()
    assert "<script" not in html and "<link" not in html and "url(" not in html
    # nothing fetched from elsewhere (URLs appear as text: the documents' own addresses)
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", html)
    # the funnel: documents per stage, from the kept datasets
    funnel = {f["stage"]: f["sources"] for f in data["funnel"]}
    for stage in ("filter", "quality", "dedup"):
        kept = Dataset(demo / stage / "kept").num_rows
        assert sum(v["docs"] for v in funnel[stage].values()) == kept
    sources = ("web", "articles", "books", "forums", "social")  # one row for the five
    assert sum(v["docs"] for v in funnel["sources"].values()) == sum(
        Dataset(demo / stage / "kept").num_rows for stage in sources
    )
    assert funnel["sources"]["book"]["docs"] == Dataset(demo / "books" / "kept").num_rows
    shards = json.loads((demo / "shards" / "shards.json").read_text())
    total = shards["splits"]["train"]["tokens"] + shards["splits"]["val"]["tokens"]
    assert sum(v["tokens"] for v in funnel["shards"].values()) == total
    assert sum(s["tokens"] for s in data["shards"]) == total
    # drops: every reason's count and samples, from the rejected dataset
    drops = {d["stage"]: d for d in data["drops"]}
    rejected = Dataset(demo / "quality" / "rejected").read_all().to_pylist()
    kept = {r["id"]: r for r in Dataset(demo / "quality" / "kept").read_all().to_pylist()}
    reasons = drops["quality"]["reasons"]
    assert sum(v["count"] for v in reasons.values()) == len(rejected)
    for reason, v in reasons.items():
        mine = {r["id"]: r for r in rejected if r["reason"] == reason}
        assert v["count"] == len(mine)
        assert 0 < len(v["samples"]) <= 5
        assert all(s["id"] in mine for s in v["samples"])
        t = v["threshold"]
        for near in v["kept_near_threshold"]:  # kept documents, on the passing side
            value = kept[near["id"]][v["column"]]
            assert value >= t["value"] if t["kind"] == "min" else value <= t["value"]
    assert reasons["c4_min_sentences"]["threshold"]["value"] == 5
    assert reasons["c4_min_sentences"]["column"] == "c4_sentences"
    # distributions: histograms count every document the filter saw, thresholds attached
    quality = next(s for s in data["scores"] if s["stage"] == "quality")["histograms"]
    seen = len(rejected) + len(kept)
    assert all(sum(h["counts"]) == h["n"] <= seen for h in quality.values())
    assert quality["lang_score"]["n"] == seen
    assert [t["value"] for t in quality["lang_score"]["thresholds"]] == [0.5]
    assert sum(data["languages"].values()) == seen
    assert set(data["fertility"]) == set(shards["sources"])
    assert set(shards["sources"]) == {"web", "article", "book", "forum", "social"}
    assert all(1 < f < 3 for f in data["fertility"].values())
    assert data["dedup"]["documents"] == Dataset(demo / "dedup" / "clusters").num_rows
    stages = {s["name"]: s for s in data["stages"]}
    assert stages["quality"]["params"]["c4"]["min_sentences"] == 5
    assert stages["quality"]["wall_s"] > 0 and stages["quality"]["docs_per_s"] > 0


def test_trace_follows_a_dropped_and_a_kept_document(demo):
    rejected = Dataset(demo / "quality" / "rejected").read_all().to_pylist()[0]
    r = run_corpus("trace", demo, rejected["id"])
    assert r.returncode == 0, r.stderr
    assert f"[quality] (filter) REJECTED: {rejected['reason']}" in r.stdout
    assert "[dedup]" not in r.stdout  # it went no further
    placed = Dataset(demo / "shards" / "documents").read_all().to_pylist()[0]
    r = run_corpus("trace", demo, placed["id"])
    assert r.returncode == 0, r.stderr
    assert "[quality] (filter) kept" in r.stdout and "cluster " in r.stdout
    line = f"{placed['split']} copy 0: {placed['tokens']:,} tokens at offset {placed['offset']:,}"
    assert line in r.stdout
    # the tokens really are there: the document's text follows its <|endoftext|>
    tok, eot = load_tokenizer(demo / "tokenizer" / "tokenizer.json")
    tokens = open_shard(demo / "shards" / placed["shard"])
    start = placed["offset"]
    piece = tokens[start : start + placed["tokens"]].tolist()
    text = {r["id"]: r["text"] for r in Dataset(demo / "lines" / "kept").read_all().to_pylist()}
    assert piece[0] == eot
    assert text[placed["id"]].startswith(tok.decode(piece[1:], skip_special_tokens=False))


@pytest.mark.parametrize(
    "args, words",
    [
        (["report", "{tmp}"], "not a run folder"),
        (["trace", "{run}", "no-such-document"], "no document with id 'no-such-document'"),
    ],
)
def test_bad_input_is_one_line(demo, tmp_path, args, words):
    r = run_corpus(*[a.format(tmp=tmp_path, run=demo) for a in args])
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and words in r.stderr


def test_report_renders_in_headless_chromium(demo, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed here (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    page_path = demo / "report" / "index.html"
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: errors.append(f"request {r.url}")
                    if not r.url.startswith("file:") else None)  # fmt: skip
            started = time.perf_counter()
            page.goto(page_path.as_uri(), wait_until="load")
            load_s = time.perf_counter() - started
            charts = page.evaluate(
                """() => [...document.querySelectorAll('svg.chart')].map(s => {
                    const box = s.getBoundingClientRect();
                    const marks = [...s.querySelectorAll('rect,line,polyline')].filter(m => {
                        const b = m.getBoundingClientRect(); return b.width > 0 || b.height > 0;
                    });
                    return {label: s.getAttribute('aria-label'), w: box.width, h: box.height,
                            marks: marks.length};
                })"""
            )
            dropped = page.locator(".doc.drop").first
            dropped.scroll_into_view_if_needed()
            visible = dropped.is_visible() and "corpus trace" in dropped.inner_text()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    labels = {c["label"] for c in charts}
    for needed in ("documents after each stage", "drops in quality", "lang_score", "languages",
                   "cluster sizes", "fertility", "shard tokens"):  # fmt: skip
        assert needed in labels, needed
    assert any(label.startswith("bpb on ") for label in labels), labels  # the ablation's curves
    assert all(c["w"] > 0 and c["h"] > 0 and c["marks"] > 0 for c in charts), charts
    assert visible
    assert (tmp_path / "report.png").stat().st_size > 50_000
    assert load_s < 2.0


@pytest.mark.shared_data
def test_report_of_a_100k_document_run_is_small_and_quick(tmp_path):
    """100,000 real paragraphs through import, a length filter and exact dedup (with planted
    copies): the page stays under 5 MB, and Chromium loads it in under 2 s where present."""
    import random

    from samples.shared_data import real_documents
    from tests.datasets import write_jsonl

    paragraphs = [p for _, t in real_documents(1000) for p in t.split("\n\n") if p.strip()]
    rng = random.Random(0)
    lines = []
    for i in range(100_000):
        text = paragraphs[i % len(paragraphs)] if i % 7 else rng.choice(paragraphs)
        source = ("web", "book", "forum", "social", "article")[i % 5]
        lines.append(json.dumps({"id": f"d{i}", "text": text, "source": source}))
    write_jsonl(tmp_path / "in.jsonl.zst", lines)
    config = tmp_path / "big.yaml"
    config.write_text(
        f"""
name: big
stages:
  - stage: import_jsonl
    name: import
    paths: ["{tmp_path / "in.jsonl.zst"}"]
    part_rows: 25000
  - stage: length_filter
    name: filter
    min_words: 8
  - stage: dedup
    mode: exact
"""
    )
    run = tmp_path / "run"
    r = run_corpus("run", config, "--run-dir", run, "--executor", "local", timeout=900)
    assert r.returncode == 0, r.stderr
    page = run / "report" / "index.html"
    data = json.loads((run / "report" / "report.json").read_text())
    assert data["stages"][0]["docs_in"] == 100_000
    assert data["dedup"]["documents"] > 50_000
    size = page.stat().st_size
    print(f"\nreport of a 100k-document run: {size / 1e6:.2f} MB")
    assert size < 5_000_000
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return  # the size is checked; the load time needs the browser
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page()
            started = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="load")
            load_s = time.perf_counter() - started
        finally:
            browser.close()
    print(f"opened in {load_s:.2f} s")
    assert load_s < 2.0
