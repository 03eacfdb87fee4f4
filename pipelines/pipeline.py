"""Run a pipeline of stages into a run folder laid out as DESIGN §3, and report what each did.

RUN/<stage>/kept and RUN/<stage>/rejected hold each stage's datasets (a sink writes its files in
RUN/<stage>/), RUN/_state/<stage>/ its commit records, RUN/report/report.json the merged stats.
"""

from __future__ import annotations

import fcntl
import json
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from corpus import storage
from corpus.dataset import Dataset, write_json_atomic
from pipelines.config import PipelineSpec, StageSpec
from pipelines.params import ConfigError
from pipelines.phases import WORK
from pipelines.progress import Progress
from pipelines.report import summary, write_report
from pipelines.runner import (
    PLAN_RECORD,
    STAGE_RECORD,
    StageJob,
    StageOutcome,
    Task,
    config_hash,
    load_record,
    part_tasks,
    run_stage,
    source_tasks,
    stage_files,
)
from pipelines.stages import FilesStage, SourceStage

PIPELINE_RECORD = "pipeline.json"
LOCK_NAME = "lock"


def stage_job(name: str, spec_cls, params: dict, chash: str, stage_dir: Path, state_dir: Path):
    return StageJob(
        name=name,
        stage_type=spec_cls.type_name,
        params=params,
        config_hash=chash,
        out_dir=str(stage_dir),
        kept_dir=str(stage_dir / "kept"),
        rejected_dir=str(stage_dir / "rejected"),
        state_dir=str(state_dir),
    )


def lock_run_dir(run_dir: Path):
    """Hold the run folder for this process (released when it exits, even by kill -9). A run on
    an object store is held on this node only, through its cache folder: a store has no locks,
    so two drivers on different machines must not be given the same run URI."""
    lock_path = storage.local_path(run_dir) / "_state" / LOCK_NAME
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(
            f"run folder {storage.show(run_dir)} is in use by another corpus run"
        ) from None
    return handle


def claim_run_dir(run_dir: Path, spec: PipelineSpec):
    """Lock `run_dir` for this pipeline, or stop if it holds another pipeline or foreign files."""
    record_path = run_dir / "_state" / PIPELINE_RECORD
    # a run killed between taking the lock and writing its record leaves only _state/lock
    ours = {run_dir / "_state", run_dir / "_state" / LOCK_NAME}
    made = storage.is_file(record_path)
    if storage.is_remote(run_dir):
        foreign = not made and storage.walk_files(run_dir)
    else:
        foreign = not made and run_dir.is_dir() and set(run_dir.rglob("*")) - ours
    if foreign:
        raise ConfigError(
            f"run folder {storage.show(run_dir)} is not empty and was not made by corpus; "
            "choose another --run-dir"
        )
    lock = lock_run_dir(run_dir)
    if made:
        other = json.loads(storage.read_text(record_path))
        if other.get("name") != spec.name:
            lock.close()
            raise ConfigError(
                f"run folder {storage.show(run_dir)} holds pipeline '{other.get('name')}' "
                f"(from {other.get('config')}), not '{spec.name}'; choose another --run-dir"
            )
    record = {
        "name": spec.name,
        "config": str(spec.path),
        "stages": [
            {"name": s.name, "type": s.cls.type_name, "params": s.params_dict} for s in spec.stages
        ],
    }
    write_json_atomic(record_path, record)
    return lock


def run_pipeline(
    spec: PipelineSpec, run_dir: Path, executor, log: Callable[[str], None] = print
) -> dict:
    """Run every stage of `spec` in order, reusing committed work; returns the report."""
    start = time.perf_counter()
    if storage.is_remote(run_dir):
        for st in spec.stages:
            if issubclass(st.cls, FilesStage):
                raise ConfigError(
                    f"stage '{st.name}' ({st.cls.type_name}) writes its files on the disk of "
                    "the nodes that fetch them, so it needs a local or shared --run-dir, not "
                    f"{storage.show(run_dir)}; import its output from there"
                )
    lock = claim_run_dir(run_dir, spec)
    try:
        return _run_stages(spec, run_dir, executor, log, start)
    finally:
        lock.close()


def _run_stages(spec: PipelineSpec, run_dir: Path, executor, log, start: float) -> dict:
    hashes: dict[str, str] = {}
    outcomes: list[StageOutcome] = []
    root = storage.absolute(run_dir)  # workers get absolute paths: their folder is not ours
    for st in spec.stages:
        tasks, upstream = _plan_stage(st, root, hashes)
        params = st.cls.bind(st.params_dict, root)
        chash = config_hash(st.cls.type_name, st.cls.version, params, upstream)
        hashes[st.name] = chash
        job = stage_job(st.name, st.cls, params, chash, root / st.name, root / "_state" / st.name)
        outcome = run_stage(job, tasks, executor, progress=Progress(st.name), log=log)
        outcomes.append(outcome)
        log(summary_line(outcome))
        more = st.cls.summary(root / st.name)
        if more:
            log(f"\n{more}\n")
    report = build_report(spec, run_dir, executor.name, outcomes, time.perf_counter() - start)
    storage.makedirs(run_dir / "report")
    write_json_atomic(run_dir / "report" / "report.json", report)
    path, full = write_report(run_dir)  # the page, with samples and distributions
    log(f"\n{summary(full)}\n")
    log(f"report: {storage.show(path)}")
    return full


