"""Run one stage over its tasks, exactly once (DESIGN §4).

A task writes each output part under a temporary name, renames it into place, then writes its
commit record (config hash, input fingerprint, output parts with checksums, stats). A re-run
reuses a task whose record matches the config hash and the input and whose outputs still match
their checksums, and redoes the rest. A stage publishes its datasets (the manifests) only when
every task is committed, so the next stage never sees a partial stage.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from corpus import storage
from corpus.checksums import check_file, committed, sha256_file, stamp
from corpus.dataset import (
    MANIFEST_NAME,
    Dataset,
    PartInfo,
    read_part_file,
    write_json_atomic,
    write_manifest,
    write_part,
)
from corpus.process import peak_rss_mb, release_memory, reset_peak_rss
from corpus.schema import conform
from corpus.stage import StageResult, add_counters, result_stats, text_bytes
from pipelines.inputs import InputFile, input_bytes, input_names, input_stat
from pipelines.params import parse_params
from pipelines.phases import PROFILED, PhaseDriver, output_parts
from pipelines.profile import merge, profile_part
from pipelines.progress import Progress
from pipelines.stages import (
    FilesStage,
    GlobalStage,
    MapStage,
    Phased,
    SinkStage,
    SourceStage,
    Stage,
    stage_class,
)

STAGE_RECORD = "_stage.json"  # written when every task is committed and outputs are published
PLAN_RECORD = "_plan.json"  # the tasks of the stage's current run, for `corpus status`


@dataclass(frozen=True)
class StageJob:
    """Everything a task needs to do its share of one stage; small, so it travels to workers."""

    name: str  # the stage's name in its pipeline, used in messages
    stage_type: str
    params: dict
    config_hash: str
    out_dir: str  # a sink's output folder
    kept_dir: str
    rejected_dir: str
    state_dir: str

    def build(self) -> Stage:
        cls = stage_class(self.stage_type)
        return cls(parse_params(cls.Params, self.params, f"stage {self.name}"))

    @property
    def fragments_dir(self) -> Path:
        return Path(self.state_dir) / "fragments"


@dataclass(frozen=True)
class Task:
    """One unit of work: one input file (sources) or one input part (maps and sinks)."""

    key: str  # names the commit record and the outputs' stem
    input_path: str
    fingerprint: str  # a part's sha256, or a file's path, name, size and mtime
    inputs: tuple[InputFile, ...] = ()  # a source's files, read together


@dataclass
class StageOutcome:
    """What a stage did in this run: its tasks' merged stats, and how many were reused."""

    name: str
    kind: str
    tasks: int
    reused: int
    wall_s: float
    stats: dict = field(default_factory=dict)


def config_hash(stage_type: str, version: int, params: dict, upstream: str) -> str:
    """A hash of what determines a stage's output, chained to the stage before it: its type and
    parameters, and the content of files its parameters name (models, word lists)."""
    cls = stage_class(stage_type)
    hashed = {k: v for k, v in params.items() if k not in cls.unhashed}
    doc = {"type": stage_type, "version": version, "params": hashed, "upstream": upstream}
    files = cls.fingerprint_files(params)
    if files:
        doc["files"] = {str(p): sha256_file(p) for p in files}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def source_tasks(
    stage: SourceStage, files: list[Path] | None = None, cache_dir: Path | None = None
) -> list[Task]:
    """One task per group of input files (most often one file): the stage's own `paths`, or
    `files` another stage wrote. Each file is named in ids by its path relative to the rest.
    A file the stage can split (`split_bytes`) is read as line-aligned byte ranges, one task
    each; `cache_dir` keeps where the ranges start, so a re-run does not scan the file again."""
    paths = stage.input_files() if files is None else files
    root = stage.input_root() if files is None else None
    inputs = []
    for p, n in zip(paths, input_names(paths, root), strict=True):
        every = stage.split_bytes(p)
        one = InputFile(p, n)
        inputs += stage.ranges(one, every, cache_dir) if every else [one]
    tasks = []
    for i, group in enumerate(stage.group_inputs(inputs)):
        prints = []
        for one in group:
            size, mtime_ns = input_stat(one.path)
            span = "" if one.whole else f"|{one.start}-{one.end if one.end is not None else ''}"
            prints.append(f"{one.path}|{one.name}|{size}|{mtime_ns}{span}")
        tasks.append(
            Task(
                key=f"part-{i:05d}",
                input_path=str(group[0].path),
                fingerprint="+".join(prints),
                inputs=tuple(group),
            )
        )
    return tasks


