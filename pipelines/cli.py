"""The `corpus` command line. Every error a user can cause ends in one line, never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import shutil
import sys
import typing
from pathlib import Path

import yaml

from corpus.crawl.crawler import check_seeds, crawl, read_seeds
from corpus.crawl.fetch import FetchLimits
from corpus.dataset import Dataset
from corpus.errors import CorpusError
from corpus.process import exit_process
from corpus.schema import SOURCES
from corpus.shards import MANIFEST
from corpus.tokenizer import load_tokenizer
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
from pipelines.config import load_pipeline, read_yaml
from pipelines.crawl_stage import CrawlParams
from pipelines.executors import make_executor
from pipelines.export_stage import ExportJsonl
from pipelines.import_stage import ImportJsonl
from pipelines.params import ConfigError, describe_type, parse_params
from pipelines.pipeline import run_pipeline, run_status, stage_job, summary_line
from pipelines.progress import Progress
from pipelines.runner import config_hash, part_tasks, run_stage, source_tasks
from pipelines.shard_inspect import inspect_shards
from pipelines.shard_stage import ShardParams, parse_weights
from pipelines.stages import REGISTRY, stage_params_doc
from pipelines.tokenizer_stage import TokenizerParams
from trainer.args import add_arguments as add_train_arguments

EXTRACT_KINDS = ("web", "article", "book", "forum", "social")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, then the usage, exit 2 (argparse's convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor",
        choices=("ray", "local"),
        default="ray",
        help="ray (default: embedded local Ray, or a cluster with --address) or local",
    )
    p.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else local)")
    p.add_argument("--workers", type=_positive, help="parallel tasks (default: all CPUs)")


def _whole(minimum: int):
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive, _non_negative = _whole(1), _whole(0)


def _byte_size(text: str) -> int:
    """An argparse type: a size in bytes, with an optional K, M, G or T suffix (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a size such as 500M or 2G, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, got {text!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="corpus", description="Build LLM pretraining data from raw text.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("run", help="run a pipeline config into its run folder")
    p.add_argument("config", help="pipeline YAML, e.g. configs/demo.yaml")
    p.add_argument("--run-dir", help="run folder (default: runs/NAME)")
    _executor_options(p)

    p = sub.add_parser("status", help="show each stage's parts done / total in a run folder")
    p.add_argument("run_dir", metavar="RUN")

    p = sub.add_parser("import", help="read JSONL / JSONL.gz / JSONL.zst documents into a dataset")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--out", required=True, metavar="DATASET")
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="web",
        help="source kind for records without one of ours (default: web)",
    )
    p.add_argument("--part-rows", type=_positive, default=100_000, help="most documents a part")
    p.add_argument("--part-mb", type=_positive, default=64, help="most MB of input a part")
    _executor_options(p)

    p = sub.add_parser(
        "extract", help="read web, article, book, forum or social files into a dataset"
    )
    p.add_argument("kind", choices=EXTRACT_KINDS, metavar="KIND", help=", ".join(EXTRACT_KINDS))
    p.add_argument("files", nargs="+", metavar="INPUT", help="files or glob patterns")
    p.add_argument("--out", required=True, metavar="DATASET")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a stage parameter (see `corpus stages`), e.g. --set min_score=2",
    )
    _executor_options(p)

    p = sub.add_parser("crawl", help="crawl from seed URLs into gzip WARC files, politely")
    p.add_argument("--seeds", required=True, metavar="FILE", help="seed URLs, one a line")
    p.add_argument("--out", required=True, metavar="DIR", help="e.g. RUN/crawl")
    p.add_argument("--max-pages", type=_positive, default=1000, help="URLs in all (default 1000)")
    p.add_argument("--max-depth", type=_non_negative, default=5, help="link hops (default 5)")
    p.add_argument(
        "--allow-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="also crawl this domain and its subdomains (default: the seeds' hosts only)",
    )
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private, loopback and link-local addresses (refused by default)",
    )
    p.add_argument("--delay", type=float, default=1.0, help="seconds between requests to a host")
    p.add_argument("--per-host-concurrency", type=_positive, default=1)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for a read")
    p.add_argument("--max-page-mb", type=float, default=8.0, help="largest response body")
    p.add_argument("--user-agent", default=FetchLimits.user_agent)
    p.add_argument("--ignore-robots", action="store_true", help="for your own sites only")
    _executor_options(p)

    p = sub.add_parser(
        "filter", help="score and filter a dataset: language, rule sets, classifiers, PII"
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="DIR", help="kept documents; DIR/_rejected")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="YAML of filter settings (the `filter` stage's keys; default: built-in defaults)",
    )
    _executor_options(p)

    p = sub.add_parser(
        "dedup", help="remove exact, URL or MinHash near-duplicates; record every cluster"
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="DIR", help="writes DIR/kept, DIR/clusters")
    p.add_argument("--mode", choices=("minhash", "exact", "url"), default="minhash")
    p.add_argument("--threshold", type=float, default=0.8, help="MinHash Jaccard (default 0.8)")
    p.add_argument("--num-perm", type=_positive, default=128)
    p.add_argument("--ngram", type=_positive, default=5, help="words per shingle (default 5)")
    p.add_argument("--bands", type=_positive, help="LSH bands (with --rows; default: optimal)")
    p.add_argument("--rows", type=_positive, help="rows per band")
    p.add_argument("--keep", choices=("longest", "first", "quality"), default="longest")
    p.add_argument("--no-verify", action="store_true", help="keep unverified LSH candidates")
    p.add_argument("--seed", type=int, default=1, help="MinHash permutations' seed")
    p.add_argument("--partitions", type=_positive, help="shuffle partitions (default: by size)")
    p.add_argument(
        "--index", metavar="DIR", help="also dedup against earlier runs kept in DIR; adds this one"
    )
    _executor_options(p)

    p = sub.add_parser("classifier", help="train or evaluate a fastText quality/toxicity model")
    csub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    csub.required = True
    t = csub.add_parser("train", help="train a classifier from labelled rows or two datasets")
    t.add_argument("--kind", choices=("quality", "toxicity"), required=True)
    t.add_argument("--labeled", action="append", metavar="FILE", help="CSV or JSONL (repeatable)")
    t.add_argument("--positive", action="append", metavar="DATASET", help="hq / toxic examples")
    t.add_argument("--negative", action="append", metavar="DATASET", help="lq / clean examples")
    t.add_argument("--out", required=True, metavar="MODEL.bin")
    t.add_argument(
        "--chunk-words",
        type=_non_negative,
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
    t.add_argument("--seed", type=_non_negative, default=0)
    t.add_argument("--epoch", type=_positive, default=TrainOptions.epoch)
    t.add_argument("--lr", type=float, default=TrainOptions.lr)
    t.add_argument("--dim", type=_positive, default=TrainOptions.dim)
    t.add_argument("--word-ngrams", type=_positive, default=TrainOptions.word_ngrams)
    t.add_argument("--bucket", type=_positive, default=TrainOptions.bucket)
    e = csub.add_parser("eval", help="precision, recall and F1 per label, and a confusion table")
    e.add_argument("--model", required=True, metavar="MODEL.bin")
    e.add_argument("--labeled", required=True, metavar="FILE", help="CSV or JSONL")
    for q in (t, e):
        q.add_argument("--text-col", default="text", help="text column (default: text)")
        q.add_argument("--label-col", default="label", help="label column (default: label)")
        q.add_argument("--label-map", metavar="A=B,...", help="rename labels, e.g. 0=toxic,2=clean")
        q.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    p = sub.add_parser("tokenizer", help="train a byte-level BPE tokenizer on a dataset")
    tsub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    tsub.required = True
    t = tsub.add_parser("train", help="train tokenizer.json (HF tokenizers) with <|endoftext|>")
    t.add_argument("dataset", metavar="DATASET")
    t.add_argument("--out", required=True, metavar="FILE.json", help="e.g. RUN/tokenizer.json")
    t.add_argument("--vocab-size", type=_positive, default=TokenizerParams.vocab_size)
    t.add_argument(
        "--max-bytes",
        type=_byte_size,
        default=TokenizerParams.max_bytes,
        help="text to train on, a seeded sample of documents (default 1G; e.g. 500M)",
    )
    t.add_argument("--min-frequency", type=_positive, default=TokenizerParams.min_frequency)
    t.add_argument("--seed", type=int, default=0, help="of the sample (default 0)")
    _executor_options(t)

    p = sub.add_parser(
        "shard",
        help="tokenize, shuffle, write llm.c token shards (`corpus shard inspect DIR` shows them)",
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--tokenizer", required=True, metavar="FILE.json")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--shard-tokens", type=_positive, default=ShardParams.shard_tokens)
    p.add_argument(
        "--val-tokens",
        type=_non_negative,
        default=ShardParams.val_tokens,
        help="tokens held out by document (at most 10%% of the corpus; 0: no val split)",
    )
    p.add_argument("--seed", type=int, default=0, help="of the shuffle and the val split")
    p.add_argument(
        "--weights",
        metavar="SRC=W,...",
        help="mixture weights per source, e.g. web=1,book=2 (2 repeats each document, 0.5 keeps "
        "half, 0 drops the source)",
    )
    _executor_options(p)

    p = sub.add_parser("export", help="write a dataset as dolma-style JSONL(.gz|.zst)")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="FILE")
    _executor_options(p)

    p = sub.add_parser("train", help="train the bundled GPT on token shards (PyTorch)")
    add_train_arguments(p)

    p = sub.add_parser("sample", help="continue a prompt with a trained checkpoint")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="ckpt_*.pt or its folder")
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=_positive, default=100)
    p.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
    p.add_argument("--top-k", type=_positive, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", metavar="FILE.json", help="when the shards name none (llm.c)")

    p = sub.add_parser("export-hf", help="write a checkpoint as a Hugging Face GPT-2 folder")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="ckpt_*.pt or its folder")
    p.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser("report", help="write a run's quality report: index.html and report.json")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--out", metavar="DIR", help="default: RUN/report")

    p = sub.add_parser(
        "trace", help="one document's path through a run: decisions, cluster, shards"
    )
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("doc_id", metavar="DOC_ID")

    sub.add_parser("stages", help="list the stage types a pipeline config can use")
    return parser


