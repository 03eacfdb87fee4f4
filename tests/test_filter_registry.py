"""A filter component added as one file plus one registration line shows up everywhere: in
`corpus stages`, in a pipeline's filter stage, and in the report with its threshold."""

from __future__ import annotations

import json

import pytest

from corpus.dataset import Dataset
from filters.registry import FILTERS, register
from pipelines.cli import main
from tests.toy_filter import SHOUTING

CALM = "The river runs past the old mill and under the stone bridge before it meets the sea."
LOUD = "BUY NOW!!! THE BEST DEAL IN TOWN, ONLY TODAY, DO NOT MISS IT, CALL US RIGHT AWAY!"
ONLY_LOUD = ["loud-1", "loud-2"]


@pytest.fixture
def shouting():
    """The toy filter registered for one test, then taken out again."""
    register(SHOUTING)  # the one line a new filter adds to filters/registry.py
    yield SHOUTING
    del FILTERS[SHOUTING.name]


def test_a_registered_filter_is_listed_by_corpus_stages(shouting, capsys):
    assert main(["stages"]) == 0
    out = capsys.readouterr().out
    filter_section = out[out.index("\nfilter (map)") :]
    assert "    shouting: a mapping, or null to switch it off (off by default)" in filter_section
    assert "        max_upper_ratio: float | null = 0.5" in filter_section


def test_a_registered_filter_runs_in_a_pipeline_and_its_threshold_is_reported(
    shouting, tmp_path, capsys
):
    rows = [{"id": f"calm-{i}", "text": CALM} for i in range(3)]
    rows += [{"id": doc_id, "text": LOUD} for doc_id in ONLY_LOUD]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "toy.yaml"
    config.write_text(
        f"""name: toy
stages:
  - stage: import_jsonl
    paths: [{tmp_path / "docs.jsonl"}]
  - stage: filter                 # only the toy filter: the built-in ones are switched off
    language: null
    gopher_repetition: null
    gopher_quality: null
    c4: null
    fineweb: null
    shouting: {{max_upper_ratio: 0.6}}
"""
    )
    run = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run), "--executor", "local"]) == 0
    kept = Dataset(run / "filter" / "kept").read_all()
    rejected = Dataset(run / "filter" / "rejected").read_all()
    assert sorted(kept.column("id").to_pylist()) == ["calm-0", "calm-1", "calm-2"]
    assert sorted(rejected.column("id").to_pylist()) == ONLY_LOUD
    assert set(rejected.column("reason").to_pylist()) == {"shouting_max_upper_ratio"}
    assert max(kept.column("shouting_upper_ratio").to_pylist()) < 0.6
    assert min(rejected.column("shouting_upper_ratio").to_pylist()) > 0.6

    out = tmp_path / "report"
    assert main(["report", str(run), "--out", str(out)]) == 0
    capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    line = {
        "param": "shouting.max_upper_ratio",
        "value": 0.6,
        "kind": "max",
        "reason": "shouting_max_upper_ratio",
    }
    (drops,) = [d for d in report["drops"] if d["stage"] == "filter"]
    assert drops["reasons"]["shouting_max_upper_ratio"]["threshold"] == line
    assert drops["reasons"]["shouting_max_upper_ratio"]["column"] == "shouting_upper_ratio"
    (scores,) = [s for s in report["scores"] if s["stage"] == "filter"]
    assert scores["histograms"]["shouting_upper_ratio"]["thresholds"] == [line]
    assert "shouting.max_upper_ratio = 0.6" in (out / "index.html").read_text()


def test_without_the_registration_line_the_filter_is_unknown(tmp_path, capsys):
    assert "shouting" not in FILTERS
    assert main(["stages"]) == 0
    assert "shouting" not in capsys.readouterr().out
