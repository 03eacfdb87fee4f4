"""The filter stage: every configured component scores every document, then decides.

Components run in the order `filters.registry` lists them. Each adds its score columns to every
document, kept or not, so the report can draw full distributions and a threshold can be judged again
from the stored scores. A document's drop reason is the first rule it breaks, in that order. C4
rewrites the text of the documents it keeps (line removal); PII redaction rewrites every document,
rejected ones too, so no report excerpt shows an address.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.stage import StageResult, add_counters, decide
from filters.registry import FILTERS
from filters.rules import Rule
from filters.spec import FilterSpec
from filters.text import Doc


def __getattr__(name: str):
    """`FilterConfig`: the config class of the components registered now."""
    if name == "FilterConfig":
        return filter_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def filter_config() -> type:
    """The filter stage's parameters: one group per registered component, `None` when off."""
    return _config_class(tuple(FILTERS.values()))


@functools.cache
def _config_class(specs: tuple[FilterSpec, ...]) -> type:
    """A frozen dataclass with one optional group per spec; the same specs give the same class."""
    fields = [
        (spec.name, spec.params | None, spec.params() if spec.on_by_default else None)
        for spec in specs
    ]
    cls = dataclasses.make_dataclass("FilterConfig", fields, frozen=True)
    cls.__module__ = __name__  # pickled by name, found by this module's `__getattr__`
    cls.__doc__ = "Which components run, with their thresholds; `null` switches one off."
    return cls


def configured_rules(config) -> list[Rule]:
    """The threshold rules of each component `config` runs, parameters named as in the config
    (`c4.min_sentences`)."""
    rules = []
    for spec in FILTERS.values():
        params = getattr(config, spec.name)
        if params is not None:
            rules += [
                dataclasses.replace(rule, param=f"{spec.name}.{rule.param}" if rule.param else None)
                for rule in spec.rules(params)
            ]
    return rules


BATCH_BYTES = 8 << 20  # text scored at once: bounds the words, lines and paragraphs held


def run_filters(table: pa.Table, config) -> StageResult:
    """Score every document of `table` with each configured component, then keep or drop.

    A part is scored in batches of about `BATCH_BYTES` of text, so a worker holds the split
    words, lines and paragraphs of one batch, not of a whole 64 MB part; every component judges
    each document on its own, so the result is the same."""
    results = [_run_batch(batch, config) for batch in _batches(table)]
    if len(results) == 1:
        return results[0]
    stats: dict = {}
    for r in results:
        add_counters(stats, r.stats)
    return StageResult(
        kept=pa.concat_tables([r.kept for r in results]),
        rejected=pa.concat_tables([r.rejected for r in results]),
        stats=stats,
    )


def _batches(table: pa.Table) -> list[pa.Table]:
    """`table` in runs of rows of about `BATCH_BYTES` of text each (at least one row)."""
    sizes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
    out, start, held = [], 0, 0
    for i, size in enumerate(sizes.tolist()):
        held += size or 0
        if held >= BATCH_BYTES:
            out.append(table.slice(start, i + 1 - start))
            start, held = i + 1, 0
    if start < table.num_rows or not out:
        out.append(table.slice(start))
    return out


def _run_batch(table: pa.Table, config) -> StageResult:
    n = table.num_rows
    texts: list[str] = table.column("text").to_pylist()
    # a language identified by an earlier stage, until this one identifies it
    langs = table.column("lang").to_pylist() if "lang" in table.column_names else [None] * n
    reasons: list[str | None] = [None] * n
    columns: dict[str, np.ndarray | list] = {}
    stats: dict = {}
    docs = [Doc(t, lang) for t, lang in zip(texts, langs, strict=False)]

    for spec in FILTERS.values():
        params = getattr(config, spec.name)
        if params is None:
            continue
        batch = docs if spec.takes == "docs" else texts
        if spec.identifies_language:  # later components see each document in its language
            scored, langs = spec.score(batch, params)
            columns["lang"] = langs
            docs = [Doc(t, lang) for t, lang in zip(texts, langs, strict=False)]
        else:
            scored = spec.score(batch, params)
        columns.update(scored.columns)
        for i, reason in enumerate(scored.reasons):
            if reason is not None and reasons[i] is None:
                reasons[i] = reason
        if scored.texts is not None:
            for i, new in enumerate(scored.texts):
                # line removal only for documents still kept; redaction for every document
                if new != texts[i] and (spec.rewrites_rejected or reasons[i] is None):
                    texts[i] = new
                    docs[i] = Doc(new, docs[i].lang)
        if scored.stats:
            stats[spec.name] = scored.stats

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
