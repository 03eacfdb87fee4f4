"""Shared fixtures: one embedded local Ray per test session; the tests marked `shared_data` are
skipped, with one summary line, where ../shared/data is missing."""

from __future__ import annotations

import os

import pytest

from pipelines.params import parse_params
from pipelines.stages import REGISTRY
from samples.shared_data import SHARED_DATA
from tests.datasets import write_dataset
from tests.runs import run_shards, run_tokenizer
from tests.shared_data_skip import SHARED_DATA_MISSING, require_shared_data

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shared_data: reads ../shared/data (skipped where it is missing)"
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    # `make test` spreads tests over two processes (pytest-xdist, --dist loadgroup). The demo
    # serves its site on one fixed port, and its pages are named by URL, so every test that
    # runs it, or shares its session-wide run, goes to one process; so do the tests of a
    # module that share a module-wide fixture, which would otherwise be made once in each.
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs.values() if fixtures else ()
        if "demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("demo"))
        elif any(d[-1].scope == "module" for d in defs if d):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def pytest_runtest_setup(item):
    if item.get_closest_marker("shared_data"):
        require_shared_data()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
    if reason.removeprefix("Skipped: ") == SHARED_DATA_MISSING:
        # one location for every such skip, so that -ra folds them into a single line
        report.longrepr = (str(SHARED_DATA), None, SHARED_DATA_MISSING)
    return report


def pytest_terminal_summary(terminalreporter):
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if r.longrepr == (str(SHARED_DATA), None, SHARED_DATA_MISSING)
    ]
    if skipped and not terminalreporter.hasopt("s"):  # -ra already prints the same line
        shown = os.path.relpath(SHARED_DATA, terminalreporter.startpath)
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {shown} {SHARED_DATA_MISSING}")


@pytest.fixture(scope="session")
def book_shards(tmp_path_factory):
    """Shards of the Gutenberg books in ../shared/data, with our own tokenizer (made once for
    the trainer and sharding tests)."""
    require_shared_data()
    root = tmp_path_factory.mktemp("books")
    cls = REGISTRY["extract_book"]
    rows = []
    for path in sorted((SHARED_DATA / "books").glob("*.txt.gz")):
        stage = cls(parse_params(cls.Params, {"paths": [str(path)]}, "test"))
        stage.scratch_dir = root
        for result in stage.read(path, path.name):
            rows += result.kept.select(["id", "text", "source"]).to_pylist()
    # books cut into chapters of ~4,000 characters, so the val split can hold some of them
    docs = [
        {"id": f"{r['id']}-{i}", "text": r["text"][i : i + 4000], "source": "book"}
        for r in rows
        for i in range(0, len(r["text"]), 4000)
    ]
    write_dataset(root / "docs", docs, part_rows=200)
    run_tokenizer(root / "docs", root / "tok", vocab_size=2048)
    run_shards(
        root / "docs", root / "shards", root / "tok" / "tokenizer.json",
        shard_tokens=200_000, val_tokens=40_000,
    )  # fmt: skip
    return root / "shards"


@pytest.fixture(scope="session")
def ray_session():
    """One embedded local Ray for every in-process test that needs it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def run_demo(cwd, timeout: int = 900, config=None):
    """`python -m samples.run_demo` in `cwd`, as `make demo` runs it (local executor), with
    configs/demo.yaml or `config`."""
    import subprocess
    import sys

    from tests.commands import ROOT

    return subprocess.run(
        [sys.executable, "-m", "samples.run_demo", "--executor", "local"]
        + (["--config", str(config)] if config else []),
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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible server on 127.0.0.1, started once for the session."""
    from tests.s3_server import start_s3_server

    server = start_s3_server(tmp_path_factory.mktemp("s3") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The session's S3 server, which this process reaches through the standard AWS
    environment variables while the test runs."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    yield s3_server
