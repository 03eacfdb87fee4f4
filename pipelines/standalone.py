"""One stage run outside a pipeline: what every stage command of the CLI, the benchmarks and the
tests do. Parameters are checked, the config hash taken, the job built and run, with its commit
records in a state folder so that a re-run resumes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

from corpus import storage
from corpus.dataset import Dataset
from pipelines.executors import LocalExecutor
from pipelines.params import parse_params
from pipelines.pipeline import stage_job
from pipelines.progress import Progress
from pipelines.runner import StageJob, StageOutcome, Task, config_hash, part_tasks, run_stage
from pipelines.stages import REGISTRY, Stage


def standalone_job(
    cls: type[Stage],
    params,
    out: Path,
    state_dir: Path | None = None,
    flat: bool = False,
    name: str | None = None,
) -> StageJob:
    """The job of stage type `cls` with `params` (its Params, or a mapping checked against them)
    writing into `out`: kept and rejected datasets in `out/kept` and `out/rejected`, or with
    `flat`, kept documents in `out` itself and rejected ones in `out/_rejected`. Commit records go
    to `state_dir` (default `out/_state`); `name` (default: the stage type) heads its messages."""
    name = name or cls.type_name
    if isinstance(params, Mapping):
        params = parse_params(cls.Params, params, f"corpus {name}")
    values = dataclasses.asdict(params)
    out = storage.absolute(out)  # workers get absolute paths: their working folder is not ours
    state_dir = storage.absolute(state_dir) if state_dir else out / "_state"
    chash = config_hash(cls.type_name, cls.version, values, "")
    job = stage_job(name, cls, values, chash, out, state_dir)
    if flat:
        job = dataclasses.replace(job, kept_dir=str(out), rejected_dir=str(out / "_rejected"))
    return job


def run_standalone(
    cls: type[Stage],
    params,
    tasks: list[Task],
    out: Path,
    executor,
    state_dir: Path | None = None,
    flat: bool = False,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
    name: str | None = None,
) -> StageOutcome:
    """Run stage type `cls` over `tasks` into `out` (see `standalone_job`); returns its outcome."""
    job = standalone_job(cls, params, out, state_dir, flat, name)
    return run_stage(job, tasks, executor, progress=progress, log=log)


def run_on_dataset(
    name: str, dataset: Path, out: Path, params: Mapping, executor=None, log=print
) -> StageOutcome:
    """Run the registered stage `name` with `params` over every part of the dataset folder
    `dataset` into `out`, on `executor` (default: in this process); returns its outcome."""
    tasks = part_tasks(Dataset(dataset))
    return run_standalone(REGISTRY[name], params, tasks, out, executor or LocalExecutor(), log=log)
