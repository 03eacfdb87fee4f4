"""Whole-dataset stages (dedup): a driver runs phases of tasks, each committed exactly once.

A map or source stage is one task per part. A stage that must see the whole dataset (dedup: a
shuffle by band key, connected components, one representative per cluster) is instead a driver
that runs a sequence of phases on the executor, each a list of tasks. A task reads files committed
by earlier tasks (checked against their SHA-256), writes its outputs atomically, each named by a
destination (a shuffle partition, an input part, or an output dataset), and commits a record.
A re-run reuses every task whose record matches its inputs and whose outputs are intact, so a
killed dedup resumes where it stopped; the intermediate files go once the stage is published.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpus import storage
from corpus.checksums import check_file, committed, sha256_file, stamp
from corpus.dataset import (
    PARQUET_OPTIONS,
    PartInfo,
    read_part_file,
    write_json_atomic,
    write_part,
)
from corpus.errors import CorruptPartError, DatasetError
from corpus.process import peak_rss_mb, release_memory, reset_peak_rss
from pipelines.profile import merge, profile_part
from pipelines.progress import Progress

WORK = "work"  # under the stage's state folder
WORK_FORMAT = 6  # of commit records and payloads; a work folder of another format is redone
PROFILED = ("kept", "rejected", "clusters")  # output datasets whose parts carry a profile
GROUPS_KEY = "corpus.groups"  # a split file's footer: destination -> [first row group, count]
GROUP_ROWS = 1 << 19  # rows of a row group of a split file
NOT_READ = ("dest", "mtime_ns", "durable", "profile")  # of a file entry: not for its readers
SPLIT_OPTIONS = {
    "compression": PARQUET_OPTIONS["compression"],
    "compression_level": 1,
    "write_page_checksum": True,
    "write_statistics": False,  # a footer a reducer reads whole: no column statistics in it
}


class Dest(NamedTuple):
    """Where a task's output goes: a named destination (`Dest("kept")`, `Dest("tokens")`) or one
    of a numbered family (shuffle partition 3 is `Dest("p", 3)`); its str form names the file."""

    kind: str
    index: int | None = None

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}{self.index}"


@dataclass(frozen=True)
class InputPart:
    """An input part of the stage as a task reads it: its file and the checksum it must have."""

    path: str
    sha256: str


def input_parts(tasks: list) -> list[InputPart]:
    """The stage's input parts, from its part tasks."""
    return [InputPart(t.input_path, t.fingerprint) for t in tasks]


@dataclass(frozen=True)
class ShuffleInput:
    """One destination's rows of a shuffle: group `group` of each of the map tasks' split files
    of one kind (`PhaseOutput.write_split`). Every reducer of a phase shares the one list of
    files, so the driver holds O(tasks + partitions), not a file per (task, partition)."""

    files: list[dict]
    group: int


