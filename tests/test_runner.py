import json
import os
from pathlib import Path

import pytest

from corpus.dataset import Dataset
from pipelines.config import load_pipeline
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.params import ConfigError
from pipelines.phases import PhaseDriver
from pipelines.pipeline import run_pipeline
from pipelines.runner import StageJob
from pipelines.stages import REGISTRY
from pipelines.standalone import standalone_job
from tests.commands import run_corpus
from tests.datasets import snapshot
from tests.runs import make_pipeline


def _run(config, run_dir, executor=None, log=None):
    lines = []
    report = run_pipeline(
        load_pipeline(config), run_dir, executor or LocalExecutor(), log=log or lines.append
    )
    return report, lines


def _stage(report, name):
    return next(s for s in report["stages"] if s["name"] == name)


def test_local_and_ray_executors_write_identical_bytes(tmp_path, ray_session):
    config = make_pipeline(tmp_path)
    local, _ = _run(config, tmp_path / "local")
    on_ray, _ = _run(config, tmp_path / "ray", RayExecutor())
    assert on_ray["executor"] == "ray"
    assert snapshot(tmp_path / "local") == snapshot(tmp_path / "ray")
    # one task per input part, never per document
    parts = len(Dataset(tmp_path / "ray" / "import" / "kept").parts)
    assert 1 < parts < _stage(on_ray, "import")["docs_out"]
    assert _stage(on_ray, "filter")["tasks"] == parts


def test_ray_executor_with_one_worker_gives_the_same_bytes(tmp_path, ray_session):
    config = make_pipeline(tmp_path)
    _run(config, tmp_path / "two", RayExecutor())
    _run(config, tmp_path / "one", RayExecutor(workers=1))
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_counts_in_the_report_match_the_data(tmp_path):
    config = make_pipeline(tmp_path)
    report, _ = _run(config, tmp_path / "run")
    texts = Dataset(tmp_path / "run" / "import" / "kept").read_all().column("text").to_pylist()
    short = sum(len(t.split()) < 100 for t in texts)
    filt = _stage(report, "filter")
    assert filt["docs_in"] == len(texts) == _stage(report, "import")["docs_out"]
    assert filt["rejected"] == {"min_words": short}
    assert filt["docs_out"] == len(texts) - short == _stage(report, "export")["docs_out"]
    rejected = Dataset(tmp_path / "run" / "filter" / "rejected").read_all()
    assert rejected.num_rows == short and set(rejected.column("reason").to_pylist()) == {
        "min_words"
    }
    assert filt["bytes_in"] == sum(len(t.encode()) for t in texts)
    on_disk = json.loads((tmp_path / "run" / "report" / "report.json").read_text())
    assert on_disk["stages"] == report["stages"]


def test_a_rerun_reuses_every_committed_part(tmp_path):
    config = make_pipeline(tmp_path)
    first, _ = _run(config, tmp_path / "run")
    before = snapshot(tmp_path / "run")
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*.parquet")}
    second, _ = _run(config, tmp_path / "run")
    assert all(s["reused"] == s["tasks"] for s in second["stages"])
    assert snapshot(tmp_path / "run") == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # nothing rewritten
    assert [s["docs_out"] for s in second["stages"]] == [s["docs_out"] for s in first["stages"]]


def test_a_rerun_checks_outputs_by_size_and_time_without_reading_them(tmp_path):
    config = make_pipeline(tmp_path)
    _run(config, tmp_path / "run")
    outputs = [
        p
        for p in (tmp_path / "run").rglob("*")
        if p.is_file()
        and p.relative_to(tmp_path / "run").parts[0] not in ("_state", "report")
        and p.name != "_manifest.json"
    ]
    assert len(outputs) > 10
    for path in outputs:  # garbage of the same size and time: a check that read them would fail
        st = path.stat()
        path.write_bytes(bytes(st.st_size))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    garbage = snapshot(tmp_path / "run")
    report, lines = _run(config, tmp_path / "run")
    assert all(s["reused"] == s["tasks"] for s in report["stages"]), lines
    assert snapshot(tmp_path / "run") == garbage


def test_a_touched_but_unchanged_part_is_checked_and_reused(tmp_path):
    config = make_pipeline(tmp_path)
    _run(config, tmp_path / "run")
    part = sorted((tmp_path / "run" / "import" / "kept").glob("part-*.parquet"))[0]
    os.utime(part)  # a copy or a touch: the time differs, the bytes do not
    report, lines = _run(config, tmp_path / "run")
    assert all(s["reused"] == s["tasks"] for s in report["stages"])
    assert not any("redoing" in line for line in lines)


