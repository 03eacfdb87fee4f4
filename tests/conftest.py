"""Shared fixtures: one embedded local Ray per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_session():
    """One embedded local Ray for every in-process test that needs it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def run_demo(cwd, timeout: int = 900):
    """`python -m pipelines.demo` in `cwd`, as `make demo` runs it (local executor)."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    return subprocess.run(
        [sys.executable, "-m", "pipelines.demo", "--executor", "local"],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo run once, in a fresh folder; returns the folder it ran in and the finished
    process."""
    cwd = tmp_path_factory.mktemp("demo")
    proc = run_demo(cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc
