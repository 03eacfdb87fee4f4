"""The `corpus` command in a child process, as a user runs it: to completion, or killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from corpus import storage

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [sys.executable, "-m", "pipelines.cli"]


def run_corpus(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    """Run the `corpus` CLI in a child process; returns the CompletedProcess."""
    return subprocess.run(
        [*CORPUS, *map(str, args)],
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kill_when(
    args: list, watch: Path, records: int, timeout_s: float = 60, env: dict | None = None
) -> int:
    """Run the `corpus` CLI with `args` and kill -9 it (its whole process group) as soon as the
    folder `watch` holds `records` commit records (*.json); returns its exit status (negative
    SIGKILL when the kill landed, 0 when it finished first)."""
    proc = subprocess.Popen(
        [*CORPUS, *map(str, args)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(name.endswith(".json") for name in storage.listdir(watch)) >= records:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05 if storage.is_remote(watch) else 0.002)
    return proc.wait()
