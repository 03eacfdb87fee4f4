"""`corpus classifier train|eval`: fastText quality and toxicity models from labelled rows or
from two datasets, and their precision, recall and F1."""

from __future__ import annotations

import json
from pathlib import Path

from corpus.dataset import Dataset
from corpus.errors import CorpusError
from filters.classify import (
    POSITIVE_LABELS,
    Labelled,
    TrainOptions,
    balance,
    dataset_examples,
    evaluate,
    format_figures,
    parse_label_map,
    read_labelled,
    split_holdout,
    train,
    write_model_info,
)
from pipelines.cli.command import log, non_negative, positive
from pipelines.params import ConfigError


def add_classifier_parser(sub) -> None:
    p = sub.add_parser("classifier", help="train or evaluate a fastText quality/toxicity model")
    csub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p), required=True)
    t = csub.add_parser("train", help="train a classifier from labelled rows or two datasets")
    t.add_argument("--kind", choices=("quality", "toxicity"), required=True)
    t.add_argument("--labeled", action="append", metavar="FILE", help="CSV or JSONL (repeatable)")
    t.add_argument("--positive", action="append", metavar="DATASET", help="hq / toxic examples")
    t.add_argument("--negative", action="append", metavar="DATASET", help="lq / clean examples")
    t.add_argument("--out", required=True, metavar="MODEL.bin")
    t.add_argument(
        "--chunk-words",
        type=non_negative,
        default=0,
        help="split dataset documents into examples of this many words (0: whole documents)",
    )
    t.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="fraction held out by label, written to MODEL.heldout.jsonl and evaluated",
    )
    t.add_argument(
        "--balance",
        action="store_true",
        help="down-sample every label to the rarest label's count (seeded)",
    )
    t.add_argument("--seed", type=non_negative, default=0)
    t.add_argument("--epoch", type=positive, default=TrainOptions.epoch)
    t.add_argument("--lr", type=float, default=TrainOptions.lr)
    t.add_argument("--dim", type=positive, default=TrainOptions.dim)
    t.add_argument("--word-ngrams", type=positive, default=TrainOptions.word_ngrams)
    t.add_argument("--bucket", type=positive, default=TrainOptions.bucket)
    e = csub.add_parser("eval", help="precision, recall and F1 per label, and a confusion table")
    e.add_argument("--model", required=True, metavar="MODEL.bin")
    e.add_argument("--labeled", required=True, metavar="FILE", help="CSV or JSONL")
    for q in (t, e):
        q.add_argument("--text-col", default="text", help="text column (default: text)")
        q.add_argument("--label-col", default="label", help="label column (default: label)")
        q.add_argument("--label-map", metavar="A=B,...", help="rename labels, e.g. 0=toxic,2=clean")
        q.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    t.set_defaults(run=cmd_train)
    e.set_defaults(run=cmd_eval)


def cmd_eval(args) -> int:
    data = read_labelled(args.labeled, args.text_col, args.label_col, _label_map(args))
    if not data.texts:
        raise CorpusError(f"{args.labeled}: no labelled rows")
    _print_figures(evaluate(args.model, data), args.json)
    return 0


def cmd_train(args) -> int:
    label_map = _label_map(args)
    if not 0 <= args.holdout < 1:
        raise ConfigError(f"--holdout must be in [0, 1), got {args.holdout}")
    data, sources = _training_data(args, label_map)
    if args.balance:
        data = balance(data, args.seed)
    train_set, held = split_holdout(data, args.holdout, args.seed) if args.holdout else (data, None)
    options = TrainOptions(
        epoch=args.epoch,
        lr=args.lr,
        dim=args.dim,
        word_ngrams=args.word_ngrams,
        bucket=args.bucket,
        seed=args.seed,
    )
    info = train(train_set, args.out, args.kind, options, {"sources": sources})
    counts = ", ".join(f"{k} {v}" for k, v in info["labels"].items())
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(data.skipped.items()))
    log(
        f"[classifier] trained {args.out} on {len(train_set.texts)} examples ({counts})"
        + (f"; skipped: {skipped}" if skipped else "")
    )
    if held is not None and held.texts:
        held_path = Path(args.out).with_suffix(".heldout.jsonl")
        with open(held_path, "w", encoding="utf-8") as f:
            for text, label in zip(held.texts, held.labels, strict=False):
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        log(f"[classifier] held out {len(held.texts)} examples in {held_path}")
        figures = evaluate(args.out, held)
        info["heldout"] = {k: figures[k] for k in ("macro_f1", "accuracy", "baseline")}
        write_model_info(args.out, info)
        _print_figures(figures, args.json)
    return 0


def _label_map(args) -> dict[str, str]:
    try:
        return parse_label_map(args.label_map)
    except ValueError as exc:
        raise ConfigError(f"--label-map: {exc}") from None


def _training_data(args, label_map) -> tuple[Labelled, dict]:
    """The examples from `--labeled`, or `--positive` and `--negative`, and their sources."""
    if args.labeled and (args.positive or args.negative):
        raise ConfigError("give --labeled, or --positive and --negative, not both")
    data = Labelled()
    if args.labeled:
        for path in args.labeled:
            more = read_labelled(path, args.text_col, args.label_col, label_map)
            data.texts += more.texts
            data.labels += more.labels
            data.skipped.update(more.skipped)
        return data, {"labeled": [str(Path(p).resolve()) for p in args.labeled]}
    if not (args.positive and args.negative):
        raise ConfigError("give --labeled FILE, or both --positive and --negative datasets")
    pos, neg = POSITIVE_LABELS[args.kind]
    for label, paths in ((pos, args.positive), (neg, args.negative)):
        for path in paths:
            for text in dataset_examples(Dataset(path), args.chunk_words):
                data.add(text, label)
    return data, {"positive": args.positive, "negative": args.negative}


def _print_figures(figures: dict, as_json: bool) -> None:
    print(json.dumps(figures, sort_keys=True) if as_json else format_figures(figures))
