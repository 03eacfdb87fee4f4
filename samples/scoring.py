"""Scoring an extraction against gold text, as the scrapinghub article benchmark does."""

from __future__ import annotations

import re
from collections import Counter


def token_f1(pred: str | None, gold: str) -> float:
    """Bag-of-words F1 of lowercased `\\w+` tokens."""
    p = Counter(re.findall(r"\w+", (pred or "").lower()))
    g = Counter(re.findall(r"\w+", gold.lower()))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)
