"""Runs the tests share: a small pipeline over real text, and the tokenizer and shard stages
run on their own."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.runner import StageOutcome
from pipelines.standalone import run_on_dataset
from samples.pydoc_jsonl import write_pydoc_sample
from samples.shared_data import DOLMA_FILE
from tests.shared_data_skip import require_shared_data


def make_pipeline(tmp: Path, name: str = "t", min_words: int = 100, part_rows: int = 7) -> Path:
    """A pipeline over real text (Python's help topics and a Dolma file): import, filter, export."""
    require_shared_data()
    inputs = tmp / "input"
    if not inputs.exists():
        write_pydoc_sample(inputs)
    config = tmp / f"{name}.yaml"
    config.write_text(
        f"""
name: {name}
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst", "{DOLMA_FILE}"]
    part_rows: {part_rows}
  - stage: length_filter
    name: filter
    min_words: {min_words}
  - stage: export_jsonl
    name: export
"""
    )
    return config


def run_tokenizer(dataset: Path, out: Path, executor=None, **params) -> StageOutcome:
    """Run the `tokenizer` stage over `dataset` into `out`; returns its outcome."""
    return run_on_dataset("tokenizer", dataset, out, params, executor)


def run_shards(dataset: Path, out: Path, tokenizer: Path, executor=None, **params):
    """Run the `shard` stage over `dataset` into `out`; returns (outcome, shards.json)."""
    params = {"tokenizer": str(tokenizer), **params}
    outcome = run_on_dataset("shard", dataset, out, params, executor)
    return outcome, json.loads((out / "shards.json").read_text())


# a plugin stage module (`slowstage:Slow`): documents passed through slowly, to be killed in
SLOW_STAGE = '''
import time
from dataclasses import dataclass

from corpus.stage import decide
from pipelines.stages import MapStage


class Slow(MapStage):
    """Passes documents through, slowly: a stage long enough to be killed in."""

    @dataclass(frozen=True)
    class Params:
        seconds: float = 0.25

    def process(self, table):
        time.sleep(self.params.seconds)
        return decide(table, [None] * table.num_rows)
'''

# the stages after an import that shuffle through the run folder (dedup, tokenizer, shards) and
# a sink: a pipeline with every kind of task, for the runs on an object store and a cluster
SHUFFLING_STAGES = """
  - stage: length_filter
    name: filter
    min_words: 60
  - stage: dedup
    threshold: 0.8
  - stage: tokenizer
    vocab_size: 600
  - stage: shard
    name: shards
    tokenizer: tokenizer
    shard_tokens: 20000
    val_tokens: 2000
  - stage: export_jsonl
    name: export
    input: dedup
    path: documents.jsonl.zst
"""