def cmd_run(args) -> int:
    spec = load_pipeline(args.config)
    run_dir = Path(args.run_dir or Path("runs") / spec.name)
    executor = make_executor(args.executor, args.address, args.workers)
    try:
        run_pipeline(spec, run_dir, executor, log=_log)
    finally:
        executor.close()
    return 0


def cmd_status(args) -> int:
    rows = run_status(Path(args.run_dir))
    print(f"{'stage':<20} {'type':<20} {'parts':>11}  state")
    for r in rows:
        parts = f"{r['done']}/{r['total']}" if r["total"] is not None else "-"
        print(f"{r['stage']:<20} {r['type']:<20} {parts:>11}  {r['state']}")
    return 0


def cmd_import(args) -> int:
    raw = {
        "paths": args.files,
        "source": args.source,
        "part_rows": args.part_rows,
        "part_mb": args.part_mb,
    }
    _run_source(args, "import", ImportJsonl, raw)
    return 0


def cmd_extract(args) -> int:
    raw: dict = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        raw[key.strip()] = yaml.safe_load(value) if value.strip() else None
    if "paths" in raw:
        raise ConfigError("give input files as arguments, not with --set paths=")
    raw["paths"] = args.files
    _run_source(args, f"extract {args.kind}", REGISTRY[f"extract_{args.kind}"], raw)
    return 0


