"""Exactly once: a Ray run killed with `kill -9` mid-stage resumes to an uninterrupted run."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from samples.shared_data import DOLMA_FILE
from tests.commands import CORPUS, ROOT, run_corpus
from tests.datasets import snapshot
from tests.runs import SLOW_STAGE

pytestmark = pytest.mark.shared_data  # every test here reads ../shared/data


def _config(tmp_path):
    from samples.pydoc_jsonl import write_pydoc_sample

    write_pydoc_sample(tmp_path / "input")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slowstage.py").write_text(SLOW_STAGE)
    config = tmp_path / "killme.yaml"
    config.write_text(
        f"""
name: killme
stages:
  - stage: import_jsonl
    name: import
    paths: ["{tmp_path}/input/*.jsonl.zst", "{DOLMA_FILE}"]
    part_rows: 3
  - stage: slowstage:Slow
    name: slow
  - stage: length_filter
    name: filter
    min_words: 100
  - stage: export_jsonl
    name: export
"""
    )
    return config, {"PYTHONPATH": f"{tmp_path / 'plugins'}{os.pathsep}{ROOT}"}


class PartWatcher(threading.Thread):
    """Opens every visible part while a run goes on; any that cannot be read is a failure."""

    def __init__(self, run_dir):
        super().__init__(daemon=True)
        self.run_dir, self.seen, self.broken = run_dir, set(), []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for path in self.run_dir.glob("*/*/part-*.parquet"):
                if path not in self.seen:
                    self.seen.add(path)
                    try:
                        pq.read_table(path)
                    except Exception as exc:  # noqa: BLE001 - any failure is the finding
                        self.broken.append((path, exc))
            time.sleep(0.02)


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status")
        try:
            if "State:\tZ" in status.read_text():
                return  # dead; its parent (already gone) will not reap it, init will
        except OSError:
            return
        time.sleep(0.01)


def test_kill_9_mid_stage_then_resume_equals_an_uninterrupted_run(tmp_path):
    config, env = _config(tmp_path)
    ref = run_corpus("run", config, "--run-dir", tmp_path / "ref", "--executor", "local", env=env)
    assert ref.returncode == 0, ref.stderr

    run_dir = tmp_path / "run"
    watcher = PartWatcher(run_dir)
    watcher.start()
    driver = subprocess.Popen(
        [*CORPUS, "run", str(config), "--run-dir", str(run_dir), "--executor", "ray"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the embedded Ray dies with it below
    )
    slow_state = run_dir / "_state" / "slow"
    deadline = time.monotonic() + 180
    ray_processes: list[int] = []
    try:
        while len(list(slow_state.glob("part-*.json"))) < 3:
            assert driver.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the slow stage never started"
            time.sleep(0.01)
        ray_processes = _descendants(driver.pid)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        # the embedded Ray the driver started (raylet, workers) dies with it, as on a real node
        os.killpg(driver.pid, signal.SIGKILL)
        for pid in _descendants(driver.pid) + ray_processes:
            _kill_and_reap(pid)
    committed = len(list(slow_state.glob("part-*.json")))
    total = len(list((run_dir / "import" / "kept").glob("part-*.parquet")))
    assert 3 <= committed < total, "killed mid-stage"
    # the unfinished stage is not published, so no later stage could have started
    assert not (run_dir / "slow" / "kept" / "_manifest.json").exists()
    assert not (run_dir / "filter").exists()
    status = run_corpus("status", run_dir).stdout
    assert f"{committed}/{total}  partial" in status and "not started" in status, status

    resumed = run_corpus("run", config, "--run-dir", run_dir, "--executor", "ray", env=env)
    watcher.stop.set()
    watcher.join()
    assert resumed.returncode == 0, resumed.stderr
    assert "reused" in resumed.stderr
    assert snapshot(run_dir) == snapshot(tmp_path / "ref")
    assert watcher.seen and not watcher.broken, watcher.broken
