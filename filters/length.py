"""Length filter: drop documents with too few or too many characters or words.

Scores (`length_chars`, `length_words`) are added as columns and kept apart from the decision,
so a threshold can change without recounting. A word is a run of non-space characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from corpus.stage import StageResult, decide
from filters.rules import Rule, decide_rules


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


def length_rules(limits: LengthThresholds) -> list[Rule]:
    """One rule per limit that is set, named as the limit; the first a document breaks wins."""
    rules = [
        Rule("min_chars", "length_chars", min=limits.min_chars, param="min_chars"),
        Rule("min_words", "length_words", min=limits.min_words, param="min_words"),
    ]
    if limits.max_chars is not None:
        rules.append(Rule("max_chars", "length_chars", max=limits.max_chars, param="max_chars"))
    if limits.max_words is not None:
        rules.append(Rule("max_words", "length_words", max=limits.max_words, param="max_words"))
    return rules


def length_reasons(table: pa.Table, limits: LengthThresholds) -> list[str | None]:
    """Per row, the first limit it breaks (named as the limit) or None to keep it."""
    columns = {c: table.column(c).to_numpy() for c in ("length_chars", "length_words")}
    return decide_rules(columns, length_rules(limits), table.num_rows)


def length_filter(table: pa.Table, limits: LengthThresholds) -> StageResult:
    """Score lengths and decide."""
    scored = score_length(table)
    return decide(scored, length_reasons(scored, limits))
