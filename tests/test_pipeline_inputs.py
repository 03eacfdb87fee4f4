"""Pipelines that are not a single chain: a crawl stage whose WARC files an extract stage reads,
and a stage that reads several earlier stages at once."""

import json

from corpus.dataset import Dataset
from samples.pydoc_jsonl import write_pydoc_sample
from tests.commands import run_corpus
from tests.crawl_site import Site


def _config(tmp, base, name="inputs", max_pages=30):
    write_pydoc_sample(tmp / "input")
    config = tmp / f"{name}.yaml"
    config.write_text(
        f"""
name: {name}
stages:
  - stage: crawl
    seeds: ["{base}/"]
    allow_private: true
    delay_s: 0
    timeout_s: 5
    max_depth: 2
    max_pages: {max_pages}
  - stage: extract_web
    name: web
    input: crawl
  - stage: import_jsonl
    name: docs
    paths: ["{tmp}/input/*.jsonl.zst"]
  - stage: length_filter
    input: [web, docs]
    min_words: 5
"""
    )
    return config


def test_crawl_feeds_extract_and_a_stage_reads_two_inputs(tmp_path):
    run = tmp_path / "run"
    with Site(crawl_delay=0, slow_s=0.1, pages=4) as site:
        config = _config(tmp_path, site.base)
        first = run_corpus("run", config, "--run-dir", run, "--executor", "local", timeout=300)
        assert first.returncode == 0, first.stderr
        served = len(site.requests)
        report = json.loads((run / "report" / "report.json").read_text())
        stages = {s["name"]: s for s in report["stages"]}
        crawl = stages["crawl"]
        warcs = sorted(p.name for p in (run / "crawl").glob("crawl-*.warc.gz"))
        assert warcs and crawl["counters"]["warc_files"] == len(warcs)
        assert crawl["docs_out"] >= 6  # home, /a, /b, /p/0../p/3 at least
        assert crawl["rejected"].get("robots_disallowed", 0) >= 1  # /private/secret

        web = Dataset(run / "web" / "kept").read_all().to_pylist()
        urls = {r["url"] for r in web}
        assert f"{site.base}/p/3" in urls and f"{site.base}/a" in urls
        assert all(u.startswith(site.base) for u in urls)
        assert stages["web"]["docs_out"] == len(web)

        docs = Dataset(run / "docs" / "kept").num_rows
        lf = stages["length_filter"]
        assert lf["docs_in"] == len(web) + docs  # both inputs, every document once
        assert lf["docs_in"] == lf["docs_out"] + lf["docs_rejected"]
        kept = Dataset(run / "length_filter" / "kept").read_all()
        assert set(kept.column("source").to_pylist()) == {"web"}
        ids = kept.column("id").to_pylist()
        assert len(ids) == len(set(ids))
        assert {r["id"] for r in web} & set(ids) and any(i.startswith("pydoc-topic:") for i in ids)

        # a second run reuses everything: not one request reaches the site
        again = run_corpus("run", config, "--run-dir", run, "--executor", "local", timeout=300)
        assert again.returncode == 0, again.stderr
        assert len(site.requests) == served
        assert "[crawl] 1 parts (1 reused)" in again.stderr

        # a changed crawl config starts the crawl over and the stages after it follow
        config = _config(tmp_path, site.base, max_pages=8)
        third = run_corpus("run", config, "--run-dir", run, "--executor", "local", timeout=300)
        assert third.returncode == 0, third.stderr
        report = json.loads((run / "report" / "report.json").read_text())
        stages = {s["name"]: s for s in report["stages"]}
        assert stages["crawl"]["docs_in"] == 8 and stages["crawl"]["counters"]["resumed_from"] == 0
        assert stages["length_filter"]["docs_in"] == stages["web"]["docs_out"] + docs


def test_stage_inputs_are_checked_when_the_config_loads(tmp_path):
    write_pydoc_sample(tmp_path / "input")
    head = f"""
name: bad
stages:
  - stage: import_jsonl
    name: docs
    paths: ["{tmp_path}/input/*.jsonl.zst"]
"""
    cases = {
        "  - stage: extract_web\n    input: docs\n": "'docs' is not an earlier stage that writes",
        "  - stage: extract_web\n": "needs paths (the files to read) or input",
        "  - stage: crawl\n    seeds: [ftp://x/]\n": "not an http(s) URL: ftp://x/",
        "  - stage: crawl\n    seeds: [http://x/]\n  - stage: extract_web\n    input: crawl\n"
        "    paths: [a.warc.gz]\n": "give paths or input, not both",
        "  - stage: length_filter\n    input: [docs, nope]\n": "'nope' is neither an earlier",
        "  - stage: length_filter\n    input: [docs, docs]\n": "names the same input twice",
        "  - stage: length_filter\n    input: []\n": "must name at least one stage",
    }
    for i, (tail, message) in enumerate(cases.items()):
        config = tmp_path / f"bad{i}.yaml"
        config.write_text(head + tail)
        result = run_corpus("run", config, "--run-dir", tmp_path / f"run{i}")
        assert result.returncode == 2, (tail, result.stderr)
        assert message in result.stderr, (tail, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