@dataclass(frozen=True)
class PhaseTask:
    """One task of a phase: a key unique in its phase and a payload, a dataclass of its inputs
    (JSON-able once `dataclasses.asdict` has made it plain)."""

    phase: str
    key: str
    payload: Any

    def fingerprint(self, config_hash: str) -> str:
        payload = dataclasses.asdict(self.payload)
        doc = {"config": config_hash, "phase": self.phase, "payload": payload}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class PhaseOutput:
    """Where a task writes: files under its phase's folder, or parts of the output datasets."""

    def __init__(self, job, task: PhaseTask, stage):
        self.job = job
        self.task = task
        self.stage = stage
        self.datasets = stage.output_datasets  # destinations that are published datasets
        self.files: list[dict] = []

    def phase_dir(self) -> Path:
        return Path(self.job.state_dir) / WORK / self.task.phase

    def output_dir(self, name: str) -> Path:
        if name == "kept":
            return Path(self.job.kept_dir)
        if name == "rejected":
            return Path(self.job.rejected_dir)
        return Path(self.job.out_dir) / name

    def write(
        self, dest: Dest, table: pa.Table, texts=None, counted=None, stem: str | None = None
    ) -> None:
        """Commit `table` for `dest`: a part of an output dataset (skipped when empty) or an
        intermediate file of this phase (written even when empty). A part of `kept`, `rejected`
        or `clusters` is committed with its profile (a clusters part takes its rows' `texts`,
        and `counted`: `profile_part`). A part is named after the task, or `stem` for a task
        that writes several."""
        dataset = dest.index is None and dest.kind in self.datasets
        if dataset:
            directory, stem = self.output_dir(dest.kind), stem or self.task.key
            if table.num_rows == 0:
                return
        else:
            directory, stem = self.phase_dir(), f"{self.task.key}.{dest}"
        storage.makedirs(directory)
        info = write_part(table, directory, stem, scratch=not dataset)
        entry = {"dest": list(dest), "dir": str(directory), **info.to_json()}
        entry.update(stamp(directory / info.name))
        if not dataset:
            entry["durable"] = False  # not flushed: hashed before it is reused
        if dataset and dest.kind in PROFILED:
            rules = type(self.stage).rules(self.stage.params)
            entry["profile"] = profile_part(table, dest.kind, stem, rules, texts, counted)
        self.files.append(entry)

    def write_split(self, kind: str, table: pa.Table, target: np.ndarray) -> None:
        """Commit the rows of `table` for destinations `Dest(kind, target[i])`, in row order, as
        one file: a row group per destination, found through an index in its footer, so a
        reducer reads its own rows' byte range only. Its pages carry checksums, checked as
        they are read. Written even when empty."""
        order = np.argsort(target, kind="stable")
        schema = table.schema.with_metadata(None)

        def rows(start: int, end: int) -> pa.Table:
            return table.take(pa.array(order[start:end]))

        self.write_sorted_split(kind, schema, target[order], rows)

    def write_sorted_split(
        self,
        kind: str,
        schema: pa.Schema,
        sorted_target: np.ndarray,
        rows: Callable[[int, int], pa.Table],
        group_rows: int | None = None,
    ) -> None:
        """`write_split` for rows made on demand: row i goes to `Dest(kind, sorted_target[i])`
        (sorted), and `rows(start, end)` makes rows start..end, one row group of at most
        `group_rows` (default `GROUP_ROWS`) at a time, written to disk at once. A task that
        builds its rows (pairs with their signatures) holds one row group of them, not the
        file."""
        n, group_rows = len(sorted_target), group_rows or GROUP_ROWS
        starts = np.flatnonzero(np.concatenate(([True], sorted_target[1:] != sorted_target[:-1])))
        starts = starts if n else starts[:0]
        ends = np.append(starts[1:], n) if n else starts
        directory = self.phase_dir()
        storage.makedirs(directory)
        path = directory / f"{self.task.key}.{kind}.parquet"
        tmp = storage.staging_path(path)
        groups, written = {}, 0
        with pq.ParquetWriter(str(tmp), schema, **SPLIT_OPTIONS) as writer:
            for s, e in zip(starts, ends, strict=True):
                chunks = range(s, e, group_rows)  # a destination's rows: one or more row groups
                groups[str(int(sorted_target[s]))] = [written, len(chunks)]
                for c in chunks:
                    table = rows(c, min(c + group_rows, e)).combine_chunks()
                    writer.write_table(table, row_group_size=group_rows)
                written += len(chunks)
            writer.add_key_value_metadata({GROUPS_KEY: json.dumps(groups)})
        digest = sha256_file(tmp)
        storage.upload(tmp, path)
        where = {"dest": [kind, None], "dir": str(directory), "name": path.name, "durable": False}
        self.files.append(committed(path, digest, {**where, "rows": n}))

    def scratch_path(self, dest: Dest, suffix: str) -> Path:
        """A local path to write an intermediate file of `dest` that is not a table (raw
        tokens) to; commit it with `commit_file` once it is written. In a local run it is the
        file's place in the phase's folder (the writer renames it there); in a run on an object
        store, a file in this node's cache, put on the store by `commit_file`."""
        path = storage.local_path(self.phase_dir() / f"{self.task.key}.{dest}{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit_file(self, dest: Dest, path: Path, **facts) -> None:
        """Record a file this task wrote completely at `scratch_path`: its checksum is checked
        before the task is reused, and `facts` travel with it to the tasks that read it."""
        path = Path(path)
        digest = sha256_file(path)
        target = storage.location_of(path)  # the file's place on the store, for a cached copy
        if storage.is_remote(target):
            storage.upload(path, target)
        where = {"dest": list(dest), "dir": str(target.parent), "name": path.name, **facts}
        where["durable"] = False  # written without a flush: hashed before it is reused
        self.files.append(committed(target, digest, where))


def read_files(
    files: list[dict] | ShuffleInput, columns: list[str] | None = None
) -> pa.Table | None:
    """The committed files `files` (as `files_by_dest` lists them), or one destination's rows
    of a shuffle, as one table; None if there are none."""
    if isinstance(files, ShuffleInput):
        tables = [read_group(f, files.group, columns) for f in files.files]
        tables = [t for t in tables if t is not None and t.num_rows]
        return pa.concat_tables(tables).combine_chunks() if tables else None
    tables = [read_part_file(Path(f["dir"]) / f["name"], f["sha256"], columns) for f in files]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables).combine_chunks()