def _run_source(args, name: str, cls, raw: dict) -> None:
    """Run one source stage standalone into the dataset folder `--out`."""
    params = parse_params(cls.Params, raw, f"corpus {name}")
    _run_standalone(args, name.split()[0], cls, params, source_tasks(cls(params)))


def _run_standalone(args, name: str, cls, params, tasks) -> None:
    """Run one stage outside a pipeline: kept documents in `--out`, rejected in `--out/_rejected`,
    commit records in `--out/_state` (so a re-run resumes)."""
    out = Path(args.out)
    values = dataclasses.asdict(params)
    chash = config_hash(cls.type_name, cls.version, values, "")
    job = stage_job(name, cls, values, chash, out, out / "_state")
    job = dataclasses.replace(job, kept_dir=str(out), rejected_dir=str(out / "_rejected"))
    _run_one(args, job, tasks)


def cmd_filter(args) -> int:
    raw = read_yaml(Path(args.config)) if args.config else {}
    raw = {} if raw is None else raw  # an empty file: every default
    if not isinstance(raw, dict):
        raise ConfigError(f"{args.config}: must be a mapping of filter settings")
    cls = REGISTRY["filter"]
    params = parse_params(cls.Params, raw, args.config or "corpus filter")
    _run_standalone(args, "filter", cls, params, part_tasks(Dataset(args.dataset)))
    return 0