def part_tasks(dataset: Dataset, prefix: str = "") -> list[Task]:
    """One task per part; `prefix` keeps keys apart when a stage reads several datasets."""
    return [
        Task(
            key=prefix + p.name.removesuffix(".parquet"),
            input_path=str(storage.absolute(dataset.path) / p.name),  # workers run elsewhere
            fingerprint=p.sha256,
        )
        for p in dataset.parts
    ]


# --- one task, run by a worker -------------------------------------------------------------


def execute_task(job: StageJob, task: Task) -> dict:
    """Do one task of `job` and commit it; returns its commit record."""
    start = time.perf_counter()
    reset_peak_rss()
    stage = job.build()
    if isinstance(stage, SourceStage):
        outputs = _read_source(job, stage, task)
    elif isinstance(stage, MapStage):
        outputs = _map_part(job, stage, task)
    else:
        outputs = _sink_part(job, stage, task)
    record = {"task": task.key, "config_hash": job.config_hash, "fingerprint": task.fingerprint}
    record.update(outputs)
    record["stats"]["task_s"] = round(time.perf_counter() - start, 6)
    peak = peak_rss_mb()
    if peak is not None:
        record["stats"]["peak_rss_mb"] = peak
    release_memory()
    write_json_atomic(Path(job.state_dir) / f"{task.key}.json", record)  # last: the commit
    return record


def _read_source(job: StageJob, stage: SourceStage, task: Task) -> dict:
    kept, rejected = [], []
    stats = {"counters": {"input_file_bytes": input_bytes(task.inputs)}}
    profiles: dict = {}
    with stage.reading(task.key, task.inputs, Path(job.state_dir)) as inputs:
        for i, result in enumerate(stage.read_group(inputs)):
            _write_result(job, stage, result, f"{task.key}-{i:04d}", kept, rejected, profiles)
            add_counters(stats, result_stats(result, None))
            del result  # written: the reader's next part is not made beside it
    return {"kept": kept, "rejected": rejected, "stats": stats, "profiles": profiles}


def _map_part(job: StageJob, stage: MapStage, task: Task) -> dict:
    table = read_part_file(task.input_path, task.fingerprint)
    result = stage.process(table)
    kept, rejected, profiles = [], [], {}
    _write_result(job, stage, result, task.key, kept, rejected, profiles)
    stats = result_stats(result, table)
    return {"kept": kept, "rejected": rejected, "stats": stats, "profiles": profiles}


def _sink_part(job: StageJob, stage: SinkStage, task: Task) -> dict:
    table = read_part_file(task.input_path, task.fingerprint)
    storage.makedirs(job.fragments_dir)
    fragment = job.fragments_dir / f"{task.key}.fragment"
    tmp = storage.staging_path(fragment)
    stage.fragment(table, tmp)
    digest = sha256_file(tmp)
    storage.upload(tmp, fragment)
    n, b = table.num_rows, text_bytes(table)
    return {
        "fragment": committed(fragment, digest, {"name": fragment.name}),
        "stats": {"docs_in": n, "bytes_in": b, "docs_out": n, "bytes_out": b},
    }


