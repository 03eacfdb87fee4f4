"""fastText classifiers as filters (quality, toxicity), and their training and evaluation.

A classifier's score is the probability of its target label(s): `hq` for a quality model
(DCLM's label too), `toxic` for a toxicity model, or whatever the config names (several labels
add up: [hate, offensive]). Training writes a standard fastText `.bin` with `__label__` prefixes,
so other tools load it, and a sidecar `.json` recording the labels, the text preparation, the
parameters and the held-out figures.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import multiprocessing
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus.errors import CorpusError
from filters.fasttext_models import (
    LABEL_PREFIX,
    _fasttext,
    load_model,
    model_info,
    model_labels,
    prepare,
    probabilities,
    sidecar_path,
)
from filters.rules import Rule, Scored, decide_rules, threshold_rules
from filters.spec import FilterSpec

POSITIVE_LABELS = {"quality": ("hq", "lq"), "toxicity": ("toxic", "clean")}


@dataclass(frozen=True)
class QualityClassifierParams:
    model: str = ""  # a fastText .bin (ours, DCLM's, Dolma's)
    label: list[str] | None = None  # default: the model's recorded positive label, else hq
    min_score: float | None = 0.5  # drop documents scored below this as quality_min_score
    max_chars: int | None = None  # score the leading characters only; None: the whole text

    def __post_init__(self):
        if not self.model:
            raise ValueError("model must name a fastText model file")


@dataclass(frozen=True)
class ToxicityClassifierParams:
    model: str = ""
    label: list[str] | None = None  # default: the model's recorded positive label, else toxic
    max_score: float | None = 0.5  # drop documents scored above this as toxicity_max_score
    max_chars: int | None = None

    def __post_init__(self):
        if not self.model:
            raise ValueError("model must name a fastText model file")


def model_probabilities(model_path: str, texts: list[str], max_chars: int | None = None):
    """(labels, matrix) of `model_path` on `texts`, each prepared as the model was trained."""
    mode = model_info(model_path).get("preprocess", "newlines")
    return probabilities(load_model(model_path), [prepare(t, mode, max_chars) for t in texts])


def classifier_scores(
    texts: list[str],
    model_path: str,
    labels: list[str] | None,
    kind: str,
    max_chars: int | None = None,
):
    """The summed probability of `labels` (default: the model's positive label) per text."""
    info = model_info(model_path)
    known = model_labels(load_model(model_path))
    wanted = [w.removeprefix(LABEL_PREFIX) for w in labels] if labels else None
    if wanted is None:
        wanted = [info.get("positive") or POSITIVE_LABELS[kind][0]]
    missing = [w for w in wanted if w not in known]
    if missing:
        raise CorpusError(
            f"{model_path} has no label {', '.join(missing)} (its labels: {', '.join(known)}); "
            f"set {kind}.label in the filter config"
        )
    names, probs = model_probabilities(model_path, texts, max_chars)
    columns = [names.index(w) for w in wanted]
    return probs[:, columns].sum(axis=1)


def quality_rules(p: QualityClassifierParams) -> list[Rule]:
    """Drop documents the quality model scores below `min_score`."""
    return threshold_rules("quality", [("min_score", "score", p.min_score)])


def toxicity_rules(p: ToxicityClassifierParams) -> list[Rule]:
    """Drop documents the toxicity model scores above `max_score`."""
    return threshold_rules("toxicity", [("max_score", "score", p.max_score)])


CLASSIFIER_RULES = {"quality": quality_rules, "toxicity": toxicity_rules}


def classifier(texts: list[str], p, kind: str) -> Scored:
    scores = classifier_scores(texts, p.model, p.label, kind, p.max_chars)
    cols = {f"{kind}_score": scores}
    return Scored(columns=cols, reasons=decide_rules(cols, CLASSIFIER_RULES[kind](p), len(texts)))


def _classifier_spec(kind: str, params: type) -> FilterSpec:
    """A classifier filter of `kind`; off by default, as it needs a model."""
    return FilterSpec(
        kind,
        params,
        functools.partial(classifier, kind=kind),
        CLASSIFIER_RULES[kind],
        on_by_default=False,
        file_params=("model",),
        takes="texts",
    )


TOXICITY = _classifier_spec("toxicity", ToxicityClassifierParams)
QUALITY = _classifier_spec("quality", QualityClassifierParams)


# --- labelled data -------------------------------------------------------------------------


@dataclass
class Labelled:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # rows left out, by reason

    def add(self, text, label) -> None:
        if not isinstance(text, str) or not text.strip():
            self.skipped["empty_text"] += 1
        elif label is None or str(label).strip() == "":
            self.skipped["no_label"] += 1
        else:
            self.texts.append(text)
            self.labels.append(clean_label(str(label)))


def clean_label(label: str) -> str:
    """A label as fastText can store it: no prefix, no whitespace."""
    return "_".join(label.strip().removeprefix(LABEL_PREFIX).split())


def parse_label_map(spec: str | None) -> dict[str, str]:
    """ "0=toxic,1=toxic,2=clean" as a mapping; raises ValueError on a malformed item."""
    mapping: dict[str, str] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"label map items are FROM=TO, got {item!r}")
        mapping[key.strip()] = clean_label(value)
    return mapping


