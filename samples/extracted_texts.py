"""Every kind of real document in ../shared/data as text, read by our extract stages: the input of
the word-splitting test and the language-ID benchmark."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from pipelines.runner import source_tasks
from pipelines.stages import REGISTRY
from samples.shared_data import DOLMA_FILE, SHARED_DATA

EXTRACT_INPUTS = {
    "web": ["warc/*.warc.gz"],
    "article": ["html/scrapinghub/*.html.gz", "html/trafilatura/*.html"],
    "book": ["books/*.txt.gz", "books/*.epub"],
    "forum": ["forums/*.xml.gz"],
    "social": ["social/*.zst", "social/*.jsonl.gz"],
}


def extracted_texts() -> list[str]:
    """The texts the extract stages read from every kind of file in ../shared/data, plus the
    Common Crawl pages of the Dolma file."""
    texts = []
    for kind, patterns in EXTRACT_INPUTS.items():
        cls = REGISTRY[f"extract_{kind}"]
        params = cls.Params(paths=[str(SHARED_DATA / p) for p in patterns])
        stage = cls(params)
        with tempfile.TemporaryDirectory() as scratch:
            stage.scratch_dir = Path(scratch)
            for task in source_tasks(stage):  # as the pipeline groups and names its files
                for result in stage.read_group(list(task.inputs)):
                    texts += result.kept.column("text").to_pylist()
    with gzip.open(DOLMA_FILE) as f:
        texts += [json.loads(line)["text"] for line in f]
    return texts