def _write_result(
    job: StageJob,
    stage: Stage,
    result: StageResult,
    stem: str,
    kept: list,
    rejected: list,
    profiles: dict,
) -> None:
    """Write a result's parts, list them in `kept` and `rejected`, and merge their profiles
    into `profiles`."""
    rules = type(stage).rules(stage.params)
    for name, table, listed, directory in (
        ("kept", conform(result.kept), kept, job.kept_dir),
        ("rejected", result.rejected, rejected, job.rejected_dir),
    ):
        if table.num_rows:
            info = write_part(table, directory, stem)
            listed.append({**info.to_json(), **stamp(Path(directory) / info.name)})
            profile = profile_part(table, name, stem, rules)
            profiles[name] = merge(profiles.get(name), profile)


# --- the stage, run by the driver -----------------------------------------------------------


def reusable(job: StageJob, task: Task, record: dict | None, base: dict[str, Path]) -> str | None:
    """None if `record` commits `task` under this config with intact outputs, else why not."""
    if record is None:
        return "not done"
    if record.get("config_hash") != job.config_hash:
        return "config changed"
    if record.get("fingerprint") != task.fingerprint:
        return "input changed"
    outputs = [(base[kind], part) for kind in ("kept", "rejected") for part in record.get(kind, [])]
    if record.get("fragment"):
        outputs.append((base["fragment"], record["fragment"]))
    for directory, entry in outputs:
        problem = check_file(directory / entry["name"], entry)
        if problem:
            return f"output {storage.show(directory / entry['name'])} {problem}"
    return None


