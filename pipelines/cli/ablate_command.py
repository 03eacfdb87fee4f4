"""`corpus ablate RUN --arms ... --eval ...`: an ablation over the stages of a finished run,
written to RUN/ablation and shown in the run's report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from corpus import storage
from corpus.dataset import Dataset
from pipelines.cli.command import executor_options, log, positive, whole
from pipelines.executors import make_executor
from pipelines.params import ConfigError, parse_params
from pipelines.pipeline import PIPELINE_RECORD, lock_run_dir, summary_line
from pipelines.progress import Progress
from pipelines.runner import part_tasks, run_stage
from pipelines.stages import REGISTRY
from pipelines.standalone import standalone_job


def add_ablate_parser(sub) -> None:
    p = sub.add_parser(
        "ablate",
        help="train the same model on what each stage of a run kept; compare bits per byte",
    )
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument(
        "--arms",
        required=True,
        metavar="ARMS",
        help="comma-separated: STAGE, or NAME=STAGE+STAGE (e.g. raw=web+books,dedup); the "
        "first is the baseline",
    )
    p.add_argument("--eval", required=True, nargs="+", metavar="FILE", help="held-out texts")
    p.add_argument("--tokens", type=whole(1), default=2_000_000, metavar="N", help="per run")
    p.add_argument("--seeds", type=positive, default=3, metavar="K", help="runs per arm")
    p.add_argument("--config", default="configs/trainer/tiny.yaml", metavar="YAML")
    p.add_argument("--tokenizer", metavar="JSON", help="default: trained on the arms' text")
    p.add_argument(
        "--vocab-size", type=whole(257), default=8192, metavar="N", help="of that tokenizer"
    )
    p.add_argument("--parallel", type=positive, default=1, metavar="N", help="runs at once")
    p.add_argument(
        "--no-decontaminate",
        action="store_true",
        help="train on eval-text n-grams too (they are still counted and reported)",
    )
    executor_options(p)
    p.set_defaults(run=cmd_ablate)


def cmd_ablate(args) -> int:
    cls = REGISTRY["ablate"]
    run_dir = Path(args.run_dir)
    try:
        record = json.loads(storage.read_text(run_dir / "_state" / PIPELINE_RECORD))
    except FileNotFoundError:
        raise ConfigError(
            f"{args.run_dir}: not a run folder (no _state/{PIPELINE_RECORD})"
        ) from None
    raw = {
        "arms": [a for a in args.arms.split(",") if a.strip()],
        "eval": args.eval,
        "tokens": args.tokens,
        "seeds": args.seeds,
        "config": args.config,
        "tokenizer": args.tokenizer,
        "vocab_size": args.vocab_size,
        "parallel": args.parallel,
        "decontaminate": not args.no_decontaminate,
    }
    params = parse_params(cls.Params, raw, "corpus ablate")
    earlier = {s["name"]: s["type"] for s in record["stages"]}
    if "ablation" in earlier:
        raise ConfigError(
            f"{args.run_dir}: its stage 'ablation' has the folder corpus ablate writes to"
        )
    cls.check_refs(params, earlier, "corpus ablate")
    stages = cls.reads(params)
    tasks = []
    for stage in stages:
        folder = run_dir / stage / "kept"
        if not storage.is_dir(folder):
            raise ConfigError(f"corpus ablate: stage '{stage}' of {args.run_dir} kept no dataset")
        tasks += part_tasks(Dataset(folder), "" if len(stages) == 1 else f"{stage}-")
    values = cls.bind(dataclasses.asdict(params), storage.absolute(run_dir))
    job = standalone_job(
        cls, values, run_dir / "ablation", run_dir / "_state" / "ablation", name="ablate"
    )
    lock = lock_run_dir(run_dir)  # no pipeline run or other ablation in it meanwhile
    executor = make_executor(args.executor, args.address, args.workers, args.task_memory)
    try:
        outcome = run_stage(job, tasks, executor, progress=Progress("ablate"), log=log)
    finally:
        executor.close()
        lock.close()
    log(summary_line(outcome))
    print(cls.summary(run_dir / "ablation"))
    from pipelines.report import write_report

    path, _ = write_report(run_dir)
    results = storage.show(run_dir / "ablation" / "results.json")
    log(f"results: {results}; report: {storage.show(path)}")
    return 0
