"""The real-data configs (configs/books.yaml, forums.yaml, social.yaml, web.yaml) each run end to
end on the matching files in ../shared/data: extraction to shards, and a report."""

from __future__ import annotations

import json

import pytest

from tests.commands import ROOT, run_corpus

pytestmark = pytest.mark.shared_data  # every test here reads ../shared/data


@pytest.mark.parametrize(
    "name, at_least_docs, reasons",
    [
        (
            "books",
            2,
            {"dedup": {"minhash_duplicate"}},
        ),  # both editions of 972, both encodings of 9198
        ("forums", 150, {"extract": {"other_post_type"}}),
        ("social", 20, {"extract": {"deleted", "retweet"}}),
        ("web", 5, {"extract": {"no_text"}, "filter": {"language_keep"}}),
    ],
)
def test_real_data_config_runs_to_shards(tmp_path, name, at_least_docs, reasons):
    run = tmp_path / name
    r = run_corpus(
        "run", ROOT / "configs" / f"{name}.yaml", "--run-dir", run, "--executor", "local"
    )
    assert r.returncode == 0, r.stderr
    shards = json.loads((run / "shards" / "shards.json").read_text())
    docs = shards["splits"]["train"]["docs"] + shards["splits"]["val"]["docs"]
    assert docs >= at_least_docs
    assert shards["splits"]["train"]["tokens"] > 0
    assert (run / "report" / "index.html").is_file()
    report = json.loads((run / "report" / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    for stage, expected in reasons.items():
        assert expected <= set(stages[stage]["rejected"]), (stage, stages[stage]["rejected"])
