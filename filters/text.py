"""Text measures the rule sets share: words, lines, paragraphs, sentences and duplicates.

Words are split the same way for every language: a run of letters, marks and digits (with inner
apostrophes, hyphens and dots, as in "don't", "e-mail", "3.14") is one word, and each character of
a script written without spaces (Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar, Tibetan) is a
word by itself. That makes word counts and n-grams meaningful for Chinese and Japanese text without
a segmenter; punctuation is never a word.
"""

from __future__ import annotations

import re

import numpy as np
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


# The same words, found by the standard library's faster engine, for text whose characters all
# lie where both engines agree on what a word character is: ASCII, Latin-1 and Latin Extended
# letters (not the superscript digits and fractions, which only `re` counts as word characters),
# and general punctuation. Anything else (combining marks, other scripts) takes `regex`.
ASCII_WORD_RE = re.compile(r"[A-Za-z0-9_]+(?:['\-.][A-Za-z0-9_]+)*")
LATIN_WORD_RE = re.compile(r"\w+(?:['’\-.]\w+)*")
NOT_LATIN_RE = re.compile("[^\x00-\xb1\xb4-\xb8\xba\xbb\xbf-\u024f\u2000-\u206f]")


def words(text: str) -> list[str]:
    """The words of `text` (see the module docstring)."""
    if text.isascii():
        return ASCII_WORD_RE.findall(text)
    if NOT_LATIN_RE.search(text) is None:
        return LATIN_WORD_RE.findall(text)
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


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of each word n-gram (window of `n` word ids), by position."""
    h = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # wrapping multiplication is the hash
        for k in range(n):
            h = h * _HASH_MULT + ids[k : len(ids) - n + 1 + k]
    return h


_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


def repetition_measures(
    tokens: list[str], top_ns: tuple[int, ...], dup_ns: tuple[int, ...]
) -> dict[str, float]:
    """Gopher's n-gram repetition measures of a word list (Rae et al. 2021, appendix A):

    - `top_{n}`: characters in the most frequent n-gram (the first to occur, on a tie) times
      its count, over all word characters; 0 when no n-gram occurs twice;
    - `dup_{n}`: characters of words inside any n-gram that occurs more than once, over all word
      characters, each word counted once however many such n-grams cover it.
    N-grams are compared by a 64-bit hash of their word ids, vectorized with numpy.
    """
    out = {f"top_{n}": 0.0 for n in top_ns} | {f"dup_{n}": 0.0 for n in dup_ns}
    if not tokens:
        return out
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(w, len(vocab) + 1) for w in tokens), np.uint64, len(tokens))
    lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
    total = int(lengths.sum())
    if total == 0:
        return out
    cum = np.concatenate(([0], np.cumsum(lengths)))
    for n in top_ns:
        if len(tokens) < n:
            continue
        _, first, counts = np.unique(ngram_hashes(ids, n), return_index=True, return_counts=True)
        best = counts.max()
        if best < 2:
            continue
        start = first[counts == best].min()  # the first-occurring of the most frequent
        out[f"top_{n}"] = float((cum[start + n] - cum[start]) * best / total)
    for n in dup_ns:
        if len(tokens) < 2 * n:
            break
        _, inverse, counts = np.unique(
            ngram_hashes(ids, n), return_inverse=True, return_counts=True
        )
        repeated = counts[inverse] > 1
        if not repeated.any():
            break  # no repeated n-gram: no repeated longer one either
        # word j is covered if some repeated n-gram starts in [j - n + 1, j]
        starts = np.concatenate(([0], np.cumsum(repeated)))
        j = np.arange(len(tokens))
        lo, hi = np.maximum(j - n + 1, 0), np.minimum(j, len(repeated) - 1)
        covered = (hi >= lo) & (starts[hi + 1] - starts[lo] > 0)
        out[f"dup_{n}"] = float(lengths[covered].sum() / total)
    return out


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
