"""Early decisions on a web record, before trafilatura: the `prefilter:` group of an extract stage.

Trafilatura costs 10-90 ms a page; a fast rendering with resiliparse (`corpus.sources.render`)
costs about 1.5 ms. Most of a crawl is thrown away by decisions that do not need trafilatura's main
text: its language, its length, its URL. Those are made here on the fast rendering, and only the
records that can still survive are extracted.

Each decision names the filter that would drop the record later, marked as early:
- `url_block (prefilter)`, `domain_block (prefilter)`: the URL matches a block-list regex, or its
  host is a blocked domain or under one;
- `language_keep (prefilter)`: the language model gives the kept languages, together, less than
  `min_keep_prob` on the rendering's main text (its lines of `PARAGRAPH_WORDS` words or more:
  headings, menus and tables of contents are what trafilatura leaves out); a page with any real
  chance of a kept language is left to the filter stage, which decides on trafilatura's text;
- `min_words (prefilter)`: the whole rendering, navigation and all, has fewer words than
  `min_words`, so trafilatura's main text, a part of it, would have fewer still.

The record's language, its probability, the kept languages' probability and the word count go
into its `meta` (`prefilter_lang`, `prefilter_lang_score`, `prefilter_keep_prob`,
`prefilter_words`), so a report and `corpus trace` show the score behind the drop. A page the
fast parser cannot render goes to trafilatura as before, counted `prefilter_fallback`.

`min_keep_prob` is set from `bench/e2e.py --calibrate`, which compares the early decision on each
page of a multilingual crawl with what the filter stage did to it (see the README). A page
translated in part is why it is low: its rendering can read as Italian while trafilatura's first
2,000 characters, the filter's sample, are the English paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from corpus.errors import CorpusError
from corpus.sources.common import Rejected, decode_bytes
from corpus.sources.render import RenderError, render_html
from filters.fasttext_models import (
    default_lid_model,
    load_model,
    model_labels,
    prepare,
    probabilities,
)
from filters.text import words

DEFAULT_MIN_KEEP_PROB = 0.05  # from bench/e2e.py --calibrate; see the README
PARAGRAPH_WORDS = 8  # the lines of the rendering classified; none such: all of it


@dataclass(frozen=True)
class PrefilterParams:
    languages: list[str] | None = None  # keep these, e.g. [en]; None decides no language early
    # drop early only when the kept languages together have less than this probability
    min_keep_prob: float = DEFAULT_MIN_KEEP_PROB
    lang_chars: int = 2000  # classify this many leading characters of the main text
    model: str | None = None  # a fastText language-id model; default lid.176.ftz
    min_words: int | None = None  # fewer words in the whole rendering: dropped early
    url_block: list[str] = field(default_factory=list)  # regexes searched in the URL
    # blocked domains (a host equal to one, or under one, is blocked), or the path of a file
    # holding them one a line (# comments allowed)
    domain_block: list[str] | str = field(default_factory=list)

    def __post_init__(self):
        if not 0.0 <= self.min_keep_prob <= 1.0:
            raise ValueError("min_keep_prob must lie between 0 and 1")
        if self.lang_chars < 1:
            raise ValueError("lang_chars must be at least 1")
        if self.min_words is not None and self.min_words < 1:
            raise ValueError("min_words must be at least 1 (or null)")
        if self.languages is not None and not self.languages:
            raise ValueError("languages must name at least one language (or be null)")
        if isinstance(self.domain_block, str) and not Path(self.domain_block).is_file():
            raise ValueError(f"domain_block: no such file {self.domain_block}")
        if self.model is not None and not Path(self.model).is_file():
            raise ValueError(f"model: no such file {self.model}")
        if self.languages and (unknown := sorted(set(self.languages) - _labels(self.model))):
            raise ValueError(f"languages: the language model has no {unknown}")
        for pattern in self.url_block:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"url_block has an invalid regex {pattern!r}: {exc}") from None

    @property
    def active(self) -> bool:
        return bool(self.languages or self.min_words or self.url_block or self.domain_block)


def _labels(model: str | None) -> set[str]:
    """The languages a model knows (`load_model` keeps the model for the process's tasks)."""
    return set(model_labels(load_model(str(model or default_lid_model()))))


def read_domains(spec: list[str] | str) -> frozenset[str]:
    """The blocked domains, lowercased, from a list or from a file of one a line."""
    if isinstance(spec, str):
        path = Path(spec)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"cannot read the domain block list {path}: {exc}") from None
    else:
        lines = spec
    domains = (line.split("#", 1)[0].strip().lower().strip(".") for line in lines)
    return frozenset(d for d in domains if d)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().strip(".")
    except ValueError:
        return ""


