"""The `corpus` command line. Every error a user can cause ends in one line, never a traceback.

Each command is a parser whose `run` default is the function that does it; the stage commands
(stage_commands.py, crawl_command.py) make their options from the stages' Params."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import sys
import typing
from pathlib import Path

from corpus import storage
from corpus.errors import CorpusError
from corpus.process import exit_process
from pipelines.cli.ablate_command import add_ablate_parser
from pipelines.cli.classifier_command import add_classifier_parser
from pipelines.cli.command import CommandParser, executor_options, log, positive
from pipelines.cli.crawl_command import add_crawl_parser
from pipelines.cli.stage_commands import (
    add_dataset_parsers,
    add_source_parsers,
    add_token_parsers,
)
from pipelines.cli.stage_flags import params_doc
from pipelines.config import load_pipeline
from pipelines.executors import make_executor
from pipelines.params import ConfigError, describe_type
from pipelines.pipeline import run_pipeline, run_status
from pipelines.stages import REGISTRY
from trainer.args import add_arguments as add_train_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="corpus", description="Build LLM pretraining data from raw text.")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=CommandParser, required=True
    )

    p = sub.add_parser("run", help="run a pipeline config into its run folder")
    p.add_argument("config", help="pipeline YAML, e.g. configs/demo.yaml")
    p.add_argument("--run-dir", help="run folder (default: runs/NAME)")
    executor_options(p)
    p.set_defaults(run=cmd_run)

    p = sub.add_parser("status", help="show each stage's parts done / total in a run folder")
    p.add_argument("run_dir", metavar="RUN")
    p.set_defaults(run=cmd_status)

    add_source_parsers(sub)
    add_crawl_parser(sub)
    add_dataset_parsers(sub)
    add_classifier_parser(sub)
    add_token_parsers(sub)
    add_trainer_parsers(sub)
    add_ablate_parser(sub)

    p = sub.add_parser("report", help="write a run's quality report: index.html and report.json")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--out", metavar="DIR", help="default: RUN/report")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser(
        "trace", help="one document's path through a run: decisions, cluster, shards"
    )
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("doc_id", metavar="DOC_ID")
    p.set_defaults(run=cmd_trace)

    p = sub.add_parser("stages", help="list the stage types a pipeline config can use")
    p.set_defaults(run=cmd_stages)
    return parser


def add_trainer_parsers(sub) -> None:
    p = sub.add_parser("train", help="train the bundled GPT on token shards (PyTorch)")
    add_train_arguments(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("sample", help="continue a prompt with a trained checkpoint")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="ckpt_*.pt or its folder")
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=positive, default=100)
    p.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
    p.add_argument("--top-k", type=positive, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", metavar="FILE.json", help="when the shards name none (llm.c)")
    p.set_defaults(run=cmd_sample)

    p = sub.add_parser("export-hf", help="write a checkpoint as a Hugging Face GPT-2 folder")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="ckpt_*.pt or its folder")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(run=cmd_export_hf)


def cmd_run(args) -> int:
    spec = load_pipeline(args.config)
    run_dir = Path(args.run_dir or Path("runs") / spec.name)
    executor = make_executor(args.executor, args.address, args.workers, args.task_memory)
    try:
        run_pipeline(spec, run_dir, executor, log=log)
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
    log(f"[export-hf] GPT-2 folder in {out}; load it with GPT2LMHeadModel.from_pretrained")
    return 0


def cmd_report(args) -> int:
    from pipelines.report import summary, write_report

    path, data = write_report(args.run_dir, args.out)
    print(summary(data))
    log(f"report: {storage.show(path)}")
    return 0


def cmd_trace(args) -> int:
    from pipelines.report import trace

    print(trace(args.run_dir, args.doc_id))
    return 0


def cmd_stages(args) -> int:
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        print(f"{name} ({cls.kind}): {(cls.__doc__ or '').strip()}")
        for pname, hint, default in params_doc(cls):
            group = _params_group(hint)
            if group is None:
                print(f"    {pname}: {describe_type(hint)} = {default!r}")
                continue
            state = "off by default" if default is None else "on by default"
            print(f"    {pname}: a mapping, or null to switch it off ({state})")
            for sub_name, sub_hint, sub_default in params_doc(group):
                print(f"        {sub_name}: {describe_type(sub_hint)} = {sub_default!r}")
    return 0


def _params_group(hint):
    """The dataclass of a nested parameter group (`X` or `X | None`), else None."""
    for option in typing.get_args(hint) or (hint,):
        if dataclasses.is_dataclass(option):
            return option
    return None


# commands whose files are written or read by libraries on this machine's disk; the others take
# object-store URIs (`s3://...`) as well as paths
LOCAL_ONLY = {
    "crawl": ("seeds", "out"),
    "classifier": ("out", "model"),
    "train": ("shards", "out"),
    "sample": ("checkpoint",),
    "export-hf": ("checkpoint", "out"),
}


def _local_only(args) -> None:
    for flag in LOCAL_ONLY.get(args.command, ()):
        value = getattr(args, flag, None)
        if isinstance(value, str) and storage.is_remote(value):
            raise ConfigError(f"--{flag} {value}: give a local path for this command")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    name = args.command
    try:
        _local_only(args)
        return args.run(args)
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