def _plan_stage(st: StageSpec, run_dir: Path, hashes: dict[str, str]) -> tuple[list[Task], str]:
    """The stage's tasks, and the hash of what it reads (chained to earlier stages' configs)."""
    if issubclass(st.cls, FilesStage):
        return [], ""
    if issubclass(st.cls, SourceStage):
        if not st.inputs:
            cache = run_dir / "_state" / st.name / "ranges"
            return source_tasks(st.cls(st.params), cache_dir=cache), ""
        (writer,) = st.inputs
        files = stage_files(run_dir / "_state" / writer)
        return source_tasks(st.cls(st.params), files), hashes[writer]
    tasks, upstream = [], []
    for i, ref in enumerate(st.inputs):
        folder = run_dir / ref / "kept" if isinstance(ref, str) else ref
        prefix = "" if len(st.inputs) == 1 else f"{ref}-" if isinstance(ref, str) else f"in{i}-"
        tasks += part_tasks(Dataset(folder), prefix)
        upstream.append(hashes[ref] if isinstance(ref, str) else "")
    return tasks, upstream[0] if len(upstream) == 1 else "+".join(upstream)


def summary_line(o: StageOutcome) -> str:
    s = o.stats
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(s.get("rejected", {}).items()))
    dropped = f", {s.get('docs_rejected', 0):,} rejected ({reasons})" if reasons else ""
    reused = f" ({o.reused} reused)" if o.reused else ""
    return (
        f"[{o.name}] {o.tasks} parts{reused}: {s.get('docs_in', 0):,} docs in, "
        f"{s.get('docs_out', 0):,} out{dropped}; {o.wall_s:.1f} s"
    )


def build_report(
    spec: PipelineSpec, run_dir: Path, executor: str, outcomes: list[StageOutcome], wall_s: float
) -> dict:
    """The run's facts and each stage's counts, as report.json holds them."""
    stages = []
    for o in outcomes:
        s = o.stats
        task_s = s.get("task_s", 0.0)
        stages.append(
            {
                "name": o.name,
                "kind": o.kind,
                "tasks": o.tasks,
                "reused": o.reused,
                "docs_in": s.get("docs_in", 0),
                "docs_out": s.get("docs_out", 0),
                "docs_rejected": s.get("docs_rejected", 0),
                "bytes_in": s.get("bytes_in", 0),
                "bytes_out": s.get("bytes_out", 0),
                "rejected": dict(sorted(s.get("rejected", {}).items())),
                "counters": s.get("counters", {}),
                "wall_s": round(o.wall_s, 3),
                "task_s": round(task_s, 3),
                "docs_per_task_s": round(s.get("docs_in", 0) / task_s, 1) if task_s else None,
                "peak_task_rss_mb": s.get("peak_rss_mb"),  # the largest of one task's peaks
            }
        )
        if s.get("peak_rss_mb_by_phase"):  # a stage run in phases: each phase's
            stages[-1]["peak_task_rss_mb_by_phase"] = s["peak_rss_mb_by_phase"]
        if s.get("top_spans"):  # sub-document dedup: its most repeated spans
            stages[-1]["top_spans"] = s["top_spans"]
    return {
        "pipeline": spec.name,
        "config": str(spec.path),
        "run_dir": storage.show(run_dir),
        "executor": executor,
        "versions": _versions(),
        "wall_s": round(wall_s, 3),
        "stages": stages,
    }


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in ("corpus", "pyarrow", "ray", "zstandard", "trafilatura", "warcio"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def run_status(run_dir: Path) -> list[dict]:
    """Each stage's committed parts out of its planned parts, from the run's records alone."""
    record_path = run_dir / "_state" / PIPELINE_RECORD
    if not storage.is_file(record_path):
        raise ConfigError(
            f"{storage.show(run_dir)}: not a run folder (no _state/{PIPELINE_RECORD})"
        )
    pipeline = json.loads(storage.read_text(record_path))
    rows = []
    for stage in pipeline["stages"]:
        state_dir = run_dir / "_state" / stage["name"]
        row = {"stage": stage["name"], "type": stage["type"], "done": 0, "total": None}
        try:
            plan = json.loads(storage.read_text(state_dir / PLAN_RECORD))
        except (FileNotFoundError, json.JSONDecodeError):
            rows.append({**row, "state": "not started"})
            continue
        done = 0
        for key, fingerprint in plan["tasks"].items():
            rec = load_record(state_dir, key)
            if (
                rec
                and rec["config_hash"] == plan["config_hash"]
                and rec["fingerprint"] == fingerprint
            ):
                done += 1
        complete = storage.is_file(state_dir / STAGE_RECORD)
        if complete:
            done = len(plan["tasks"])  # a whole-dataset stage keeps no record per part
        else:  # or writes them only in its last phase
            done = done or sum(
                n.endswith(".json") for n in storage.listdir(state_dir / WORK / "final")
            )
        state = "done" if complete else ("partial" if done else "started")
        rows.append({**row, "done": done, "total": len(plan["tasks"]), "state": state})
    return rows