def read_labelled(
    path: str | Path,
    text_col: str = "text",
    label_col: str = "label",
    label_map: dict[str, str] | None = None,
) -> Labelled:
    """Rows of a CSV or JSONL file (chosen by suffix, .csv or .jsonl/.json/.ndjson)."""
    path = Path(path)
    out = Labelled()
    if not path.is_file():
        raise CorpusError(f"no such labelled file: {path}")
    label_map = label_map or {}

    def add(row: dict, where: str) -> None:
        for col in (text_col, label_col):
            if col not in row:
                have = ", ".join(map(str, row)) or "none"
                raise CorpusError(
                    f"{where}: no column '{col}' (columns: {have}); use --text-col / --label-col"
                )
        label = row[label_col]
        if label is not None:
            label = label_map.get(str(label).strip(), label)
        out.add(row[text_col], label)

    try:
        if path.suffix.lower() == ".csv":
            csv.field_size_limit(1 << 26)
            with open(path, newline="", encoding="utf-8-sig") as f:
                for i, row in enumerate(csv.DictReader(f), start=2):
                    add(row, f"{path}:{i}")
        else:
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:
                        out.skipped["malformed_json"] += 1
                        continue
                    if not isinstance(row, dict):
                        out.skipped["malformed_json"] += 1
                        continue
                    add(row, f"{path}:{i}")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise CorpusError(f"{path}: malformed CSV ({exc})") from None
    return out


def dataset_examples(dataset, chunk_words: int = 0):
    """The texts of a dataset's documents, or pieces of `chunk_words` words each (a last piece
    shorter than half that is left out), in part order."""
    for table in dataset.tables(columns=["text"]):
        for text in table.column("text").to_pylist():
            if not chunk_words:
                yield text
                continue
            tokens = text.split()
            for start in range(0, len(tokens), chunk_words):
                piece = tokens[start : start + chunk_words]
                if len(piece) * 2 >= chunk_words:
                    yield " ".join(piece)


def balance(data: Labelled, seed: int) -> Labelled:
    """A seeded sample with as many examples of each label as the rarest label has."""
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(i)
    if not by_label:
        return data
    smallest = min(len(v) for v in by_label.values())
    rng = np.random.default_rng(seed)
    chosen = sorted(
        idx[j]
        for label in sorted(by_label)
        for idx in [by_label[label]]
        for j in rng.permutation(len(idx))[:smallest]
    )
    out = Labelled(skipped=Counter(data.skipped))
    out.skipped["balanced_away"] += len(data.labels) - len(chosen)
    for i in chosen:
        out.add(data.texts[i], data.labels[i])
    return out


def split_holdout(data: Labelled, fraction: float, seed: int) -> tuple[Labelled, Labelled]:
    """A seeded split into (train, held out), stratified by label so each label is in both."""
    rng = np.random.default_rng(seed)
    train, held = Labelled(skipped=data.skipped), Labelled()
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(i)
    held_idx: set[int] = set()
    for label in sorted(by_label):
        idx = by_label[label]
        order = rng.permutation(len(idx))
        k = int(round(len(idx) * fraction))
        held_idx.update(idx[j] for j in order[:k])
    for i, (text, label) in enumerate(zip(data.texts, data.labels, strict=False)):
        (held if i in held_idx else train).add(text, label)
    return train, held


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainOptions:
    epoch: int = 25
    lr: float = 0.5
    dim: int = 32
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int = 200_000
    seed: int = 0
    preprocess: str = "lower-punct"


