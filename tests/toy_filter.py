"""A toy filter component, as a user would add one: parameters, a scoring function, its rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filters.rules import Rule, Scored, decide_rules, threshold_rules
from filters.spec import FilterSpec
from filters.text import Doc


@dataclass(frozen=True)
class ShoutingParams:
    max_upper_ratio: float | None = 0.5  # capitals among the letters


def shouting(docs: list[Doc], p: ShoutingParams) -> Scored:
    ratio = np.full(len(docs), np.nan)  # NaN: no letters, the rule does not apply
    for i, doc in enumerate(docs):
        letters = [c for c in doc.text if c.isalpha()]
        if letters:
            ratio[i] = sum(c.isupper() for c in letters) / len(letters)
    cols = {"shouting_upper_ratio": ratio}
    return Scored(cols, decide_rules(cols, shouting_rules(p), len(docs)))


def shouting_rules(p: ShoutingParams) -> list[Rule]:
    return threshold_rules("shouting", [("max_upper_ratio", "upper_ratio", p.max_upper_ratio)])


SHOUTING = FilterSpec("shouting", ShoutingParams, shouting, shouting_rules, on_by_default=False)
