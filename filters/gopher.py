"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", appendix A).

The defaults are the paper's thresholds, as datatrove and FineWeb use them. Each threshold can be
changed, or set to None to switch that rule off. Rule names (the drop reasons) are
`gopher_<parameter>`, e.g. `gopher_min_words`, `gopher_max_dup_line_frac`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filters.rules import Rule, Scored, decide_rules, threshold_rules
from filters.spec import FilterSpec
from filters.stopwords import stop_words
from filters.text import ALPHA_RE, Doc, duplicates, repetition_measures

BULLETS = ("•", "‣", "⁃", "◦", "▪", "▫", "●", "○", "■", "□", "➢", "►", "-", "*", "–", "—")
ELLIPSES = ("...", "…")


@dataclass(frozen=True)
class GopherQualityParams:
    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0  # not applied where most words are CJK characters
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1  # "#" or ellipses per word
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8  # words with at least one letter
    min_stop_words: int | None = 2  # in the document's language; not applied without a list
    stop_words_dir: str | None = None  # files named by language code replace the built-in lists
    default_language: str = "en"  # for documents with no language column


def gopher_quality(docs: list[Doc], p: GopherQualityParams) -> Scored:
    n = len(docs)
    cols = {
        name: np.full(n, np.nan)
        for name in (
            "gopher_words",
            "gopher_mean_word_length",
            "gopher_symbol_word_ratio",
            "gopher_bullet_lines_ratio",
            "gopher_ellipsis_lines_ratio",
            "gopher_alpha_words_ratio",
            "gopher_stop_words",
        )
    }
    for i, doc in enumerate(docs):
        ws = doc.words
        nw = len(ws)
        cols["gopher_words"][i] = nw
        if nw:
            if doc.no_space_share() <= 0.5:
                cols["gopher_mean_word_length"][i] = sum(map(len, ws)) / nw
            text = doc.text
            hashes = text.count("#")
            ellipses = text.count("...") + text.count("…")
            cols["gopher_symbol_word_ratio"][i] = max(hashes, ellipses) / nw
            alpha = sum(1 for w in ws if w.isalpha() or ALPHA_RE.search(w))  # fast path first
            cols["gopher_alpha_words_ratio"][i] = alpha / nw
        lines = doc.lines
        if lines:
            bullets = sum(1 for line in lines if line.startswith(BULLETS))
            ellipsis_end = sum(1 for line in lines if line.endswith(ELLIPSES))
            cols["gopher_bullet_lines_ratio"][i] = bullets / len(lines)
            cols["gopher_ellipsis_lines_ratio"][i] = ellipsis_end / len(lines)
        words_of_lang = stop_words(doc.lang or p.default_language, p.stop_words_dir)
        if words_of_lang is not None:
            cols["gopher_stop_words"][i] = sum(1 for w in ws if w.lower() in words_of_lang)
    no_list = int(np.isnan(cols["gopher_stop_words"]).sum())
    stats = {"stop_words_no_list": no_list} if no_list and p.min_stop_words is not None else {}
    return Scored(columns=cols, reasons=decide_rules(cols, gopher_quality_rules(p), n), stats=stats)


def gopher_quality_rules(p: GopherQualityParams) -> list[Rule]:
    """One rule per threshold that is set, in the order a drop reason is chosen."""
    return threshold_rules(
        "gopher",
        [
            ("min_words", "words", p.min_words),
            ("max_words", "words", p.max_words),
            ("min_mean_word_length", "mean_word_length", p.min_mean_word_length),
            ("max_mean_word_length", "mean_word_length", p.max_mean_word_length),
            ("max_symbol_word_ratio", "symbol_word_ratio", p.max_symbol_word_ratio),
            ("max_bullet_lines_ratio", "bullet_lines_ratio", p.max_bullet_lines_ratio),
            ("max_ellipsis_lines_ratio", "ellipsis_lines_ratio", p.max_ellipsis_lines_ratio),
            ("min_alpha_words_ratio", "alpha_words_ratio", p.min_alpha_words_ratio),
            ("min_stop_words", "stop_words", p.min_stop_words),
        ],
    )


@dataclass(frozen=True)
class GopherRepetitionParams:
    max_dup_line_frac: float | None = 0.3  # lines that repeat an earlier line, by count
    max_dup_para_frac: float | None = 0.3
    max_dup_line_char_frac: float | None = 0.2  # ... by characters, over all characters
    max_dup_para_char_frac: float | None = 0.2
    max_top_2gram_frac: float | None = 0.2  # characters in the most frequent n-gram
    max_top_3gram_frac: float | None = 0.18
    max_top_4gram_frac: float | None = 0.16
    max_dup_5gram_frac: float | None = 0.15  # characters in n-grams that occur more than once
    max_dup_6gram_frac: float | None = 0.14
    max_dup_7gram_frac: float | None = 0.13
    max_dup_8gram_frac: float | None = 0.12
    max_dup_9gram_frac: float | None = 0.11
    max_dup_10gram_frac: float | None = 0.10


TOP_NS = (2, 3, 4)
DUP_NS = (5, 6, 7, 8, 9, 10)
REPETITION_MEASURES = (
    ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac")
    + tuple(f"top_{k}gram_frac" for k in TOP_NS)
    + tuple(f"dup_{k}gram_frac" for k in DUP_NS)
)


def gopher_repetition(docs: list[Doc], p: GopherRepetitionParams) -> Scored:
    n = len(docs)
    cols = {f"gopher_{name}": np.zeros(n) for name in REPETITION_MEASURES}
    for i, doc in enumerate(docs):
        chars = len(doc.text)
        for unit, items in (("line", doc.lines), ("para", doc.paragraphs)):
            count, dup_chars = duplicates(items)
            cols[f"gopher_dup_{unit}_frac"][i] = count / len(items) if items else 0.0
            cols[f"gopher_dup_{unit}_char_frac"][i] = dup_chars / chars if chars else 0.0
        measures = repetition_measures(doc.words, TOP_NS, DUP_NS)
        for k in TOP_NS:
            cols[f"gopher_top_{k}gram_frac"][i] = measures[f"top_{k}"]
        for k in DUP_NS:
            cols[f"gopher_dup_{k}gram_frac"][i] = measures[f"dup_{k}"]
    return Scored(columns=cols, reasons=decide_rules(cols, gopher_repetition_rules(p), n))


def gopher_repetition_rules(p: GopherRepetitionParams) -> list[Rule]:
    """One `max_` rule per repetition measure whose threshold is set."""
    spec = [(f"max_{name}", name, getattr(p, f"max_{name}")) for name in REPETITION_MEASURES]
    return threshold_rules("gopher", spec)


GOPHER_QUALITY = FilterSpec(
    "gopher_quality",
    GopherQualityParams,
    gopher_quality,
    gopher_quality_rules,
    file_params=("stop_words_dir",),
)
GOPHER_REPETITION = FilterSpec(
    "gopher_repetition", GopherRepetitionParams, gopher_repetition, gopher_repetition_rules
)