def cmd_dedup(args) -> int:
    cls = REGISTRY["dedup"]
    raw = {
        "mode": args.mode,
        "threshold": args.threshold,
        "num_perm": args.num_perm,
        "ngram": args.ngram,
        "bands": args.bands,
        "rows": args.rows,
        "keep": args.keep,
        "verify": not args.no_verify,
        "seed": args.seed,
        "partitions": args.partitions,
        "index": args.index,
    }
    params = parse_params(cls.Params, raw, "corpus dedup")
    out = Path(args.out)
    values = dataclasses.asdict(params)
    chash = config_hash(cls.type_name, cls.version, values, "")
    job = stage_job("dedup", cls, values, chash, out, out / "_state")
    _run_one(args, job, part_tasks(Dataset(args.dataset)))
    return 0


def cmd_tokenizer(args) -> int:
    cls = REGISTRY["tokenizer"]
    out = Path(args.out)
    raw = {
        "vocab_size": args.vocab_size,
        "min_frequency": args.min_frequency,
        "max_bytes": args.max_bytes,
        "seed": args.seed,
        "file": out.name,
    }
    params = parse_params(cls.Params, raw, "corpus tokenizer train")
    values = dataclasses.asdict(params)
    dataset = Dataset(args.dataset)
    chash = config_hash(cls.type_name, cls.version, values, "")
    state = out.parent / f".{out.name}.state"
    job = stage_job("tokenizer", cls, values, chash, out.parent, state)
    _run_one(args, job, part_tasks(dataset))
    shutil.rmtree(state, ignore_errors=True)
    return 0


def cmd_shard(args) -> int:
    cls = REGISTRY["shard"]
    raw = {
        "tokenizer": str(Path(args.tokenizer).resolve()),
        "shard_tokens": args.shard_tokens,
        "val_tokens": args.val_tokens,
        "seed": args.seed,
        "weights": parse_weights(args.weights) if args.weights else None,
    }
    params = parse_params(cls.Params, raw, "corpus shard")
    load_tokenizer(params.tokenizer)  # a bad tokenizer stops here, in one line
    out = Path(args.out)
    values = dataclasses.asdict(params)
    dataset = Dataset(args.dataset)
    chash = config_hash(cls.type_name, cls.version, values, "")
    job = stage_job("shard", cls, values, chash, out, out / "_state")
    _run_one(args, job, part_tasks(dataset))
    _log(f"[shard] shards and {MANIFEST} in {out}; see them with: corpus shard inspect {out}")
    return 0


def cmd_shard_inspect(args) -> int:
    print(inspect_shards(Path(args.dir), sample_tokens=args.sample_tokens))
    return 0


