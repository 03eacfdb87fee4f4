"""Length filter: drop documents with too few or too many characters or words.

Scores (`length_chars`, `length_words`) are added as columns and kept apart from the decision,
so a threshold can change without recounting. A word is a run of non-space characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.stage import StageResult, decide


@dataclass(frozen=True)
class LengthThresholds:
    min_chars: int = 0
    max_chars: int | None = None
    min_words: int = 0
    max_words: int | None = None


def score_length(table: pa.Table) -> pa.Table:
    """Add `length_chars` (code points) and `length_words` (non-space runs) to `table`."""
    text = table.column("text")
    chars = pc.cast(pc.utf8_length(text), pa.int64())
    words = pc.cast(pc.count_substring_regex(text, r"\S+"), pa.int64())
    return table.append_column("length_chars", chars).append_column("length_words", words)


def length_reasons(table: pa.Table, limits: LengthThresholds) -> list[str | None]:
    """Per row, the first limit it breaks (named as the limit) or None to keep it."""
    chars = table.column("length_chars").to_numpy()
    words = table.column("length_words").to_numpy()
    rules = [
        ("min_chars", chars < limits.min_chars),
        ("min_words", words < limits.min_words),
    ]
    if limits.max_chars is not None:
        rules.append(("max_chars", chars > limits.max_chars))
    if limits.max_words is not None:
        rules.append(("max_words", words > limits.max_words))
    reasons = np.full(table.num_rows, None, dtype=object)
    for name, broken in reversed(rules):  # the first rule in `rules` wins
        reasons[broken] = name
    return list(reasons)


def length_filter(table: pa.Table, limits: LengthThresholds) -> StageResult:
    """Score lengths and decide."""
    scored = score_length(table)
    return decide(scored, length_reasons(scored, limits))
