"""The commands that run one stage on its own, outside a pipeline (`corpus import`, `extract`,
`filter`, `dedup`, `tokenizer train`, `shard`, `export`), their options made from the stage's
Params (see stage_flags.py). Their commit records are kept, so a re-run resumes."""

from __future__ import annotations

import argparse
from pathlib import Path

from corpus import storage
from corpus.dataset import Dataset
from corpus.shards import MANIFEST
from corpus.tokenizer import load_tokenizer
from pipelines.cli.command import byte_size, executor_options, log, non_negative, whole
from pipelines.cli.stage_flags import Flag, StageFlags
from pipelines.config import read_yaml
from pipelines.executors import make_executor
from pipelines.params import ConfigError, parse_params
from pipelines.pipeline import summary_line
from pipelines.progress import Progress
from pipelines.runner import Task, part_tasks, source_tasks
from pipelines.shard_inspect import inspect_shards
from pipelines.shard_plan import parse_weights
from pipelines.stages import REGISTRY, Stage
from pipelines.standalone import run_standalone

EXTRACT_KINDS = ("web", "article", "book", "forum", "social")
IMPORT = StageFlags(REGISTRY["import_jsonl"].Params, omit=("paths",))
DEDUP = StageFlags(REGISTRY["dedup"].Params, {"index": Flag(metavar="DIR")})
TOKENIZER = StageFlags(
    REGISTRY["tokenizer"].Params, {"max_bytes": Flag(parse=byte_size, metavar="SIZE")}, ("file",)
)
SHARD = StageFlags(
    REGISTRY["shard"].Params,
    {"weights": Flag(parse=parse_weights, metavar="SRC=W,...")},
    omit=("tokenizer",),
)


def extract_flags(kind: str) -> StageFlags:
    return StageFlags(REGISTRY[f"extract_{kind}"].Params, omit=("paths",))


def add_source_parsers(sub) -> None:
    p = sub.add_parser("import", help="read JSONL / JSONL.gz / JSONL.zst documents into a dataset")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--out", required=True, metavar="DATASET")
    IMPORT.add_to(p)
    executor_options(p)
    p.set_defaults(run=cmd_import)

    p = sub.add_parser(
        "extract", help="read web, article, book, forum or social files into a dataset"
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", parser_class=type(p), required=True)
    for kind in EXTRACT_KINDS:
        cls = REGISTRY[f"extract_{kind}"]
        k = kinds.add_parser(kind, help=(cls.__doc__ or "").strip().splitlines()[0])
        k.add_argument("files", nargs="+", metavar="INPUT", help="files or glob patterns")
        k.add_argument("--out", required=True, metavar="DATASET")
        extract_flags(kind).add_to(k)
        executor_options(k)
    p.set_defaults(run=cmd_extract)


def add_dataset_parsers(sub) -> None:
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
    executor_options(p)
    p.set_defaults(run=cmd_filter)

    p = sub.add_parser(
        "dedup",
        help="remove exact, URL or MinHash near-duplicates, recording every cluster; or "
        "(--mode lines|paragraphs) the lines or paragraphs repeated across documents",
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="DIR", help="writes DIR/kept, DIR/clusters")
    DEDUP.add_to(p)
    executor_options(p)
    p.set_defaults(run=cmd_dedup)

    p = sub.add_parser(
        "decontaminate",
        help="drop documents sharing a word n-gram with held-out texts or benchmark files",
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument(
        "--against", required=True, nargs="+", metavar="FILE", help="plain text or JSONL"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="kept documents; DIR/_rejected")
    p.add_argument(
        "--ngram", type=whole(1), default=13, metavar="N", help="words per n-gram (default 13)"
    )
    executor_options(p)
    p.set_defaults(run=cmd_decontaminate)


def add_token_parsers(sub) -> None:
    p = sub.add_parser("tokenizer", help="train a byte-level BPE tokenizer on a dataset")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p), required=True)
    t = actions.add_parser("train", help="train tokenizer.json (HF tokenizers) with <|endoftext|>")
    t.add_argument("dataset", metavar="DATASET")
    t.add_argument("--out", required=True, metavar="FILE.json", help="e.g. RUN/tokenizer.json")
    TOKENIZER.add_to(t)
    executor_options(t)
    p.set_defaults(run=cmd_tokenizer)

    p = sub.add_parser(
        "shard",
        help="tokenize, shuffle, write llm.c token shards (`corpus shard inspect DIR` shows them)",
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--tokenizer", required=True, metavar="FILE.json")
    p.add_argument("--out", required=True, metavar="DIR")
    SHARD.add_to(p)
    executor_options(p)
    p.set_defaults(run=cmd_shard)
    i = p.add_subcommand(
        "inspect",
        description="Show a shard folder: headers, tokens per shard and per source, a sample.",
    )
    i.add_argument("dir", metavar="DIR")
    i.add_argument(
        "--sample-tokens",
        type=non_negative,
        default=64,
        metavar="N",
        help="tokens to decode (default 64)",
    )
    i.set_defaults(command="shard inspect", run=cmd_shard_inspect)

    p = sub.add_parser("export", help="write a dataset as dolma-style JSONL(.gz|.zst)")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="FILE")
    executor_options(p)
    p.set_defaults(run=cmd_export)


