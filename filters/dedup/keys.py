"""Keys for exact and URL dedup: 128-bit hashes of normalized text and of normalized URLs.

The exact-dedup rule, applied in this order:
1. Unicode NFKC (compatibility forms fold: full-width letters, ligatures, non-breaking spaces);
2. case folding (`str.casefold`, so "Straße" equals "STRASSE");
3. punctuation (Unicode category P) and invisible format characters (category Cf: zero-width
   spaces, soft hyphens, direction marks) are deleted; letters, digits and symbols stay;
4. every run of whitespace becomes one space, and leading and trailing whitespace goes.
Two documents are exact duplicates when the BLAKE2b-128 hashes of their normalized texts agree.
"""

from __future__ import annotations

import unicodedata

import regex

from corpus.crawl.urls import normalize_url
from filters.dedup.lsh import bytes_key

_DELETE = regex.compile(r"[\p{P}\p{Cf}]+")
_SPACE = regex.compile(r"\s+")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _DELETE.sub("", text)).strip()


def text_key(text: str) -> tuple[int, int]:
    return bytes_key(normalize_text(text).encode("utf-8"))


def url_key(url: str | None) -> tuple[int, int] | None:
    """The key of the normalized URL (`corpus.crawl.urls.normalize_url`; a URL that is not
    http(s), such as a book's file name, as given), or None for a missing one."""
    if not url or not url.strip():
        return None
    normalized = normalize_url(url) or url.strip()
    return bytes_key(normalized.encode("utf-8"))
