"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", §3.3).

- `min_line_punct_ratio`: at least 12% of lines end in terminal punctuation;
- `max_short_line_ratio`: at most 67% of lines are 30 characters or shorter;
- `max_dup_line_char_ratio`: at most 1% of the characters are in lines that repeat an earlier line;
- `max_list_ratio`: at most 0.3 newlines per word (list-like pages).
Defaults are the published thresholds; None switches a rule off. Drop reasons are
`fineweb_<parameter>`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filters.rules import Rule, Scored, decide_rules, threshold_rules
from filters.spec import FilterSpec
from filters.text import TERMINAL_PUNCTUATION, Doc, duplicates


@dataclass(frozen=True)
class FineWebParams:
    min_line_punct_ratio: float | None = 0.12
    max_short_line_ratio: float | None = 0.67
    short_line_length: int = 30
    max_dup_line_char_ratio: float | None = 0.01
    max_list_ratio: float | None = 0.3


def fineweb(docs: list[Doc], p: FineWebParams) -> Scored:
    n = len(docs)
    names = ("line_punct_ratio", "short_line_ratio", "dup_line_char_ratio", "list_ratio")
    cols = {f"fineweb_{name}": np.zeros(n) for name in names}
    for i, doc in enumerate(docs):
        lines = doc.lines
        if lines:
            ended = sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION))
            short = sum(1 for line in lines if len(line) <= p.short_line_length)
            cols["fineweb_line_punct_ratio"][i] = ended / len(lines)
            cols["fineweb_short_line_ratio"][i] = short / len(lines)
            chars = len(doc.text) - doc.text.count("\n")
            cols["fineweb_dup_line_char_ratio"][i] = duplicates(lines)[1] / max(chars, 1)
        cols["fineweb_list_ratio"][i] = doc.text.count("\n") / max(len(doc.words), 1)
    return Scored(columns=cols, reasons=decide_rules(cols, fineweb_rules(p), n))


def fineweb_rules(p: FineWebParams) -> list[Rule]:
    """One rule per threshold that is set."""
    spec = [
        ("min_line_punct_ratio", "line_punct_ratio", p.min_line_punct_ratio),
        ("max_short_line_ratio", "short_line_ratio", p.max_short_line_ratio),
        ("max_dup_line_char_ratio", "dup_line_char_ratio", p.max_dup_line_char_ratio),
        ("max_list_ratio", "list_ratio", p.max_list_ratio),
    ]
    return threshold_rules("fineweb", spec)


FINEWEB = FilterSpec("fineweb", FineWebParams, fineweb, fineweb_rules)
