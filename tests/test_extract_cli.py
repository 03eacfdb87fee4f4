"""`corpus extract KIND` and the extract stages in a pipeline, on the real samples."""

from __future__ import annotations

import json

import pytest

from corpus.dataset import Dataset
from samples.shared_data import SHARED_DATA
from tests.commands import run_corpus

pytestmark = pytest.mark.shared_data  # every test here reads ../shared/data


def test_extract_each_kind_from_the_command_line(tmp_path):
    cases = {
        "web": (
            [
                SHARED_DATA / "warc" / "cc-whirlwind_whirlwind.warc.gz",
                SHARED_DATA / "warc" / "cc-whirlwind_whirlwind.warc.wet.gz",
            ],
            2,
        ),
        "article": ([f"{SHARED_DATA}/html/scrapinghub/*.html.gz"], 10),
        "book": ([f"{SHARED_DATA}/books/*.gz", SHARED_DATA / "books" / "live-manual.en.epub"], 5),
        "forum": ([SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz"], 257),
        "social": (
            [
                SHARED_DATA / "social" / "reddit_from_praw_cassette.ndjson.zst",
                SHARED_DATA / "social" / "twitter_v2_brexit.jsonl.gz",
            ],
            34,
        ),
    }
    for kind, (inputs, docs) in cases.items():
        out = tmp_path / kind
        result = run_corpus("extract", kind, *inputs, "--out", out, "--executor", "local")
        assert result.returncode == 0, result.stderr
        dataset = Dataset(out)
        assert dataset.num_rows == docs, kind
        table = dataset.read_all()
        assert set(table.column("source").to_pylist()) == {kind}
        for meta in table.column("meta").to_pylist():
            assert json.loads(meta)["path"].startswith(str(SHARED_DATA.resolve()))  # provenance


def test_extract_options_and_errors(tmp_path):
    out = tmp_path / "forum"
    posts = SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz"
    result = run_corpus(
        "extract",
        "forum",
        posts,
        "--out",
        out,
        "--executor",
        "local",
        "--set",
        "site=https://datascience.stackexchange.com",
        "--set",
        "max_answers=1",
    )
    assert result.returncode == 0, result.stderr
    table = Dataset(out).read_all()
    assert all(
        u.startswith("https://datascience.stackexchange.com/questions/")
        for u in table.column("url").to_pylist()
    )
    assert max(len(json.loads(m)["post_ids"]) for m in table.column("meta").to_pylist()) == 2

    bad = run_corpus("extract", "forum", posts, "--out", out, "--set", "max_answers=many")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        == "corpus extract: error: corpus extract forum.max_answers must be an integer, got 'many'"
    )
    bad = run_corpus("extract", "novel", posts, "--out", out)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    missing = run_corpus("extract", "book", tmp_path / "nope.txt", "--out", out)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr


def test_extract_stages_in_a_pipeline(tmp_path):
    config = tmp_path / "books.yaml"
    config.write_text(
        f"""
name: books
stages:
  - stage: extract_book
    name: books
    paths: ["{SHARED_DATA}/books/*.txt.gz", "{SHARED_DATA}/books/*.epub"]
  - stage: extract_social
    name: social
    paths: ["{SHARED_DATA}/social/*.zst"]
    min_score: 10
  - stage: length_filter
    input: books
    name: long_books
    min_words: 50000
"""
    )
    run_dir = tmp_path / "run"
    result = run_corpus("run", config, "--run-dir", run_dir, "--executor", "local")
    assert result.returncode == 0, result.stderr
    report = json.loads((run_dir / "report" / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    assert stages["books"]["docs_out"] == 5
    assert stages["social"]["rejected"]["below_min_score"] > 0
    long_books = Dataset(run_dir / "long_books" / "kept").read_all()
    assert 0 < long_books.num_rows < 5
