"""Threshold rules over score columns, and the result every filter component returns.

A component scores every document (one or more measure columns), then each of its rules compares
one measure with a threshold; the first rule a document breaks is its drop reason. Measures and
decisions are kept apart, so the same scores can be judged again under other thresholds
(`decide_rules`). A measure that is NaN does not apply to the document (a stop-word rule for a
language with no list, say) and breaks no rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Rule:
    """Drop a document whose `column` is below `min` or above `max`; `name` is the reason."""

    name: str
    column: str
    min: float | None = None
    max: float | None = None
    param: str | None = None  # the parameter that sets the bound; None: a fixed bound


@dataclass
class Scored:
    """What one component made of a batch of documents."""

    columns: dict[str, np.ndarray]  # measure columns, one value per document
    reasons: list[str | None]  # per document: the rule it breaks, or None
    texts: list[str] | None = None  # rewritten texts (line removal, redaction), if any
    stats: dict = field(default_factory=dict)  # counters summed over the run


def decide_rules(columns: dict[str, np.ndarray], rules: list[Rule], n: int) -> list[str | None]:
    """Per document, the name of the first rule in `rules` it breaks, or None."""
    reasons = np.full(n, None, dtype=object)
    for rule in reversed(rules):  # the first rule in the list wins
        values = np.asarray(columns[rule.column], dtype=np.float64)
        broken = np.zeros(n, dtype=bool)
        with np.errstate(invalid="ignore"):  # NaN compares False: the rule does not apply
            if rule.min is not None:
                broken |= values < rule.min
            if rule.max is not None:
                broken |= values > rule.max
        reasons[broken] = rule.name
    return list(reasons)


def threshold_rules(prefix: str, spec: list[tuple[str, str, float | None]]) -> list[Rule]:
    """Rules from (parameter, measure, threshold) rows. A parameter named `min_*` drops documents
    whose measure is below its threshold, any other drops those above; the reason is
    `{prefix}_{parameter}`, and a threshold of None switches the rule off."""
    rules = []
    for param, measure, threshold in spec:
        if threshold is None:
            continue
        bound = {"min": threshold} if param.startswith("min_") else {"max": threshold}
        rules.append(Rule(f"{prefix}_{param}", f"{prefix}_{measure}", **bound, param=param))
    return rules