def test_a_changed_stage_config_redoes_that_stage_and_those_after(tmp_path):
    _run(make_pipeline(tmp_path, min_words=100), tmp_path / "run")
    changed = make_pipeline(tmp_path, min_words=20)
    report, _ = _run(changed, tmp_path / "run")
    assert [(s["name"], s["reused"]) for s in report["stages"]] == [
        ("import", _stage(report, "import")["tasks"]),
        ("filter", 0),
        ("export", 0),
    ]
    _run(changed, tmp_path / "fresh")
    assert snapshot(tmp_path / "run") == snapshot(tmp_path / "fresh")


def test_a_damaged_part_is_detected_named_and_redone(tmp_path):
    config = make_pipeline(tmp_path)
    _run(config, tmp_path / "run")
    before = snapshot(tmp_path / "run")
    victim = sorted((tmp_path / "run" / "import" / "kept").glob("part-*.parquet"))[1]
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    report, lines = _run(config, tmp_path / "run")
    assert any(victim.name in line and "checksum" in line for line in lines)
    assert _stage(report, "import")["reused"] == _stage(report, "import")["tasks"] - 1
    assert snapshot(tmp_path / "run") == before


def test_a_new_part_layout_leaves_no_stale_parts(tmp_path):
    _run(make_pipeline(tmp_path, part_rows=7), tmp_path / "run")
    _run(make_pipeline(tmp_path, part_rows=30), tmp_path / "run")
    for stage in ("import", "filter"):
        kept = tmp_path / "run" / stage / "kept"
        listed = {p.name for p in Dataset(kept).parts}
        assert {p.name for p in kept.glob("*.parquet")} == listed
    _run(make_pipeline(tmp_path, part_rows=30), tmp_path / "fresh")
    assert snapshot(tmp_path / "run") == snapshot(tmp_path / "fresh")


def test_a_run_folder_of_another_pipeline_is_refused_untouched(tmp_path):
    _run(make_pipeline(tmp_path, name="first"), tmp_path / "run")
    before = snapshot(tmp_path / "run")
    with pytest.raises(ConfigError, match="holds pipeline 'first'.*not 'second'"):
        _run(make_pipeline(tmp_path, name="second"), tmp_path / "run")
    assert snapshot(tmp_path / "run") == before