def load_record(state_dir: Path, key: str) -> dict | None:
    try:
        return json.loads(storage.read_text(state_dir / f"{key}.json"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def run_stage(
    job: StageJob,
    tasks: list[Task],
    executor,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> StageOutcome:
    """Run the tasks of `job` that are not already committed, then publish the stage."""
    start = time.perf_counter()
    stage = job.build()
    if isinstance(stage, GlobalStage) or (isinstance(stage, SourceStage) and stage.phased(tasks)):
        return run_global(job, stage, tasks, executor, log, start)
    if isinstance(stage, FilesStage):
        return run_files(job, stage, executor, log, start)
    state_dir = Path(job.state_dir)
    base = {"kept": Path(job.kept_dir), "rejected": Path(job.rejected_dir)}
    base["fragment"] = job.fragments_dir
    storage.makedirs(state_dir)
    if not isinstance(stage, SinkStage):
        storage.makedirs(base["kept"])
        storage.makedirs(base["rejected"])

    if isinstance(stage, SinkStage) and _stage_complete(job, tasks):
        records = {t.key: load_record(state_dir, t.key) for t in tasks}
        return _outcome(job, stage, records, len(tasks), start)

    records, pending = {}, []
    profiles = Profiles()
    for task in tasks:
        record = load_record(state_dir, task.key)
        problem = reusable(job, task, record, base)
        if problem is None:
            records[task.key] = profiles.take(record)
        else:
            if problem.startswith("output"):
                log(f"[{job.name}] {task.key}: {problem}; redoing it")
            pending.append(task)
    reused = len(records)
    if pending:
        _unpublish(job)
        write_json_atomic(state_dir / PLAN_RECORD, _plan(job, tasks))
    if progress:
        progress.begin(len(tasks), reused)
    for record in executor.map_unordered(execute_task, [(job, t) for t in pending]):
        records[record["task"]] = profiles.take(record)
        if progress:
            progress(record)
    if progress:
        progress.close()
    _publish(job, stage, tasks, records, profiles.merged())
    return _outcome(job, stage, records, reused, start)


def _stage_complete(job: StageJob, tasks: list[Task], extra: dict | None = None) -> dict | None:
    """The stage record if it matches these tasks and config and its output files hold.

    A finished sink deletes its fragments and a finished whole-dataset stage its intermediate
    files, so their tasks cannot be checked one by one as the parts of a map or source stage are
    (which the loop in `run_stage` does, once per part).
    """
    try:
        done = json.loads(storage.read_text(Path(job.state_dir) / STAGE_RECORD))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if done.get("config_hash") != job.config_hash:
        return None
    if done.get("tasks") != {t.key: t.fingerprint for t in tasks}:
        return None
    if done.get("extra_inputs", {}) != (extra or {}):
        return None
    intact = all(check_file(o["path"], o) is None for o in done.get("outputs", []))
    return done if intact else None


def _unpublish(job: StageJob, extra_dirs: tuple[str, ...] = ()) -> None:
    """Withdraw the stage's published outputs before any of its parts change."""
    storage.unlink(Path(job.state_dir) / STAGE_RECORD)
    for d in (job.kept_dir, job.rejected_dir, *extra_dirs):
        storage.unlink(Path(d) / MANIFEST_NAME)


def run_global(
    job: StageJob, stage: Phased, tasks: list[Task], executor, log, start: float
) -> StageOutcome:
    """Run a stage in phases (a whole-dataset stage, or a source that shuffles), then publish
    its output datasets."""
    extra = stage.extra_inputs(tasks)
    done = _stage_complete(job, tasks, extra)
    if done is not None:
        return StageOutcome(job.name, stage.kind, len(tasks), len(tasks), 0.0, done["stats"])
    dirs = {
        name: Path(getattr(job, f"{name}_dir", None) or Path(job.out_dir) / name)
        for name in stage.output_datasets
    }
    _unpublish(job, tuple(str(d) for d in dirs.values()))
    stage.unpublish(Path(job.out_dir))
    driver = PhaseDriver(job, executor, log)
    plan = _plan(job, tasks)
    driver.prepare({"tasks": plan["tasks"], "extra_inputs": extra})
    write_json_atomic(Path(job.state_dir) / PLAN_RECORD, plan)
    final, stats = stage.drive(driver, tasks)
    if driver.peaks:
        stats["peak_rss_mb"] = max(driver.peaks.values())
        stats["peak_rss_mb_by_phase"] = driver.peaks
    outputs = []
    for name, directory in dirs.items():
        storage.makedirs(directory)
        parts = output_parts(final, name)
        _remove_stale(directory, {p.name for p in parts})
        write_manifest(directory, parts)
        outputs += [output_entry(directory / p.name, p.sha256) for p in parts]
    known = {Path(f["dir"]) / f["name"]: f["sha256"] for r in final for f in r["files"]}
    for path in stage.publish(final, Path(job.out_dir)):
        outputs.append(output_entry(path, known.get(Path(path))))
    reused = sum(1 for r in final if r.get("reused"))
    profiles = {name: driver.profiles.get(name) for name in dirs if name in PROFILED}
    record = {**plan, "extra_inputs": extra, "outputs": outputs, "stats": stats}
    record["profiles"] = profiles
    write_json_atomic(Path(job.state_dir) / STAGE_RECORD, record)
    driver.cleanup()
    _remove_records(Path(job.state_dir), {STAGE_RECORD, PLAN_RECORD})
    return StageOutcome(
        job.name, stage.kind, len(tasks), reused, time.perf_counter() - start, stats
    )


def run_files(job: StageJob, stage: FilesStage, executor, log, start: float) -> StageOutcome:
    """Run a stage that writes files (a crawl): reused whole while its record and files hold;
    otherwise it resumes its own work, after clearing what another config left."""
    state_dir = Path(job.state_dir)
    done = _stage_complete(job, [])
    if done is not None:
        return StageOutcome(job.name, stage.kind, 1, 1, 0.0, done["stats"])
    storage.unlink(state_dir / STAGE_RECORD)
    earlier = load_record(state_dir, PLAN_RECORD.removesuffix(".json"))
    if earlier is not None and earlier.get("config_hash") != job.config_hash:
        log(f"[{job.name}] the config changed: starting over")
        stage.reset(Path(job.out_dir))
    plan = _plan(job, [])
    storage.makedirs(state_dir)
    write_json_atomic(state_dir / PLAN_RECORD, plan)
    files, stats = stage.make(Path(job.out_dir), executor, log)
    outputs = [output_entry(p) for p in files]
    write_json_atomic(state_dir / STAGE_RECORD, {**plan, "outputs": outputs, "stats": stats})
    return StageOutcome(job.name, stage.kind, 1, 0, time.perf_counter() - start, stats)


def stage_files(state_dir: Path) -> list[Path]:
    """The files a finished files stage wrote, from its stage record."""
    done = json.loads(storage.read_text(state_dir / STAGE_RECORD))
    return [Path(o["path"]) for o in done["outputs"]]


class Profiles:
    """The profiles of a stage's kept and rejected parts, merged as its tasks' records come in
    (a record keeps none of it, so the driver holds one merged profile, not one per task)."""

    def __init__(self):
        self.total: dict[str, dict | None] = {"kept": None, "rejected": None}
        self.complete = True

    def take(self, record: dict) -> dict:
        found = record.pop("profiles", None)
        if found is None:  # committed by a version that made no profiles
            self.complete = False
        else:
            for kind in self.total:
                self.total[kind] = merge(self.total[kind], found.get(kind))
        return record

    def merged(self) -> dict | None:
        """The stage's profiles, or None when a task made none (the report reads the parts)."""
        return self.total if self.complete else None


def _publish(
    job: StageJob, stage: Stage, tasks: list[Task], records: dict[str, dict], profiles
) -> None:
    """Write the manifests (or a sink's outputs), drop stale files, and record the stage done."""
    state_dir = Path(job.state_dir)
    keep_names = {f"{t.key}.json" for t in tasks} | {STAGE_RECORD, PLAN_RECORD}
    outputs = []
    if isinstance(stage, SinkStage):
        fragments = [job.fragments_dir / records[t.key]["fragment"]["name"] for t in tasks]
        digests = stage.finish(fragments, Path(job.out_dir)) or {}
        outputs = [output_entry(p, digests.get(p)) for p in stage.outputs(Path(job.out_dir))]
        storage.rmtree(job.fragments_dir)
    else:
        for kind, directory in (("kept", job.kept_dir), ("rejected", job.rejected_dir)):
            parts = [PartInfo.from_json(p) for t in tasks for p in records[t.key][kind]]
            _remove_stale(Path(directory), {p.name for p in parts})
            write_manifest(directory, parts)
    _remove_records(state_dir, keep_names)
    write_json_atomic(state_dir / PLAN_RECORD, _plan(job, tasks))
    record = {**_plan(job, tasks), "outputs": outputs}
    if not isinstance(stage, SinkStage):
        record["profiles"] = profiles
    write_json_atomic(state_dir / STAGE_RECORD, record)


def _remove_records(state_dir: Path, keep: set[str]) -> None:
    """Remove the commit records of tasks that are not in this run."""
    for name in storage.listdir(state_dir):
        if name.endswith(".json") and name not in keep:
            storage.unlink(state_dir / name)


def _plan(job: StageJob, tasks: list[Task]) -> dict:
    return {
        "stage": job.name,
        "type": job.stage_type,
        "config_hash": job.config_hash,
        "tasks": {t.key: t.fingerprint for t in tasks},
    }


def output_entry(path: Path, sha256: str | None = None) -> dict:
    """A stage record's line for an output file: path, checksum, size and time."""
    return committed(path, sha256 or sha256_file(path), {"path": str(path)})


def _remove_stale(directory: Path, keep: set[str]) -> None:
    """Remove parts no task of this run committed, and temporary files of killed tasks."""
    for name in storage.listdir(directory):
        ours = name.startswith(".") or name.endswith(".parquet")
        if ours and name not in keep and storage.is_file(directory / name):
            storage.unlink(directory / name)


def _outcome(job: StageJob, stage: Stage, records: dict, reused: int, start: float) -> StageOutcome:
    stats: dict = {}
    for key in sorted(records):
        add_counters(stats, records[key].get("stats", {}))
    return StageOutcome(
        name=job.name,
        kind=stage.kind,
        tasks=len(records),
        reused=reused,
        wall_s=time.perf_counter() - start,
        stats=stats,
    )