def run_stage_command(
    args: argparse.Namespace,
    cls: type[Stage],
    params,
    tasks: list[Task],
    out: Path,
    state_dir: Path | None = None,
    flat: bool = False,
) -> None:
    """Run stage type `cls` standalone on the executor the options choose; log its summary."""
    executor = make_executor(args.executor, args.address, args.workers, args.task_memory)
    try:
        progress = Progress(args.command)
        outcome = run_standalone(
            cls, params, tasks, out, executor, state_dir, flat, progress, log, args.command
        )
    finally:
        executor.close()
    log(summary_line(outcome))


def cmd_import(args) -> int:
    cls = REGISTRY["import_jsonl"]
    params = IMPORT.parse(args, "corpus import", paths=args.files)
    run_stage_command(args, cls, params, source_tasks(cls(params)), Path(args.out), flat=True)
    return 0


def cmd_extract(args) -> int:
    cls = REGISTRY[f"extract_{args.kind}"]
    params = extract_flags(args.kind).parse(args, f"corpus extract {args.kind}", paths=args.files)
    run_stage_command(args, cls, params, source_tasks(cls(params)), Path(args.out), flat=True)
    return 0


def cmd_filter(args) -> int:
    raw = read_yaml(Path(args.config)) if args.config else {}
    raw = {} if raw is None else raw  # an empty file: every default
    if not isinstance(raw, dict):
        raise ConfigError(f"{args.config}: must be a mapping of filter settings")
    cls = REGISTRY["filter"]
    params = parse_params(cls.Params, raw, args.config or "corpus filter")
    tasks = part_tasks(Dataset(args.dataset))
    run_stage_command(args, cls, params, tasks, Path(args.out), flat=True)
    return 0


def cmd_dedup(args) -> int:
    params = DEDUP.parse(args, "corpus dedup")
    tasks = part_tasks(Dataset(args.dataset))
    run_stage_command(args, REGISTRY["dedup"], params, tasks, Path(args.out))
    return 0


def cmd_decontaminate(args) -> int:
    against = [str(storage.absolute(a)) for a in args.against]
    for path in against:
        if not storage.is_file(path):
            raise ConfigError(f"corpus decontaminate: --against {path}: no such file")
    params = {"against": against, "ngram": args.ngram}
    tasks = part_tasks(Dataset(args.dataset))
    run_stage_command(args, REGISTRY["decontaminate"], params, tasks, Path(args.out), flat=True)
    return 0


def cmd_tokenizer(args) -> int:
    out = Path(args.out)
    params = TOKENIZER.parse(args, "corpus tokenizer train", file=out.name)
    tasks = part_tasks(Dataset(args.dataset))
    state = out.parent / f".{out.name}.state"
    run_stage_command(args, REGISTRY["tokenizer"], params, tasks, out.parent, state)
    storage.rmtree(state)  # a trained tokenizer keeps nothing to resume
    return 0


def cmd_shard(args) -> int:
    tokenizer = str(storage.absolute(args.tokenizer))
    params = SHARD.parse(args, "corpus shard", tokenizer=tokenizer)
    load_tokenizer(params.tokenizer)  # a bad tokenizer stops here, in one line
    out = Path(args.out)
    run_stage_command(args, REGISTRY["shard"], params, part_tasks(Dataset(args.dataset)), out)
    log(f"[shard] shards and {MANIFEST} in {out}; see them with: corpus shard inspect {out}")
    return 0


def cmd_shard_inspect(args) -> int:
    if storage.is_remote(args.dir):
        raise ConfigError(f"corpus shard inspect {args.dir}: give a local folder")
    print(inspect_shards(Path(args.dir), sample_tokens=args.sample_tokens))
    return 0


def cmd_export(args) -> int:
    tasks = part_tasks(Dataset(args.dataset))
    out = storage.absolute(args.out)
    cls = REGISTRY["export_jsonl"]
    params = parse_params(cls.Params, {"path": storage.show(out)}, "corpus export --out")
    state = out.parent / f".{out.name}.state"
    run_stage_command(args, cls, params, tasks, out.parent, state)
    storage.rmtree(state)  # a finished export keeps nothing to resume
    return 0