def test_a_foreign_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not made by corpus"):
        _run(make_pipeline(tmp_path), tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_a_run_folder_in_use_by_another_run_is_refused(tmp_path):
    from pipelines.pipeline import lock_run_dir

    config = make_pipeline(tmp_path)
    _run(config, tmp_path / "run")
    held = lock_run_dir(tmp_path / "run")  # as another corpus run would hold it
    try:
        with pytest.raises(ConfigError, match="in use by another corpus run"):
            _run(config, tmp_path / "run")
    finally:
        held.close()
    _run(config, tmp_path / "run")  # free again once the other run ends


def test_empty_input_gives_empty_datasets_and_an_empty_export(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    config = tmp_path / "empty.yaml"
    config.write_text(
        f"stages:\n  - stage: import_jsonl\n    paths: ['{tmp_path}/empty.jsonl']\n"
        "  - stage: length_filter\n  - stage: export_jsonl\n    path: out.jsonl\n"
    )
    report, _ = _run(config, tmp_path / "run")
    assert [s["docs_out"] for s in report["stages"]] == [0, 0, 0]
    assert Dataset(tmp_path / "run" / "length_filter" / "kept").parts == []
    assert (tmp_path / "run" / "export_jsonl" / "out.jsonl").read_bytes() == b""


def test_a_run_killed_before_its_record_was_written_resumes(tmp_path):
    config = make_pipeline(tmp_path)
    run_dir = tmp_path / "run"
    (run_dir / "_state").mkdir(parents=True)
    (run_dir / "_state" / "lock").write_text("")  # what a kill at that moment leaves
    r = run_corpus("run", config, "--run-dir", run_dir, "--executor", "local")
    assert r.returncode == 0, r.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    r = run_corpus("run", config, "--run-dir", foreign, "--executor", "local")
    assert r.returncode == 2 and "was not made by corpus" in r.stderr


def test_a_work_folder_of_an_older_format_is_redone_not_reused(tmp_path):
    """Commit records of an older format (destinations as strings) would be misread: a stage's
    work folder whose meta names no format, or another one, starts clean."""
    job = StageJob("dedup", "dedup", {}, "hash", str(tmp_path), "", "", str(tmp_path / "_state"))
    driver = PhaseDriver(job, LocalExecutor())
    driver.work.mkdir(parents=True)
    (driver.work / "_meta.json").write_text(json.dumps({"config_hash": "hash", "inputs": {}}))
    stale = driver.work / "labels" / "t0.json"
    stale.parent.mkdir()
    stale.write_text(json.dumps({"files": [{"dest": "o0"}]}))
    driver.prepare({})
    assert not stale.exists()
    kept = driver.work / "labels" / "t1.json"
    kept.parent.mkdir()
    kept.write_text("{}")
    PhaseDriver(job, LocalExecutor()).prepare({})  # same format, config and inputs: reused
    assert kept.exists()


class RecordingExecutor(LocalExecutor):
    """Runs tasks in this process, keeping what each task was sent."""

    def __init__(self):
        self.sent: list[tuple] = []

    def map_unordered(self, fn, calls):
        calls = list(calls)
        self.sent += calls
        return super().map_unordered(fn, calls)


def test_every_path_a_task_is_sent_is_absolute(tmp_path, monkeypatch):
    """A worker's working folder is not the driver's (another node of a cluster): a run folder
    and inputs given as relative paths reach every task as absolute ones."""
    config = make_pipeline(tmp_path)
    monkeypatch.chdir(tmp_path)
    executor = RecordingExecutor()
    run_pipeline(load_pipeline(config), Path("runs/rel"), executor, log=lambda _: None)
    jobs = [job for job, _ in executor.sent]
    tasks = [task for _, task in executor.sent]
    assert len(tasks) > 3
    dirs = [d for job in jobs for d in (job.out_dir, job.kept_dir, job.rejected_dir, job.state_dir)]
    paths = dirs + [t.input_path for t in tasks] + [f.path for t in tasks for f in t.inputs]
    assert [p for p in paths if not Path(p).is_absolute()] == []
    job = standalone_job(REGISTRY["dedup"], {}, Path("dd"), flat=True)
    assert all(Path(d).is_absolute() for d in (job.out_dir, job.kept_dir, job.state_dir))


def test_ray_tasks_declare_memory_so_a_node_runs_no_more_than_it_holds(ray_session):
    total = ray_session.cluster_resources()["memory"]

    def nap(i):
        import time

        start = time.monotonic()
        time.sleep(3.0)  # long enough for the second worker to start on a busy machine
        return start, time.monotonic()

    def overlapping(spans):
        (a0, a1), (b0, b1) = sorted(spans)
        return b0 < a1

    roomy = RayExecutor(workers=2, task_memory=int(total * 0.3))
    assert overlapping(list(roomy.map_unordered(nap, [(0,), (1,)])))  # two CPUs: both at once
    tight = RayExecutor(workers=2, task_memory=int(total * 0.6))
    assert not overlapping(list(tight.map_unordered(nap, [(0,), (1,)])))  # memory for one
    with pytest.raises(ConfigError, match="more than the .* GiB the Ray cluster has"):
        RayExecutor(task_memory=int(total * 2))


def test_each_task_measures_its_own_peak(tmp_path):
    import numpy as np

    from corpus.process import peak_rss_mb, reset_peak_rss

    config = make_pipeline(tmp_path)
    big = np.ones(400 << 20, dtype=np.uint8)  # this process's high-water mark goes up 400 MB
    del big
    before = peak_rss_mb()
    reset_peak_rss()
    if peak_rss_mb() > before - 300:
        pytest.skip("this kernel does not let a process reset its memory high-water mark")
    big = np.ones(400 << 20, dtype=np.uint8)
    del big
    before = peak_rss_mb()
    report, _ = _run(config, tmp_path / "run")  # the local executor: tasks in this process
    for name in ("import", "filter"):
        peak = _stage(report, name)["peak_task_rss_mb"]
        # each task starts its mark again: a task's peak is not the process's history
        assert 0 < peak < before - 300, (name, peak, before)
    records = [json.loads(p.read_text()) for p in (tmp_path / "run/_state/filter").glob("part-*")]
    peaks = [r["stats"]["peak_rss_mb"] for r in records]  # each task's, in its commit record
    assert len(peaks) > 1 and max(peaks) == _stage(report, "filter")["peak_task_rss_mb"]


def _arrow_pool() -> str:
    import pyarrow as pa

    return pa.default_memory_pool().backend_name


@pytest.mark.parametrize("given", [None, "system"])
def test_arrow_allocates_from_jemalloc_unless_told_otherwise(given):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if given:
        env["ARROW_DEFAULT_MEMORY_POOL"] = given
    code = "import corpus, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.stdout.strip() == (given or "jemalloc"), r.stderr


def test_ray_workers_allocate_from_the_drivers_arrow_pool(ray_session):
    assert list(RayExecutor().map_unordered(_arrow_pool, [()])) == ["jemalloc"]
