"""Held-out text for the trainer's `eval_text`: the docstrings of a few standard-library modules,
English technical prose that none of the sample's documents holds."""

from __future__ import annotations

import importlib
import json
import textwrap
from pathlib import Path

from samples.reproducible import write_if_changed

HELDOUT_MODULES = ("argparse", "csv", "heapq", "json", "shelve", "unittest")


def write_heldout(path: Path) -> Path:
    """The docstrings as JSONL, one module a line."""
    lines = []
    for name in HELDOUT_MODULES:
        doc = textwrap.dedent(importlib.import_module(name).__doc__ or "").strip()
        lines.append(json.dumps({"id": f"stdlib:{name}", "text": doc}, ensure_ascii=False))
    return write_if_changed(path, ("\n".join(lines) + "\n").encode())