def cmd_classifier(args) -> int:
    try:
        label_map = parse_label_map(args.label_map)
    except ValueError as exc:
        raise ConfigError(f"--label-map: {exc}") from None
    if args.action == "eval":
        data = read_labelled(args.labeled, args.text_col, args.label_col, label_map)
        if not data.texts:
            raise CorpusError(f"{args.labeled}: no labelled rows")
        _print_figures(evaluate(args.model, data), args.json)
        return 0
    if not 0 <= args.holdout < 1:
        raise ConfigError(f"--holdout must be in [0, 1), got {args.holdout}")
    if args.labeled and (args.positive or args.negative):
        raise ConfigError("give --labeled, or --positive and --negative, not both")
    if args.labeled:
        data = Labelled()
        for path in args.labeled:
            more = read_labelled(path, args.text_col, args.label_col, label_map)
            data.texts += more.texts
            data.labels += more.labels
            data.skipped.update(more.skipped)
        sources = {"labeled": [str(Path(p).resolve()) for p in args.labeled]}
    elif args.positive and args.negative:
        pos, neg = POSITIVE_LABELS[args.kind]
        data = Labelled()
        for label, paths in ((pos, args.positive), (neg, args.negative)):
            for path in paths:
                for text in dataset_examples(Dataset(path), args.chunk_words):
                    data.add(text, label)
        sources = {"positive": args.positive, "negative": args.negative}
    else:
        raise ConfigError("give --labeled FILE, or both --positive and --negative datasets")
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
    _log(
        f"[classifier] trained {args.out} on {len(train_set.texts)} examples ({counts})"
        + (f"; skipped: {skipped}" if skipped else "")
    )
    if held is not None and held.texts:
        held_path = Path(args.out).with_suffix(".heldout.jsonl")
        with open(held_path, "w", encoding="utf-8") as f:
            for text, label in zip(held.texts, held.labels, strict=False):
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        _log(f"[classifier] held out {len(held.texts)} examples in {held_path}")
        figures = evaluate(args.out, held)
        info["heldout"] = {k: figures[k] for k in ("macro_f1", "accuracy", "baseline")}
        write_model_info(args.out, info)
        _print_figures(figures, args.json)
    return 0


def _print_figures(figures: dict, as_json: bool) -> None:
    print(json.dumps(figures, sort_keys=True) if as_json else format_figures(figures))


def cmd_crawl(args) -> int:
    seeds = check_seeds(read_seeds(Path(args.seeds)))  # a bad seed is bad input: exit 1
    raw = {
        "seeds": seeds,
        "max_pages": args.max_pages,
        "max_depth": args.max_depth,
        "allow_domains": args.allow_domain,
        "allow_private": args.allow_private,
        "obey_robots": not args.ignore_robots,
        "delay_s": args.delay,
        "per_host_concurrency": args.per_host_concurrency,
        "timeout_s": args.timeout,
        "max_page_mb": args.max_page_mb,
        "user_agent": args.user_agent,
    }
    config = parse_params(CrawlParams, raw, "corpus crawl").config()
    executor = make_executor(args.executor, args.address, args.workers)
    try:
        summary = crawl(seeds, Path(args.out), config, executor, log=_log)
    finally:
        executor.close()
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary.rejected.items()))
    _log(
        f"[crawl] {summary.handled} URLs ({summary.fetched_now} this run), {summary.kept} pages "
        f"kept in {len(summary.warc_files)} WARC files"
        + (f"; not kept: {rejected}" if rejected else "")
    )
    return 0


def cmd_export(args) -> int:
    dataset = Dataset(args.dataset)
    out = Path(args.out).resolve()
    raw = {"path": str(out)}
    parse_params(ExportJsonl.Params, raw, "corpus export --out")
    chash = config_hash(ExportJsonl.type_name, ExportJsonl.version, raw, "")
    state = out.parent / f".{out.name}.state"
    job = stage_job("export", ExportJsonl, raw, chash, out.parent, state)
    _run_one(args, job, part_tasks(dataset))
    shutil.rmtree(state, ignore_errors=True)  # a finished export keeps nothing to resume
    return 0


