"""C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", §2.2).

Line rules remove lines: a line without terminal punctuation, with fewer than three words, with a
word over 1000 characters, mentioning "javascript", or with a cookie/privacy/terms phrase.
Wikipedia-style citation marks ([1], [citation needed]) are cut out. Document rules drop the
document: "lorem ipsum", a curly brace, a word from a bad-words list, or fewer than five
sentences left once lines are removed. When line removal leaves nothing at all, the drop reason
names the line rule that removed the most lines (e.g. `c4_terminal_punct`); otherwise a document
with too few sentences is dropped as `c4_min_sentences`.

Every rule can be switched off (false, or None for a number). Text is only rewritten for
documents that are kept; a rejected document keeps the text it came with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from filters.rules import Rule, Scored, decide_rules
from filters.spec import FilterSpec
from filters.text import Doc, count_sentences, words
from filters.wordlist import word_list_for

END_MARKS = (".", "?", "!", '"', "”", "。", "！", "？", "؟", "।")
ELLIPSES = ("...", "…")
POLICY_PHRASES = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
CITATION_RE = re.compile(r"\[\d+\]|\[citation needed\]|\[edit\]", re.IGNORECASE)
LINE_RULES = ("max_word_length", "terminal_punct", "min_words_per_line", "javascript", "policy")


@dataclass(frozen=True)
class C4Params:
    max_word_length: int | None = 1000  # line rules
    terminal_punct: bool = True
    min_words_per_line: int | None = 3
    javascript: bool = True
    policy: bool = True
    remove_citations: bool = True
    lorem_ipsum: bool = True  # document rules
    curly_braces: bool = True
    badwords: str | None = None  # a word list, or a folder of lists by language (LDNOOBW)
    min_sentences: int | None = 5
    default_language: str = "en"


def _line_rule(line: str, p: C4Params) -> str | None:
    """The first line rule `line` breaks, or None."""
    if p.max_word_length is not None and any(len(w) > p.max_word_length for w in line.split()):
        return "max_word_length"
    if p.terminal_punct and (not line.endswith(END_MARKS) or line.endswith(ELLIPSES)):
        return "terminal_punct"
    if p.min_words_per_line is not None and len(words(line)) < p.min_words_per_line:
        return "min_words_per_line"
    lowered = line.lower()
    if p.javascript and "javascript" in lowered:
        return "javascript"
    if p.policy and any(phrase in lowered for phrase in POLICY_PHRASES):
        return "policy"
    return None


def c4(docs: list[Doc], p: C4Params) -> Scored:
    n = len(docs)
    cols = {
        "c4_lines_removed": np.zeros(n, dtype=np.int64),
        "c4_sentences": np.zeros(n, dtype=np.int64),
        "c4_lorem_ipsum": np.zeros(n, dtype=np.int64),
        "c4_curly_braces": np.zeros(n, dtype=np.int64),
        "c4_badwords": np.zeros(n, dtype=np.int64),
    }
    texts: list[str] = []
    removed_by_rule = dict.fromkeys(LINE_RULES, 0)
    emptied_by: list[str | None] = [None] * n
    for i, doc in enumerate(docs):
        kept_lines = []
        removed = dict.fromkeys(LINE_RULES, 0)
        for line in doc.text.split("\n"):
            line = line.strip()
            if not line:
                continue
            if p.remove_citations:
                line = CITATION_RE.sub("", line).strip()
            broken = _line_rule(line, p)
            if broken is None:
                kept_lines.append(line)
            else:
                removed[broken] += 1
        text = "\n".join(kept_lines)
        texts.append(text)
        lowered = doc.text.lower()
        cols["c4_lines_removed"][i] = sum(removed.values())
        cols["c4_sentences"][i] = sum(count_sentences(line) for line in kept_lines)
        cols["c4_lorem_ipsum"][i] = lowered.count("lorem ipsum")
        cols["c4_curly_braces"][i] = doc.text.count("{")
        if p.badwords:
            wl = word_list_for(p.badwords, doc.lang or p.default_language)
            if wl is not None:
                cols["c4_badwords"][i] = wl.matched_words(doc.words, doc.text)
        for rule, count in removed.items():
            removed_by_rule[rule] += count
        if not kept_lines and any(removed.values()):
            emptied_by[i] = max(LINE_RULES, key=lambda r: (removed[r], -LINE_RULES.index(r)))
    reasons = decide_rules(cols, c4_rules(p), n)
    for i, rule in enumerate(emptied_by):
        if rule is not None and reasons[i] in (None, "c4_min_sentences"):
            reasons[i] = f"c4_{rule}"
    stats = {f"lines_removed_{rule}": count for rule, count in removed_by_rule.items() if count}
    return Scored(columns=cols, reasons=reasons, texts=texts, stats=stats)


def c4_rules(p: C4Params) -> list[Rule]:
    """The document rules (`c4` names an emptied document by its line rule instead)."""
    rules = []
    if p.lorem_ipsum:
        rules.append(Rule("c4_lorem_ipsum", "c4_lorem_ipsum", max=0))
    if p.curly_braces:
        rules.append(Rule("c4_curly_braces", "c4_curly_braces", max=0))
    if p.badwords:
        rules.append(Rule("c4_badwords", "c4_badwords", max=0))
    if p.min_sentences is not None:
        rules.append(
            Rule("c4_min_sentences", "c4_sentences", min=p.min_sentences, param="min_sentences")
        )
    return rules


# rewrites the text of the documents it keeps (line removal)
C4 = FilterSpec("c4", C4Params, c4, c4_rules, file_params=("badwords",))
