"""What the benchmarks share: timing one stage run end to end, outputs removed after."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from corpus.dataset import Dataset
from pipelines.executors import LocalExecutor
from pipelines.runner import part_tasks
from pipelines.stages import REGISTRY
from pipelines.standalone import run_standalone


def time_stage(cls, params, tasks, executor, out: Path, keep: bool = False) -> float:
    """Seconds to run stage type `cls` with `params` over `tasks` into `out` (then removed,
    unless `keep`)."""
    start = time.perf_counter()
    run_standalone(cls, params, tasks, out, executor, log=lambda _: None)
    elapsed = time.perf_counter() - start
    if not keep:
        shutil.rmtree(out)
    return elapsed


def run_named_stage(name: str, dataset: Path, out: Path, params: dict, executor=None):
    """Run the registered stage `name` with `params` over the dataset folder `dataset` into
    `out` (its state in `out/_state`); returns its outcome."""
    tasks = part_tasks(Dataset(dataset))
    return run_standalone(REGISTRY[name], params, tasks, out, executor or LocalExecutor())
