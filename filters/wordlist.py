"""Word lists: the share of a document's words that are on a list (toxic or "bad" words).

Matching is case-insensitive and whole-word: "ass" matches "Ass" but not "class" or "assume".
A term of several words ("2 girls 1 cup") matches that sequence of words; a term with symbols
("s&m") or with no letters at all (an emoji) matches its exact spelling between non-word
characters. Lists are loaded from a file (one term a line) or from a folder of files named by
language code, as LDNOOBW ships them; each document then uses its own language's list.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

from corpus.errors import CorpusError
from filters.rules import Rule, Scored, decide_rules, threshold_rules
from filters.spec import FilterSpec
from filters.text import Doc, words


class WordList:
    """A set of terms, matched against a document's words."""

    def __init__(self, terms):
        self.single: set[str] = set()
        self.phrases: dict[str, list[tuple[str, ...]]] = {}
        others: list[str] = []
        for raw in terms:
            term = " ".join(raw.split()).casefold()
            if not term or term.startswith("#"):
                continue
            parts = [w.casefold() for w in words(term)]
            if parts and " ".join(parts) == term:
                if len(parts) == 1:
                    self.single.add(parts[0])
                else:
                    self.phrases.setdefault(parts[0], []).append(tuple(parts))
            else:
                others.append(term)
        self.size = len(self.single) + sum(map(len, self.phrases.values())) + len(others)
        self.pattern = None
        if others:
            alternatives = "|".join(regex.escape(t) for t in sorted(others, key=len, reverse=True))
            self.pattern = regex.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", regex.IGNORECASE)

    def __len__(self) -> int:
        return self.size

    def matched_words(self, doc_words: list[str], text: str) -> int:
        """How many of the document's words are inside a listed term (plus symbol-term hits)."""
        lowered = [w.casefold() for w in doc_words]
        hits = 0
        covered_until = 0
        for i, w in enumerate(lowered):
            if i < covered_until:
                continue
            for phrase in self.phrases.get(w, ()):
                if tuple(lowered[i : i + len(phrase)]) == phrase:
                    hits += len(phrase)
                    covered_until = i + len(phrase)
                    break
            else:
                if w in self.single:
                    hits += 1
        if self.pattern is not None:
            hits += len(self.pattern.findall(text))
        return hits


@functools.lru_cache(maxsize=64)
def load_word_list(path: str) -> WordList:
    """The list in file `path`, one term a line."""
    try:
        return WordList(Path(path).read_text("utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read word list {path}: {exc}") from None


def word_list_for(location: str, lang: str) -> WordList | None:
    """The list for `lang`: `location` itself if it is a file, else the file `location/lang`."""
    path = Path(location)
    if path.is_file():
        return load_word_list(str(path))
    if not path.is_dir():
        raise CorpusError(f"no word list file or folder at {location}")
    candidate = path / lang
    return load_word_list(str(candidate)) if candidate.is_file() else None


@dataclass(frozen=True)
class ToxicWordsParams:
    lists: str = ""  # a word-list file, or a folder of lists named by language code (LDNOOBW)
    max_fraction: float | None = 0.01  # of the document's words
    default_language: str = "en"  # for documents with no language column

    def __post_init__(self):
        if not self.lists:
            raise ValueError("lists must name a word-list file or a folder of lists")


def toxic_words(docs: list[Doc], p: ToxicWordsParams) -> Scored:
    n = len(docs)
    fraction = np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    for i, doc in enumerate(docs):
        wl = word_list_for(p.lists, doc.lang or p.default_language)
        if wl is None:
            continue
        hits = wl.matched_words(doc.words, doc.text)
        count[i] = hits
        fraction[i] = hits / max(len(doc.words), 1)
    cols = {"toxic_words_fraction": fraction, "toxic_words_count": count}
    no_list = int(np.isnan(fraction).sum())
    reasons = decide_rules(cols, toxic_words_rules(p), n)
    return Scored(cols, reasons, stats={"no_list": no_list} if no_list else {})


def toxic_words_rules(p: ToxicWordsParams) -> list[Rule]:
    """The listed-word share rule, if its threshold is set."""
    return threshold_rules("toxic_words", [("max_fraction", "fraction", p.max_fraction)])


# off by default: it needs a word list (e.g. LDNOOBW)
TOXIC_WORDS = FilterSpec(
    "toxic_words",
    ToxicWordsParams,
    toxic_words,
    toxic_words_rules,
    on_by_default=False,
    file_params=("lists",),
)
