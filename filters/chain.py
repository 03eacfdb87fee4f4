"""The filter stage: every configured component scores every document, then decides.

Components run in a fixed order: language, Gopher repetition, Gopher quality, C4, FineWeb, word-list
toxicity, the toxicity classifier, the quality classifier, PII. Each adds its score columns to
every document, kept or not, so the report can draw full distributions and a threshold can be
judged again from the stored scores. A document's drop reason is the first rule it breaks, in
that order. C4 rewrites the text of the documents it keeps (line removal); PII redaction rewrites
every document, rejected ones too, so no report excerpt shows an address.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpus.stage import StageResult, decide
from filters.c4 import C4Params, c4
from filters.classify import QualityClassifierParams, ToxicityClassifierParams, classifier
from filters.fineweb import FineWebParams, fineweb
from filters.gopher import (
    GopherQualityParams,
    GopherRepetitionParams,
    gopher_quality,
    gopher_repetition,
)
from filters.langid import LanguageParams, language
from filters.pii import PiiParams, pii
from filters.text import Doc
from filters.wordlist import ToxicWordsParams, toxic_words

ORDER = (
    "language", "gopher_repetition", "gopher_quality", "c4", "fineweb", "toxic_words",
    "toxicity", "quality", "pii",
)  # fmt: skip


@dataclass(frozen=True)
class FilterConfig:
    """Which components run, with their thresholds; `null` in a config switches one off."""

    language: LanguageParams | None = LanguageParams()
    gopher_repetition: GopherRepetitionParams | None = GopherRepetitionParams()
    gopher_quality: GopherQualityParams | None = GopherQualityParams()
    c4: C4Params | None = C4Params()
    fineweb: FineWebParams | None = FineWebParams()
    toxic_words: ToxicWordsParams | None = None  # needs a word list (e.g. LDNOOBW)
    toxicity: ToxicityClassifierParams | None = None  # needs a model
    quality: QualityClassifierParams | None = None  # needs a model
    pii: PiiParams | None = None  # redaction rewrites text; switch it on with `pii: {}`


def run_filters(table: pa.Table, config: FilterConfig) -> StageResult:
    """Score every document of `table` with each configured component, then keep or drop."""
    n = table.num_rows
    texts: list[str] = table.column("text").to_pylist()
    # a language identified by an earlier stage, until this one identifies it
    langs = table.column("lang").to_pylist() if "lang" in table.column_names else [None] * n
    reasons: list[str | None] = [None] * n
    columns: dict[str, np.ndarray | list] = {}
    stats: dict = {}
    docs = [Doc(t, lang) for t, lang in zip(texts, langs, strict=False)]

    for name in ORDER:
        params = getattr(config, name)
        if params is None:
            continue
        if name == "language":
            scored, langs = language(texts, params)
            columns["lang"] = langs
            docs = [Doc(t, lang) for t, lang in zip(texts, langs, strict=False)]
        elif name in ("toxicity", "quality"):
            scored = classifier(texts, params, name)
        elif name == "pii":
            scored = pii(texts, params)
        else:
            scored = COMPONENTS[name](docs, params)
        columns.update(scored.columns)
        for i, reason in enumerate(scored.reasons):
            if reason is not None and reasons[i] is None:
                reasons[i] = reason
        if scored.texts is not None:
            for i, new in enumerate(scored.texts):
                # line removal only for documents still kept; redaction for every document
                if new != texts[i] and (name == "pii" or reasons[i] is None):
                    texts[i] = new
                    docs[i] = Doc(new, docs[i].lang)
        if scored.stats:
            stats[name] = scored.stats

    text_type = table.schema.field("text").type
    out = table.set_column(table.column_names.index("text"), "text", pa.array(texts, text_type))
    out = out.drop_columns([c for c in out.column_names if c in columns])  # scored again
    for name, values in columns.items():
        out = out.append_column(name, _arrow(values))
    result = decide(out, reasons)
    result.stats = stats
    return result


def _arrow(values) -> pa.Array:
    if isinstance(values, list):
        return pa.array(values, type=pa.string())
    if values.dtype.kind in "iu":
        return pa.array(values, type=pa.int64())
    return pa.array(values, type=pa.float64(), from_pandas=True)  # NaN: does not apply


COMPONENTS = {
    "gopher_repetition": gopher_repetition,
    "gopher_quality": gopher_quality,
    "c4": c4,
    "fineweb": fineweb,
    "toxic_words": toxic_words,
}
