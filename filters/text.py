"""Text measures the rule sets share: words, lines, paragraphs, sentences and duplicates.

Words are split the same way for every language: a run of letters, marks and digits (with inner
apostrophes, hyphens and dots, as in "don't", "e-mail", "3.14") is one word, and each character of
a script written without spaces (Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar, Tibetan) is a
word by itself. That makes word counts and n-grams meaningful for Chinese and Japanese text without
a segmenter; punctuation is never a word.
"""

from __future__ import annotations

import re
from collections import Counter

import regex

# scripts written without spaces between words: each character counts as one word
NO_SPACE_CHARS = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
    r"\u30fc\u3005"  # prolonged sound mark and the ideographic iteration mark
)
WORD_RE = regex.compile(
    rf"[{NO_SPACE_CHARS}]|[^\W{NO_SPACE_CHARS}]+(?:['’\-.][^\W{NO_SPACE_CHARS}]+)*",
    regex.V1,
)
ALPHA_RE = regex.compile(r"\p{Alphabetic}")
LINE_SPLIT_RE = re.compile(r"\n+")
PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")

# sentence-ending marks across scripts, with the closing quotes and brackets that may follow them
TERMINAL_PUNCTUATION = (
    ".", "!", "?", "…", "。", "！", "？", "｡", "؟", "۔", "।", "॥", "՝", "։", "።", "፧", "፨",
    "᙮", "჻", "⁇", "⁈", "⁉", "‼", "︒", "﹒", "﹖", "﹗", "．", "｡", '"', "'", "”", "’", "»",
    "」", "』", ")", "）", "]",
)  # fmt: skip
# a sentence ends at one of these marks followed by space or end of text
SENTENCE_END_RE = regex.compile(r"[.!?…。！？؟।]+['\"”’»」』)）]*(?=\s|$)|[。！？]+")


def words(text: str) -> list[str]:
    """The words of `text` (see the module docstring)."""
    return WORD_RE.findall(text)


def lines(text: str) -> list[str]:
    """Non-empty lines, stripped."""
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs (separated by blank lines), stripped."""
    return [s for s in (p.strip() for p in PARAGRAPH_SPLIT_RE.split(text)) if s]


def count_sentences(text: str) -> int:
    """Sentence-ending marks in `text` (a text with words but no mark is one sentence)."""
    n = len(SENTENCE_END_RE.findall(text))
    return n if n else int(bool(text.strip()))


def duplicates(items: list[str]) -> tuple[int, int]:
    """(items that repeat an earlier one, their characters): the second and later copies."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def top_ngram_char_fraction(tokens: list[str], n: int, total_chars: int) -> float:
    """Characters in the most frequent word n-gram, times its count, over all word characters."""
    if len(tokens) < n or total_chars == 0:
        return 0.0
    counts = Counter(zip(*(tokens[i:] for i in range(n)), strict=False))
    gram, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if count < 2:
        return 0.0
    return sum(len(w) for w in gram) * count / total_chars


def duplicate_ngram_char_fraction(tokens: list[str], n: int, total_chars: int) -> float:
    """Characters of words inside any word n-gram that occurs more than once, over all word
    characters; a word covered by several such n-grams counts once (Gopher, Rae et al. 2021)."""
    if len(tokens) < 2 * n or total_chars == 0:  # a repeat needs at least 2n words
        return 0.0
    grams = list(zip(*(tokens[i:] for i in range(n)), strict=False))
    counts = Counter(grams)
    covered = bytearray(len(tokens))
    for start, gram in enumerate(grams):
        if counts[gram] > 1:
            covered[start : start + n] = b"\x01" * n
    if not any(covered):
        return 0.0
    return sum(len(w) for w, c in zip(tokens, covered, strict=False) if c) / total_chars


class Doc:
    """One document's text with its words, lines and paragraphs, each split once when first used
    and shared by every rule set that reads them."""

    __slots__ = ("text", "lang", "_words", "_lines", "_paragraphs")

    def __init__(self, text: str, lang: str | None = None):
        self.text = text
        self.lang = lang
        self._words: list[str] | None = None
        self._lines: list[str] | None = None
        self._paragraphs: list[str] | None = None

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = words(self.text)
        return self._words

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = lines(self.text)
        return self._lines

    @property
    def paragraphs(self) -> list[str]:
        if self._paragraphs is None:
            self._paragraphs = paragraphs(self.text)
        return self._paragraphs

    def no_space_share(self) -> float:
        """Share of words that are single characters of a script written without spaces."""
        ws = self.words
        if not ws:
            return 0.0
        return sum(1 for w in ws if len(w) == 1 and NO_SPACE_RE.match(w)) / len(ws)


NO_SPACE_RE = regex.compile(rf"[{NO_SPACE_CHARS}]", regex.V1)
