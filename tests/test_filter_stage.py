"""`corpus filter` and the `filter` pipeline stage on real documents."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow.compute as pc
import pytest

from corpus.dataset import Dataset
from filters.rules import Rule, decide_rules
from samples.pydoc_jsonl import write_pydoc_sample
from samples.shared_data import DOLMA_FILE, SHARED_DATA
from tests.commands import run_corpus
from tests.datasets import snapshot

pytestmark = pytest.mark.shared_data  # every test here reads ../shared/data

LDNOOBW = SHARED_DATA / "toxicity" / "ldnoobw"
REASON_RE = re.compile(r"^(language|gopher|c4|fineweb|toxic_words|toxicity|quality)_[a-z0-9_]+$")


def real_dataset(tmp_path):
    """Python's help topics (code-heavy reference text) and Common Crawl pages."""
    inputs = write_pydoc_sample(tmp_path / "input")
    out = tmp_path / "docs"
    result = run_corpus(
        "import", *inputs, DOLMA_FILE, "--out", out, "--part-rows", "40", "--executor", "local"
    )
    assert result.returncode == 0, result.stderr
    return out


def filter_run(tmp_path, dataset, config_text: str, name: str, *extra):
    config = tmp_path / f"{name}.yaml"
    config.write_text(config_text)
    out = tmp_path / name
    result = run_corpus("filter", dataset, "--out", out, "--config", config, *extra)
    assert result.returncode == 0, result.stderr
    return out, result


def test_filter_command_keeps_scores_and_reasons_for_every_document(tmp_path):
    dataset = real_dataset(tmp_path)
    n_in = Dataset(dataset).num_rows
    out, result = filter_run(
        tmp_path,
        dataset,
        f"""
language: {{keep: [en], min_score: 0.5}}
toxic_words: {{lists: "{LDNOOBW}", max_fraction: 0.02}}
pii: {{}}
""",
        "filtered",
        "--executor",
        "local",
    )
    kept = Dataset(out).read_all()
    rejected = Dataset(out / "_rejected").read_all()
    assert kept.num_rows + rejected.num_rows == n_in  # nothing lost
    assert 0 < kept.num_rows < n_in
    reasons = rejected.column("reason").to_pylist()
    assert all(REASON_RE.match(r) for r in reasons), set(reasons)
    # scores are columns of kept and rejected documents alike
    for table in (kept, rejected):
        for column in ("lang", "lang_score", "gopher_words", "gopher_dup_5gram_frac",
                       "c4_sentences", "fineweb_line_punct_ratio", "toxic_words_fraction",
                       "pii_replaced"):  # fmt: skip
            assert column in table.column_names
            assert table.column(column).null_count < table.num_rows
    assert set(kept.column("lang").to_pylist()) == {"en"}
    # each rejected document's reason agrees with its stored score
    for row in rejected.to_pylist():
        if row["reason"] == "gopher_min_words":
            assert row["gopher_words"] < 50
        if row["reason"] == "fineweb_min_line_punct_ratio":
            assert row["fineweb_line_punct_ratio"] < 0.12
    # counters from the stage's records
    records = [json.loads(p.read_text()) for p in (out / "_state").glob("part-*.json")]
    counters: dict = {}
    for record in records:
        for lang, n in record["stats"]["counters"]["language"]["docs"].items():
            counters[lang] = counters.get(lang, 0) + n
    assert counters.get("en", 0) >= n_in - 2
    assert "[filter]" in result.stderr and "rejected" in result.stderr

    again = run_corpus("filter", dataset, "--out", out, "--config", tmp_path / "filtered.yaml",
                       "--executor", "local")  # fmt: skip
    assert again.returncode == 0 and "reused" in again.stderr


def test_a_threshold_can_be_judged_again_from_stored_scores(tmp_path):
    """Run with min_words 50, then predict the run with min_words 400 from the stored scores
    alone; the real second run must agree document for document."""
    dataset = real_dataset(tmp_path)
    only_min_words = """
language: null
gopher_repetition: null
c4: null
fineweb: null
gopher_quality: {{min_words: {n}, max_words: null, min_mean_word_length: null,
  max_mean_word_length: null, max_symbol_word_ratio: null, max_bullet_lines_ratio: null,
  max_ellipsis_lines_ratio: null, min_alpha_words_ratio: null, min_stop_words: null}}
"""
    first, _ = filter_run(tmp_path, dataset, only_min_words.format(n=50), "first",
                          "--executor", "local")  # fmt: skip
    table = Dataset(first).read_all().select(["id", "gopher_words"])
    rejected = Dataset(first / "_rejected").read_all().select(["id", "gopher_words"])
    ids = table.column("id").to_pylist() + rejected.column("id").to_pylist()
    words = np.concatenate([table.column("gopher_words").to_numpy(),
                            rejected.column("gopher_words").to_numpy()])  # fmt: skip
    predicted = decide_rules({"w": words}, [Rule("gopher_min_words", "w", min=400)], len(ids))
    second, _ = filter_run(tmp_path, dataset, only_min_words.format(n=400), "second",
                           "--executor", "local")  # fmt: skip
    actual = set(Dataset(second / "_rejected").read_all().column("id").to_pylist())
    assert actual == {i for i, r in zip(ids, predicted, strict=True) if r}
    assert len(actual) > len(rejected)