def shuffle_batches(files: ShuffleInput, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """One destination's rows of a shuffle, a row group at a time, in `read_files`' order: a
    reducer whose rows are wide (pairs with signatures) holds one row group of them."""
    for f in files.files:
        path = Path(f["dir"]) / f["name"]
        with _shuffle_file(path) as parquet:
            found = json.loads(parquet.metadata.metadata[GROUPS_KEY.encode()]).get(str(files.group))
            for i in range(found[0], found[0] + found[1]) if found else ():
                yield parquet.read_row_group(i, columns=columns)


@contextmanager
def _shuffle_file(path: Path) -> Iterator[pq.ParquetFile]:
    """A split file opened to read its footer and row groups, whose pages are checked against
    their checksums; a missing or damaged one is a one-line error naming it."""
    try:
        with storage.open_input(path) as source:
            yield pq.ParquetFile(source, page_checksum_verification=True)
    except FileNotFoundError:
        raise DatasetError(f"{storage.show(path)}: shuffle file is missing") from None
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        raise CorruptPartError(f"{storage.show(path)}: damaged shuffle file ({exc})") from None


def read_group(f: dict, group: int, columns: list[str] | None = None) -> pa.Table | None:
    """Destination `group`'s rows of split file `f`, or None if it holds none: the footer, then
    that row group's pages, each checked against its checksum."""
    with _shuffle_file(Path(f["dir"]) / f["name"]) as parquet:
        found = json.loads(parquet.metadata.metadata[GROUPS_KEY.encode()]).get(str(group))
        if found is None:
            return None
        first, count = found
        return parquet.read_row_groups(range(first, first + count), columns=columns)


def execute_phase_task(job, task: PhaseTask) -> dict:
    """Run one task of a whole-dataset stage and commit its record; returns the record."""
    start = time.perf_counter()
    reset_peak_rss()
    stage = job.build()
    out = PhaseOutput(job, task, stage)
    storage.makedirs(out.phase_dir())
    stats = stage.run_task(task.phase, task.payload, out) or {}
    stats["task_s"] = round(time.perf_counter() - start, 6)
    peak = peak_rss_mb()
    if peak is not None:
        stats["peak_rss_mb"] = peak
    release_memory()
    record = {
        "phase": task.phase,
        "key": task.key,
        "fingerprint": task.fingerprint(job.config_hash),
        "files": out.files,
        "stats": stats,
    }
    write_json_atomic(out.phase_dir() / f"{task.key}.json", record)
    return record


class PhaseDriver:
    """Runs a whole-dataset stage's phases on an executor, reusing committed tasks."""

    def __init__(self, job, executor, log: Callable[[str], None] = print):
        self.job = job
        self.executor = executor
        self.log = log
        self.work = Path(job.state_dir) / WORK
        self.reused = 0
        self.peaks: dict[str, int] = {}  # phase -> its tasks' highest peak memory (MB)
        # output dataset -> the merged profile of its parts, taken from records as they come in
        self.profiles: dict[str, dict | None] = {}

    def prepare(self, inputs: dict) -> None:
        """Start clean unless the work folder was made for this config and these inputs."""
        meta_path = self.work / "_meta.json"
        meta = {"format": WORK_FORMAT, "config_hash": self.job.config_hash, "inputs": inputs}
        try:
            same = json.loads(storage.read_text(meta_path)) == meta
        except (FileNotFoundError, json.JSONDecodeError):
            same = False
        if not same:
            storage.rmtree(self.work)
            storage.makedirs(self.work)
            write_json_atomic(meta_path, meta)

    def run(
        self,
        phase: str,
        tasks: list[PhaseTask],
        show: bool = False,
        on_driver: bool = False,
        parallel: int = 1,
    ) -> list[dict]:
        """Run the tasks of `phase` not already committed; their records, sorted by key.
        `on_driver` runs them in this process, `parallel` at a time (tasks that start their
        own processes, such as training)."""
        records, pending = {}, []
        for task in tasks:
            record = self._load(task)
            if record is not None:
                records[task.key] = self._take_profiles(record)
            else:
                pending.append(task)
        self.reused += len(records)
        progress = Progress(f"{self.job.name} {phase}") if show else None
        if progress:
            progress.begin(len(tasks), len(records))
        with ThreadPoolExecutor(parallel if on_driver else 1) as pool:
            if on_driver and parallel > 1:  # a failed task stops those not started yet
                futures = [pool.submit(execute_phase_task, self.job, t) for t in pending]
                done = _results(futures)
            elif on_driver:
                done = (execute_phase_task(self.job, t) for t in pending)
            else:
                tasks = [(self.job, t) for t in pending]
                done = self.executor.map_unordered(execute_phase_task, tasks)
            for record in done:
                records[record["key"]] = self._take_profiles(record)
                if progress:
                    progress(record)
        if progress:
            progress.close()
        return [records[k] for k in sorted(records)]

    def run_payloads(
        self,
        phase: str,
        payloads: list,
        keys: list[str] | None = None,
        show: bool = False,
        on_driver: bool = False,
        parallel: int = 1,
    ) -> list[dict]:
        """`run` for one task per payload, keyed by `keys` (default: 000000, 000001, ...)."""
        keys = keys or [f"{i:06d}" for i in range(len(payloads))]
        tasks = [PhaseTask(phase, k, pl) for k, pl in zip(keys, payloads, strict=True)]
        return self.run(phase, tasks, show=show, on_driver=on_driver, parallel=parallel)

    def _take_profiles(self, record: dict) -> dict:
        peak = record["stats"].get("peak_rss_mb")
        if peak is not None:
            self.peaks[record["phase"]] = max(self.peaks.get(record["phase"], 0), peak)
        for f in record["files"]:
            if "profile" in f:
                dataset = Dest(*f["dest"]).kind
                self.profiles[dataset] = merge(self.profiles.get(dataset), f.pop("profile"))
        return record

    def _load(self, task: PhaseTask) -> dict | None:
        try:
            record = json.loads(storage.read_text(self.work / task.phase / f"{task.key}.json"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if record.get("fingerprint") != task.fingerprint(self.job.config_hash):
            return None
        for f in record["files"]:
            path = Path(f["dir"]) / f["name"]
            problem = check_file(path, f)
            if problem:
                self.log(f"[{self.job.name}] {storage.show(path)} {problem}; redoing it")
                return None
        record["reused"] = True
        return record

    def cleanup(self) -> None:
        storage.rmtree(self.work)
        if storage.is_remote(self.work):  # and this node's copies of its files
            shutil.rmtree(storage.local_path(self.work), ignore_errors=True)


def _results(futures: list) -> Iterator[dict]:
    """The futures' results as they finish; on a failure the ones not started are cancelled
    (those running finish before the pool's `with` lets the error through)."""
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


def shuffled(groups: dict, kind: str, group: int) -> ShuffleInput:
    """Destination `Dest(kind, group)` of a shuffle whose split files `files_by_dest` grouped."""
    return ShuffleInput(groups.get(Dest(kind), []), group)


def files_by_dest(records: list[dict]) -> defaultdict[Dest, list[dict]]:
    """The files that `records` committed, grouped by destination (one pass over the records,
    however many destinations are looked up), each group in a fixed order; a destination
    nobody wrote to has none."""
    groups: defaultdict[Dest, list[dict]] = defaultdict(list)
    for r in records:
        for f in r["files"]:
            # what a reader needs, not the stamps of this copy: a task redone to the same bytes
            # leaves the tasks that read it as they were
            groups[Dest(*f["dest"])].append({k: v for k, v in f.items() if k not in NOT_READ})
    for files in groups.values():
        files.sort(key=lambda f: (f["dir"], f["name"]))
    return groups


def output_parts(records: list[dict], dataset: str) -> list[PartInfo]:
    """The parts of output dataset `dataset` that `records` committed, in record order."""
    return [
        PartInfo(name=f["name"], rows=f["rows"], bytes=f["bytes"], sha256=f["sha256"])
        for r in records
        for f in r["files"]
        if Dest(*f["dest"]) == Dest(dataset)
    ]
