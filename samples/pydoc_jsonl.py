"""The help topics as dolma-style JSONL.zst: the input of the tests' small pipelines."""

from __future__ import annotations

import json
import pydoc_data.topics
from pathlib import Path

from corpus.compression import open_output

SAMPLE_FILES = 3


def write_pydoc_sample(out_dir: str | Path) -> list[Path]:
    """The help topics as dolma-style JSONL.zst, spread over a few files; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    topics = sorted(pydoc_data.topics.topics.items())
    paths = []
    for i in range(SAMPLE_FILES):
        path = out_dir / f"pydoc-topics-{i}.jsonl.zst"
        with open_output(path) as f:
            for name, text in topics[i::SAMPLE_FILES]:
                record = {
                    "id": f"pydoc-topic:{name}",
                    "text": text,
                    "source": "web",
                    "metadata": {"url": f"pydoc:topics/{name}", "title": name},
                }
                f.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        paths.append(path)
    return paths
