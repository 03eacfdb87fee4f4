"""What the benchmarks share: timing one stage run end to end, outputs removed after."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

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
