"""`make demo` does the whole mission on the generated sample: a local site crawled for real,
all five kinds of extraction, filters, dedup, tokenizer, shards, training and the report; and a
second run resumes at once."""

import json
import re

import yaml
import zstandard

from corpus.dataset import Dataset
from samples.site import OTHER_LANGUAGES, TOXIC_WORDS
from tests.commands import ROOT
from tests.conftest import run_demo
from tests.datasets import snapshot

SOURCES = ["web", "articles", "books", "forums", "social"]
DATA_SUFFIXES = {".parquet", ".gz", ".bin", ".pt", ".zst"}  # never rewritten when reused


def _rows(run, stage, kind="kept"):
    return Dataset(run / stage / kind).read_all().to_pylist()


def test_demo_runs_end_to_end_and_says_where_the_report_is(demo_run):
    tmp_path, proc = demo_run
    run = tmp_path / "runs/demo"
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == "report: runs/demo/report/index.html"
    assert any(re.match(r"quality\s+filter\s+\d+\s+\d+\s+\w", line) for line in lines)  # funnel
    assert any(re.match(r"crawl\s+crawl\s+\d+\s+\d+\s+.*robots_disallowed", x) for x in lines)
    report = json.loads((run / "report/report.json").read_text())
    names = [s["name"] for s in report["stages"]]
    assert names == [
        "crawl", *SOURCES, "filter", "quality", "dedup", "lines", "export", "tokenizer", "shards",
        "train", "ablate",
    ]  # fmt: skip
    stages = {s["name"]: s for s in report["stages"]}

    # the crawl fetched the site over HTTP: robots.txt kept it out of /private/, broken links
    # are counted, and the RSS feed led it to the news articles
    crawl = stages["crawl"]
    assert crawl["rejected"]["robots_disallowed"] >= 1 and crawl["rejected"]["http_status"] >= 1
    assert list((run / "crawl").glob("crawl-*.warc.gz"))
    web, articles = _rows(run, "web"), _rows(run, "articles")
    assert crawl["docs_out"] == len(web) + len(articles) + stages["web"]["docs_rejected"]
    assert not any("/private/" in r["url"] for r in web)
    assert all("/news/" not in r["url"] for r in web)
    assert articles and all("/news/" in r["url"] for r in articles)
    assert all(r["author"] and r["date"] for r in articles)  # the byline, from the page

    books = _rows(run, "books")
    assert len(books) == 4 and all("PROJECT GUTENBERG" not in b["text"] for b in books)
    assert any("Dédié à tous les élèves" in b["text"] for b in books)  # the Latin-1 book
    assert any(b["title"] == "A Python Reference Reader" for b in books)  # the EPUB
    forums = _rows(run, "forums")
    assert forums and all(r["text"].startswith("How does ") for r in forums)
    social = _rows(run, "social")
    kinds = {r["id"].split(":")[0] for r in social}
    assert kinds == {"reddit", "mastodon"}
    assert [r["reason"] for r in _rows(run, "social", "rejected")] == ["boost"]

    # one filter reads every source; each planted bad page is dropped for its reason
    assert stages["filter"]["docs_in"] == sum(stages[s]["docs_out"] for s in SOURCES)
    dropped = {r["url"]: r["reason"] for r in _rows(run, "quality", "rejected") if r["url"]}
    for code in OTHER_LANGUAGES:
        assert dropped[f"http://127.0.0.1:8620/lang/{code}.html"] == "language_keep"
    assert dropped["http://127.0.0.1:8620/community/rant.html"] == "toxic_words_max_fraction"
    offers = [u for u in dropped if "/offers/" in u]
    assert len(offers) == 3 and all(dropped[u].startswith("gopher_") for u in offers)
    kept_text = " ".join(r["text"] for r in _rows(run, "quality"))
    assert not re.search(rf"\b({'|'.join(TOXIC_WORDS)})\b", kept_text, re.IGNORECASE)

    # dedup: the printer-friendly copies and their originals form the clusters
    clusters = _rows(run, "dedup", "clusters")
    by_cluster: dict = {}
    for c in clusters:
        by_cluster.setdefault(c["cluster"], []).append(c)
    pairs = [m for m in by_cluster.values() if len(m) > 1]
    assert pairs and stages["dedup"]["rejected"]["minhash_duplicate"] == len(pairs)
    url = {r["id"]: r["url"] for r in _rows(run, "quality")}
    for members in pairs:
        paths = sorted(url[m["id"]].split("8620")[1] for m in members)
        assert len(paths) == 2 and paths[1] == paths[0].replace("/docs/", "/docs/print/")
        kept = [m for m in members if m["kept"]]
        assert len(kept) == 1 and "/print/" not in url[kept[0]["id"]]  # the longer original

    # line dedup: the forums' stock answer, in every thread, is removed with its count
    stock = "Also try it in the interactive interpreter and read the error messages"
    before = {r["id"]: r["text"] for r in _rows(run, "dedup")}
    threads = [r for r in _rows(run, "lines") if r["source"] == "forum"]
    assert threads and all(stock in before[r["id"]] and stock not in r["text"] for r in threads)
    for r in threads:
        (cut,) = [c for c in r["subdoc_removed"] if stock in before[r["id"]][c["start"] : c["end"]]]
        assert cut["docs"] == len(threads)
    assert stages["lines"]["counters"]["spans_removed"] >= len(threads)

    exported = run / "export/documents.jsonl.zst"
    data = zstandard.ZstdDecompressor().decompressobj().decompress(exported.read_bytes())
    docs = [json.loads(line) for line in data.decode().splitlines()]
    assert len(docs) == stages["lines"]["docs_out"]
    assert {d["source"] for d in docs} == {"web", "article", "book", "forum", "social"}

    shards = json.loads((run / "shards/shards.json").read_text())
    splits = shards["splits"]
    assert splits["train"]["docs"] + splits["val"]["docs"] == len(docs)
    assert splits["val"]["tokens"] > 0 and splits["train"]["shards"] >= 1
    assert shards["tokenizer"]["vocab_size"] <= 4096

    # a few hundred training steps on the shards, the loss printed as it falls
    rows = [json.loads(x) for x in (run / "train/metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 199
    last = [r["loss"] for r in rows[-20:]]
    assert sum(last) / len(last) < rows[0]["loss"] - 2.0  # from ln(4096) = 8.3 to about 5.5
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    assert len(vals) >= 3 and vals[-1] < vals[0] - 2.0 and min(vals) == vals[-1]
    assert "[train] step    199 loss" in proc.stderr
    assert (run / "train/ckpt_000200.pt").is_file()
    # every evaluation in bits per byte too, on the val split and on the held-out docstrings
    evals = [r for r in rows if "val_loss" in r]
    assert all(0 < r["val_bpb"] < r["val_loss"] for r in evals)  # a token holds > 1/ln 2 bytes
    held = [r["eval"]["stdlib-docstrings.jsonl"] for r in evals]
    # another domain than the pydoc topics trained on: it falls, less far (8.3 to about 7.6)
    assert held[-1]["loss"] < held[0]["loss"] - 0.5 and held[-1]["bpb"] < held[0]["bpb"]
    report = json.loads((run / "report/report.json").read_text())
    train = next(s for s in report["stages"] if s["name"] == "train")
    assert train["counters"]["last_val_bpb"] == evals[-1]["val_bpb"]

    # and it ends with the proof by training: raw extraction against the deduped text, 2 seeds
    results = json.loads((run / "ablate/results.json").read_text())
    arms = {a["name"]: a for a in results["arms"]}
    assert arms["raw"]["docs"] == stages["filter"]["docs_in"]  # every extracted document
    assert arms["dedup"]["docs"] == stages["lines"]["docs_out"]
    assert arms["dedup"]["repeat"] > arms["raw"]["repeat"]  # fewer tokens, repeated more
    assert [(r["arm"], r["seed"]) for r in results["runs"]] == [
        ("raw", 0), ("raw", 1), ("dedup", 0), ("dedup", 1)
    ]  # fmt: skip
    verdict = results["summary"]["stdlib-docstrings.jsonl"]["dedup"]["verdict"]
    assert re.search(rf"dedup .*: {re.escape(verdict)}", proc.stderr)  # the table, in words
    assert "<section id=ablation>" in (run / "report/index.html").read_text()


def test_demo_run_again_resumes_at_once(demo_run):
    tmp_path, _ = demo_run
    run = tmp_path / "runs/demo"
    before = snapshot(run)
    heavy = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.suffix in DATA_SUFFIXES}
    proc = run_demo(tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "[train] step" not in proc.stderr and "round 1" not in proc.stderr
    summaries = [
        line for line in proc.stderr.splitlines() if re.match(r"\[[a-z]+\] \d+ parts", line)
    ]
    assert len(summaries) == 15
    for line in summaries:
        done = re.match(r"\[[a-z]+\] (\d+) parts \((\d+) reused\)", line)
        assert done and done[1] == done[2], line  # every stage reused whole
    assert snapshot(run) == before  # the same bytes everywhere
    assert [p for p, t in heavy.items() if p.stat().st_mtime_ns != t] == []
    assert proc.stderr.strip().splitlines()[-1] == "report: runs/demo/report/index.html"


def _funnel(run):
    report = json.loads((run / "report/report.json").read_text())
    return [
        (s["name"], s.get("docs_in"), s.get("docs_out"), s.get("rejected"))
        for s in report["stages"]
    ]


def _losses(run):
    rows = [json.loads(x) for x in (run / "train/metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"], r.get("val_loss")) for r in rows]


def test_demo_from_scratch_twice_gives_the_same_shards_counts_and_losses(demo_run, tmp_path):
    # a second crawl of the site names its pages by URL and payload digest, as the first did,
    # so the shuffle, the val split and the training are the same, whatever the WARC files hold
    first = demo_run[0] / "runs/demo"
    # the data stages and the training (the ablation's own runs from scratch are compared in
    # test_ablate.py)
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc["stages"] = [s for s in doc["stages"] if s["stage"] != "ablate"]
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(doc))
    proc = run_demo(tmp_path, config=config)
    assert proc.returncode == 0, proc.stderr
    second = tmp_path / "runs/demo"
    shards = sorted(p.name for p in (first / "shards").glob("*.bin"))
    assert shards and shards == sorted(p.name for p in (second / "shards").glob("*.bin"))
    for name in shards:
        assert (first / "shards" / name).read_bytes() == (second / "shards" / name).read_bytes()
    assert [f for f in _funnel(first) if f[0] != "ablate"] == _funnel(second)
    assert _losses(first) == _losses(second)
    ids = [
        Dataset(run / "dedup/kept").read_all().column("id").to_pylist() for run in (first, second)
    ]
    assert sorted(ids[0]) == sorted(ids[1])
    assert any(i.startswith("web:http://127.0.0.1:8620/") and "#" in i for i in ids[0])
