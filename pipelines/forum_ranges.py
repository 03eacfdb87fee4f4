"""A big plain Posts.xml read by several tasks: byte ranges, then a shuffle of posts by thread.

A thread's answers can sit anywhere after its question, so a range cannot make its own threads.
The stage runs in two phases instead (`Phased`):
- `read`: one task per source task. A range of a Posts.xml scans its rows, commits the ones
  that are not posts as rejections, and sends each post to the thread task of its thread id
  (one split file per range). Any other input is read whole, as a plain source task reads it.
- `threads`: one task per interval of thread ids of each split file, making its threads as one
  reader of the whole file would. The intervals start at each range's first post id, so a dump
  (sorted by id) gives each thread task about one range's posts, and the threads come out in the
  order one reader gives them.

Parts are named after the source task they stand for (`part-00003-0000` for a range's
rejections, `part-00003-t00001-0000` for the threads of the file's second interval), so the
datasets list them in the order of the inputs, as a plain source stage does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpus import storage
from corpus.compression import GZIP_MAGIC, ZSTD_MAGIC
from corpus.schema import conform
from corpus.sources.common import Batcher
from corpus.sources.stackexchange import (
    MAX_ROW_BYTES,
    POSTS_SCHEMA,
    first_post_id,
    is_posts_xml,
    range_posts,
    threads_of,
)
from corpus.stage import StageResult, add_counters, result_stats
from pipelines.inputs import InputFile, input_bytes
from pipelines.phases import Dest, ShuffleInput, files_by_dest, read_files, shuffled


def splits(path: Path, every: int) -> bool:
    """Whether `path` is a plain (uncompressed) Posts.xml larger than `every` bytes."""
    found = storage.stat(path)
    if found is None or found[0] <= every:
        return False
    with storage.open_input(path) as f:
        head = f.read(4096)
    return not head.startswith((GZIP_MAGIC, ZSTD_MAGIC)) and is_posts_xml(head)


@dataclass(frozen=True)
class ReadTask:
    """One source task: its input (path, name, start, end, first line) and fingerprint; for a
    range of a Posts.xml, the split file its posts go to and where its thread intervals start."""

    input: list
    fingerprint: str
    family: str | None = None
    bounds: list[int] | None = None


@dataclass(frozen=True)
class ThreadTask:
    """One interval of thread ids of one Posts.xml: every range's posts of it."""

    path: str
    name: str
    posts: ShuffleInput


def drive(stage, driver, tasks: list) -> tuple[list[dict], dict]:
    ranged: dict[Path, list] = {}  # a split file -> its range tasks, in file order
    for t in tasks:
        (one,) = t.inputs
        if not one.whole:
            ranged.setdefault(one.path, []).append(t)
    plans = {}  # a split file -> (its family of split files, its intervals' starts)
    for n, (path, range_tasks) in enumerate(ranged.items()):
        spans = [(t.inputs[0].start, t.inputs[0].end) for t in range_tasks]
        plans[path] = (f"posts{n}", interval_starts(path, spans))
    payloads = []
    for t in tasks:
        (one,) = t.inputs
        family, bounds = plans[one.path] if not one.whole else (None, None)
        payloads.append(ReadTask([str(one.path), *one[1:]], t.fingerprint, family, bounds))
    read = driver.run_payloads("read", payloads, keys=[t.key for t in tasks], show=True)
    groups = files_by_dest(read)
    payloads, keys = [], []
    for path, (family, bounds) in plans.items():
        first = ranged[path][0]
        for k in range(len(bounds)):
            payloads.append(
                ThreadTask(str(path), first.inputs[0].name, shuffled(groups, family, k))
            )
            keys.append(f"{first.key}-t{k:05d}")
    threads = driver.run_payloads("threads", payloads, keys=keys, show=True)
    for record in threads:  # the stage's reuse counts its source tasks, which the reads are
        record.pop("reused", None)
    stats: dict = {}
    for record in read + threads:
        add_counters(stats, record["stats"])
    return read + threads, stats


def interval_starts(path: Path, spans: list[tuple[int, int | None]]) -> list[int]:
    """The first thread id of each thread task: the first post id of each range (sorted, once
    each; a file that is not sorted by id still gives every thread to one task)."""
    found = set()
    with storage.open_input(path) as f:
        for start, end in spans:
            f.seek(start)
            first = first_post_id(f, start, end, MAX_ROW_BYTES)
            if first is not None:
                found.add(first)
    return sorted(found) or [0]


def run_task(stage, phase: str, payload, out) -> dict:
    key = out.task.key
    state_dir = Path(out.job.state_dir)
    stats: dict = {}
    written = 0

    def write(result: StageResult) -> None:
        nonlocal written
        stem = f"{key}-{written:04d}"
        out.write(Dest("kept"), conform(result.kept), stem=stem)
        out.write(Dest("rejected"), result.rejected, stem=stem)
        add_counters(stats, result_stats(result, None))
        written += 1

    p = stage.params
    if phase == "threads":
        posts = read_files(payload.posts) or POSTS_SCHEMA.empty_table()
        with stage.reading(key, [], state_dir):
            options = {"site": p.site, "min_score": p.min_score, "max_answers": p.max_answers}
            found = threads_of(
                posts,
                Path(payload.path),
                name=payload.name,
                scratch_dir=stage.scratch_dir,
                **options,
                **stage.sizes(),
            )
            for result in found:
                write(result)
        return stats
    one = InputFile(Path(payload.input[0]), *payload.input[1:])
    stats["counters"] = {"input_file_bytes": input_bytes([one])}
    if payload.family is None:
        with stage.reading(key, [one], state_dir) as inputs:
            for result in stage.read_group(inputs):
                write(result)
        return stats
    batch = Batcher(**stage.sizes())
    with storage.open_input(one.path) as f:
        f.seek(one.start)
        for found in range_posts(f, one.path, one.name, one.start, one.end, batch, MAX_ROW_BYTES):
            if isinstance(found, pa.Table):
                posts = found
            else:
                write(found)
    for result in batch.finish():
        write(result)
    out.write_split(payload.family, posts, thread_task(posts, payload.bounds))
    return stats


def thread_task(posts: pa.Table, bounds: list[int]) -> np.ndarray:
    """Which thread task each post goes to: the interval its thread id falls in (an id below
    the first interval goes to the first)."""
    threads = posts.column("thread").to_numpy()
    k = np.searchsorted(np.asarray(bounds, dtype=np.int64), threads, side="right") - 1
    return np.maximum(k, 0)
