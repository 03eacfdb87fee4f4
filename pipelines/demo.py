"""`make demo`: write the bundled sample, run configs/demo.yaml on it, say where the report is."""

from __future__ import annotations

import sys
from pathlib import Path

from corpus.process import exit_process
from corpus.samples import write_pydoc_sample
from pipelines.cli import main as corpus_main

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"


def main() -> int:
    written = write_pydoc_sample("runs/demo-input")
    print(f"sample: {len(written)} files in runs/demo-input/", file=sys.stderr)
    return corpus_main(["run", str(CONFIG), "--run-dir", "runs/demo", *sys.argv[1:]])


if __name__ == "__main__":
    exit_process(main())
