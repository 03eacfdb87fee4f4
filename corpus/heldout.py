"""Held-out texts (the trainer's `--eval-text`, the texts a corpus is decontaminated against):
plain text, one document per file, or JSONL of {"text": ...}, compressed or not."""

from __future__ import annotations

import json
from pathlib import Path

from corpus.compression import open_input
from corpus.errors import CorpusError


def read_documents(path: Path, flag: str = "--eval-text") -> list[str]:
    """The documents of a held-out text: each line's "text" of a JSONL file (`.jsonl`,
    `.ndjson`, also compressed), else the whole file as one. `flag` names the option that gave
    the file in the one-line error a bad one makes."""
    path = Path(path)
    try:
        with open_input(path) as f:
            raw = f.read()
    except OSError as exc:
        raise CorpusError(f"{flag} {path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{flag} {path}: not UTF-8 (byte {exc.start})") from None
    if not {".jsonl", ".ndjson"} & set(path.suffixes):
        return [text]
    docs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            raise CorpusError(
                f'{flag} {path}: line {number} is not a JSON object with a "text" string'
            )
        docs.append(doc["text"])
    return docs