def test_filter_stage_in_a_pipeline_same_result_on_ray_and_locally(tmp_path):
    inputs = write_pydoc_sample(tmp_path / "input")
    words = tmp_path / "words"
    words.mkdir()
    (words / "en").write_text("lambda\n")
    config = tmp_path / "p.yaml"
    config.write_text(
        f"""
name: p
stages:
  - stage: import_jsonl
    paths: ["{tmp_path}/input/*.jsonl.zst", "{DOLMA_FILE}"]
    part_rows: 30
  - stage: filter
    language: {{keep: [en]}}
    gopher_quality: {{min_stop_words: null}}
    c4: {{terminal_punct: false}}
    toxic_words: {{lists: "{words}", max_fraction: 0.001}}
    pii: {{}}
"""
    )
    assert inputs
    runs = {}
    for executor in ("ray", "local"):
        run_dir = tmp_path / executor
        result = run_corpus("run", config, "--run-dir", run_dir, "--executor", executor)
        assert result.returncode == 0, result.stderr
        runs[executor] = run_dir
    assert snapshot(runs["ray"]) == snapshot(runs["local"])
    report = json.loads((runs["ray"] / "report" / "report.json").read_text())
    stage = {s["name"]: s for s in report["stages"]}["filter"]
    assert stage["rejected"]["toxic_words_max_fraction"] > 0  # "lambda" is on our list
    # a changed word list at the same path redoes the stage
    (words / "en").write_text("zebra\n")
    result = run_corpus("run", config, "--run-dir", runs["local"], "--executor", "local")
    assert result.returncode == 0, result.stderr
    report = json.loads((runs["local"] / "report" / "report.json").read_text())
    stage = {s["name"]: s for s in report["stages"]}["filter"]
    assert stage["reused"] == 0
    assert "toxic_words_max_fraction" not in stage["rejected"]
    kept = Dataset(runs["local"] / "filter" / "kept").read_all()
    assert pc.sum(kept.column("toxic_words_count")).as_py() == 0


def test_bad_filter_configs_give_one_line(tmp_path):
    dataset = real_dataset(tmp_path)
    cases = {
        "gopher_quality: {min_wrds: 3}\n": "gopher_quality: unknown key 'min_wrds'",
        "toxic_words: {}\n": "toxic_words: lists must name a word-list file",
        "language: {keep: en}\n": "language.keep must be a list",
        "c4: {terminal_punct: maybe}\n": "c4.terminal_punct must be true or false",
        "quality: {model: /nonexistent/model.bin}\n": "no fastText model at /nonexistent/model.bin",
        "- a list\n": "must be a mapping of filter settings",
    }
    for i, (text, message) in enumerate(cases.items()):
        config = tmp_path / f"bad{i}.yaml"
        config.write_text(text)
        result = run_corpus("filter", dataset, "--out", tmp_path / f"o{i}", "--config", config,
                            "--executor", "local")  # fmt: skip
        assert result.returncode in (1, 2), text
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_part_scored_in_batches_gives_what_one_batch_gives(tmp_path, monkeypatch):
    import filters.chain as chain
    from filters.chain import filter_config, run_filters
    from pipelines.params import parse_params

    table = Dataset(real_dataset(tmp_path)).read_all()
    more = {"toxic_words": {"lists": str(LDNOOBW)}, "pii": {}}  # every default component, and more
    config = parse_params(filter_config(), more, "test")
    whole = run_filters(table, config)
    monkeypatch.setattr(chain, "BATCH_BYTES", 10_000)  # batches of a few documents
    assert len(chain._batches(table)) >= 20
    batched = run_filters(table, config)
    assert batched.kept.equals(whole.kept) and batched.rejected.equals(whole.rejected)
    assert batched.stats == whole.stats and whole.rejected.num_rows > 10