def train(
    data: Labelled,
    out: str | Path,
    kind: str,
    options: TrainOptions,
    extra_info: dict | None = None,
):
    """Train a fastText classifier on `data` and save it to `out` (plus its sidecar .json).

    One thread and a fixed seed, so the same data and options give the same model (fastText's
    multi-threaded training is neither deterministic nor safe on tiny data).
    """
    if len(set(data.labels)) < 2:
        raise CorpusError(f"training needs at least two labels, got {sorted(set(data.labels))}")
    if not hasattr(_fasttext(), "train_supervised"):
        raise CorpusError(
            "the installed fasttext module can only predict (fasttext-predict); "
            "pip install --force-reinstall --no-deps fasttext-numpy2-wheel to train"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(options.seed).permutation(len(data.texts))
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as f:
            for i in order:
                text = prepare(data.texts[i], options.preprocess)
                line = f"{LABEL_PREFIX}{data.labels[i]} {text}\n"
                digest.update(line.encode())
                f.write(line)
        tmp_model = Path(tmp) / "model.bin"
        kwargs = {
            "input": str(train_file),
            "epoch": options.epoch,
            "lr": options.lr,
            "dim": options.dim,
            "wordNgrams": options.word_ngrams,
            "minCount": options.min_count,
            "bucket": options.bucket,
            "seed": options.seed,
            "thread": 1,
            "verbose": 0,
            "loss": "softmax",
        }
        # in a fresh process: fastText's training reads memory a previous model in the same
        # process left behind, so only a clean process gives the same model every time
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            error = pool.apply(_train_child, (kwargs, str(tmp_model)))
        if error:  # "Encountered NaN": diverged, as on tiny or odd data
            raise CorpusError(
                f"fastText training failed ({error}); try a lower --lr, fewer --epoch or more data"
            )
        os.replace(tmp_model, out)
    counts = Counter(data.labels)
    positive = POSITIVE_LABELS[kind][0]
    info = {
        "kind": kind,
        "positive": positive if positive in counts else None,
        "labels": dict(sorted(counts.items())),
        "preprocess": options.preprocess,
        "options": options.__dict__,
        "train_sha256": digest.hexdigest(),
        **(extra_info or {}),
    }
    write_model_info(out, info)
    load_model.cache_clear()
    return info


def write_model_info(model_path: str | Path, info: dict) -> None:
    """Write the sidecar record beside a model."""
    sidecar_path(model_path).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    model_info.cache_clear()


def _train_child(kwargs: dict, model_path: str) -> str | None:
    """Train and save one model (in a spawned process); the error message, or None."""
    try:
        _fasttext().train_supervised(**kwargs).save_model(model_path)
    except (RuntimeError, ValueError) as exc:
        return str(exc)
    return None


# --- evaluation ----------------------------------------------------------------------------


def evaluate(model_path: str, data: Labelled) -> dict:
    """Per-label precision, recall and F1, macro-F1, accuracy, a confusion table, and the same
    figures for the majority-class baseline (always predicting the most frequent label)."""
    names, probs = model_probabilities(model_path, data.texts)
    predicted = [names[j] for j in probs.argmax(axis=1)] if len(data.texts) else []
    labels = sorted(set(data.labels) | set(predicted))
    figures = _figures(data.labels, predicted, labels)
    majority = Counter(data.labels).most_common(1)[0][0] if data.labels else ""
    baseline = _figures(data.labels, [majority] * len(data.labels), labels)
    figures["baseline"] = {
        "label": majority,
        "macro_f1": baseline["macro_f1"],
        "accuracy": baseline["accuracy"],
    }
    figures["examples"] = len(data.texts)
    figures["skipped"] = dict(data.skipped)
    return figures


def _figures(truth: list[str], predicted: list[str], labels: list[str]) -> dict:
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truth, predicted, strict=False):
        confusion[t][p] += 1
    per_label = {}
    for label in labels:
        tp = confusion[label][label]
        fp = sum(confusion[t][label] for t in labels) - tp
        fn = sum(confusion[label].values()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    present = [label for label in labels if per_label[label]["support"]]
    macro = sum(per_label[label]["f1"] for label in present) / len(present) if present else 0.0
    correct = sum(1 for t, p in zip(truth, predicted, strict=False) if t == p)
    return {
        "macro_f1": round(macro, 4),
        "accuracy": round(correct / len(truth), 4) if truth else 0.0,
        "per_label": per_label,
        "confusion": confusion,
    }


def format_figures(figures: dict) -> str:
    """A human table of `evaluate`'s figures."""
    labels = list(figures["per_label"])
    width = max([len(label) for label in labels] + [9])
    lines = [f"{'label':<{width}}  precision  recall      f1  support"]
    for label, f in figures["per_label"].items():
        lines.append(
            f"{label:<{width}}  {f['precision']:9.3f}  {f['recall']:6.3f}  "
            f"{f['f1']:6.3f}  {f['support']:7d}"
        )
    base = figures["baseline"]
    lines.append(
        f"macro-F1 {figures['macro_f1']:.3f}  accuracy {figures['accuracy']:.3f}  "
        f"({figures['examples']} examples)"
    )
    lines.append(
        f"majority baseline ('{base['label']}'): macro-F1 {base['macro_f1']:.3f}  "
        f"accuracy {base['accuracy']:.3f}"
    )
    lines.append("")
    lines.append("confusion (rows: true label, columns: predicted)")
    header = "  ".join(f"{label:>{max(len(label), 5)}}" for label in labels)
    lines.append(" " * (width + 2) + header)
    for t in labels:
        row = "  ".join(f"{figures['confusion'][t][p]:>{max(len(p), 5)}}" for p in labels)
        lines.append(f"{t:<{width}}  {row}")
    return "\n".join(lines)