class Prefilter:
    """The early decisions of one stage, built once a task: `check(data, url, content_type)`
    gives a Rejected for a record to drop now, or None to extract it."""

    def __init__(self, p: PrefilterParams):
        self.p = p
        self.url_block = [re.compile(r) for r in p.url_block]  # each alone: own flags
        self.domains = read_domains(p.domain_block)
        self.keep = frozenset(p.languages) if p.languages else None
        self.model = load_model(str(p.model or default_lid_model())) if self.keep else None
        if self.model is not None:
            labels = model_labels(self.model)
            self.kept_columns = [i for i, label in enumerate(labels) if label in self.keep]

    def blocked(self, url: str | None) -> Rejected | None:
        if not url:
            return None
        for pattern in self.url_block:
            if m := pattern.search(url):
                return Rejected("url_block (prefilter)", f"the URL matches {m.group(0)!r}")
        if self.domains:
            host = host_of(url)
            parts = host.split(".")
            for i in range(len(parts)):
                if ".".join(parts[i:]) in self.domains:
                    return Rejected(
                        "domain_block (prefilter)", f"{host} is under {'.'.join(parts[i:])}"
                    )
        return None

    def language(self, main: str) -> tuple[str, float, float]:
        """The most likely language of a rendering's main text, its probability, and the kept
        languages' probability together."""
        text = prepare(paragraph_lines(main), "newlines", self.p.lang_chars)
        labels, probs = probabilities(self.model, [text])
        row = probs[0]
        top = int(row.argmax())
        kept = min(float(row[self.kept_columns].sum()), 1.0)
        return labels[top], float(row[top]), kept

    def check(
        self,
        data: bytes,
        url: str | None,
        content_type: str | None,
        count: Callable[[str], None],
    ) -> Rejected | None:
        rejected = self.blocked(url)
        if rejected is not None or (self.keep is None and self.p.min_words is None):
            return rejected
        html, _ = decode_bytes(data, content_type, html=True)
        try:
            rendering = render_html(html, full=self.p.min_words is not None)
        except RenderError:
            count("prefilter_fallback")
            return None
        meta: dict = {}
        if self.p.min_words is not None:
            n = len(words(rendering.full or ""))
            meta["prefilter_words"] = n
            if n < self.p.min_words:
                why = f"{n} words in the whole page < min_words {self.p.min_words}"
                return Rejected("min_words (prefilter)", why, rendering.full or "", meta=meta)
        main = rendering.main.strip()
        if self.keep is not None and main:
            lang, score, exact = self.language(main)
            score, kept = round(score, 4), round(exact, 4)
            meta.update(prefilter_lang=lang, prefilter_lang_score=score, prefilter_keep_prob=kept)
            if exact < self.p.min_keep_prob:
                floor = self.p.min_keep_prob
                why = f"{lang} at {score}; kept languages {kept} < min_keep_prob {floor}"
                return Rejected("language_keep (prefilter)", why, main, meta=meta)
        return None


_BUILT: dict[str, Prefilter] = {}  # a task process builds each one once (the model is loaded)


def paragraph_lines(text: str) -> str:
    """The lines of `text` with `PARAGRAPH_WORDS` words or more (all of it if none)."""
    long = [line for line in text.splitlines() if len(line.split()) >= PARAGRAPH_WORDS]
    return "\n".join(long) if long else text


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return st.st_size, st.st_mtime_ns


def files(p: PrefilterParams | None) -> list[Path]:
    """The files whose content decides the early drops: the model and the domain list."""
    if p is None or not p.active:
        return []
    model = Path(p.model) if p.model else (default_lid_model() if p.languages else None)
    domains = Path(p.domain_block) if isinstance(p.domain_block, str) else None
    return [f for f in (model, domains) if f is not None and f.is_file()]


def build(p: PrefilterParams | None) -> Prefilter | None:
    """The stage's Prefilter, or None when its group asks for nothing."""
    if p is None or not p.active:
        return None
    key = repr((p, [(f, *_stat(f)) for f in files(p)]))  # a domain list rewritten: read again
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = Prefilter(p)
    return _BUILT[key]