def _run_one(args, job, tasks) -> None:
    executor = make_executor(args.executor, args.address, args.workers)
    try:
        outcome = run_stage(job, tasks, executor, progress=Progress(job.name), log=_log)
    finally:
        executor.close()
    _log(summary_line(outcome))


def cmd_train(args) -> int:
    from trainer.train import train

    train(args)
    return 0


def cmd_sample(args) -> int:
    from trainer.sample import sample

    print(
        sample(
            args.checkpoint,
            args.prompt,
            args.max_new_tokens,
            args.temperature,
            args.top_k,
            args.seed,
            args.tokenizer,
        )
    )
    return 0


def cmd_export_hf(args) -> int:
    from trainer.export_hf import export_hf

    out = export_hf(args.checkpoint, args.out)
    _log(f"[export-hf] GPT-2 folder in {out}; load it with GPT2LMHeadModel.from_pretrained")
    return 0


def cmd_report(args) -> int:
    from pipelines.report import summary, write_report

    path, data = write_report(args.run_dir, args.out)
    print(summary(data))
    _log(f"report: {path}")
    return 0


def cmd_trace(args) -> int:
    from pipelines.report import trace

    print(trace(args.run_dir, args.doc_id))
    return 0


def cmd_stages(args) -> int:
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        print(f"{name} ({cls.kind}): {(cls.__doc__ or '').strip()}")
        for pname, hint, default in stage_params_doc(cls):
            group = _params_group(hint)
            if group is None:
                print(f"    {pname}: {describe_type(hint)} = {default!r}")
                continue
            state = "off by default" if default is None else "on by default"
            print(f"    {pname}: a mapping, or null to switch it off ({state})")
            for sub_name, sub_hint, sub_default in stage_params_doc(group):
                print(f"        {sub_name}: {describe_type(sub_hint)} = {sub_default!r}")
    return 0


def _params_group(hint):
    """The dataclass of a nested parameter group (`X` or `X | None`), else None."""
    for option in typing.get_args(hint) or (hint,):
        if dataclasses.is_dataclass(option):
            return option
    return None


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "import": cmd_import,
    "crawl": cmd_crawl,
    "extract": cmd_extract,
    "export": cmd_export,
    "filter": cmd_filter,
    "dedup": cmd_dedup,
    "classifier": cmd_classifier,
    "tokenizer": cmd_tokenizer,
    "shard": cmd_shard,
    "shard-inspect": cmd_shard_inspect,
    "train": cmd_train,
    "sample": cmd_sample,
    "export-hf": cmd_export_hf,
    "report": cmd_report,
    "trace": cmd_trace,
    "stages": cmd_stages,
}


def build_inspect_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="corpus shard inspect",
        description="Show a shard folder: headers, tokens per shard and per source, a sample.",
    )
    p.add_argument("dir", metavar="DIR")
    p.add_argument(
        "--sample-tokens", type=_non_negative, default=64, help="tokens to decode (default 64)"
    )
    p.set_defaults(command="shard-inspect")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["shard", "inspect"]:
        args = build_inspect_parser().parse_args(argv[2:])
    else:
        args = build_parser().parse_args(argv)
    name = args.command.replace("-", " ")
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"corpus {name}: error: {exc}", file=sys.stderr)
        return 2
    except CorpusError as exc:
        print(f"corpus {name}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`corpus stages | head`): nothing to say
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        print(
            f"corpus {name}: error: no space left on the device{where}; free some space and "
            "run the same command again: committed work is kept and resumed",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"corpus {name}: interrupted; run it again to resume", file=sys.stderr)
        return 130


def entry() -> None:
    """The `corpus` console script: `main`, then a clean exit (see corpus/process.py)."""
    exit_process(main())


if __name__ == "__main__":
    entry()
