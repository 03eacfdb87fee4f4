"""What the benchmarks share: timing one stage run end to end, outputs removed after."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

from pipelines.pipeline import stage_job
from pipelines.runner import config_hash, run_stage


def time_stage(cls, params, tasks, executor, out: Path, keep: bool = False) -> float:
    """Seconds to run stage type `cls` with `params` over `tasks` into `out` (then removed,
    unless `keep`)."""
    values = asdict(params)
    chash = config_hash(cls.type_name, cls.version, values, "")
    job = stage_job(cls.type_name, cls, values, chash, out, out / "_state")
    start = time.perf_counter()
    run_stage(job, tasks, executor, log=lambda _: None)
    elapsed = time.perf_counter() - start
    if not keep:
        shutil.rmtree(out)
    return elapsed


def run_named_stage(name: str, dataset: Path, out: Path, params: dict, executor=None):
    """Run the registered stage `name` with `params` over the dataset folder `dataset` into
    `out` (its state in `out/_state`); returns its outcome."""
    from corpus.dataset import Dataset
    from pipelines.executors import LocalExecutor
    from pipelines.runner import part_tasks
    from pipelines.stages import REGISTRY

    cls = REGISTRY[name]
    values = asdict(cls.Params(**params))
    chash = config_hash(name, cls.version, values, "")
    job = stage_job(name, cls, values, chash, out, out / "_state")
    return run_stage(job, part_tasks(Dataset(dataset)), executor or LocalExecutor(), log=print)
