"""Ray scaling: one CPU-bound stage over the same parts with `local` (1 worker) and `ray` on 1 and
2 workers, side by side in one run. Prints Ray's overhead on one worker and its speedup on two.

Goal (issue 2): overhead <= 10% on one worker, speedup >= 1.8x on two.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from bench.common import time_stage
from corpus.dataset import Dataset, write_manifest, write_part
from corpus.schema import DOCUMENT_SCHEMA, conform
from corpus.sources.jsonl import read_jsonl
from corpus.stage import text_bytes
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.length_stage import LengthFilter
from pipelines.runner import part_tasks
from samples.pydoc_jsonl import write_pydoc_sample
from samples.shared_data import SHARED_DATA as SHARED


def real_texts(work: Path) -> list[str]:
    """Real documents: Python's help topics, plus the Dolma sample when ../shared is there."""
    texts = []
    for path in write_pydoc_sample(work / "sample"):
        texts += [t for r in read_jsonl(path) for t in r.kept.column("text").to_pylist()]
    dolma = SHARED / "warc" / "dolma_cc_en_head-0091.jsonl.gz"
    if dolma.exists():
        with gzip.open(dolma) as f:
            texts += [json.loads(line)["text"] for line in f]
    return texts


def make_dataset(out: Path, texts: list[str], parts: int, docs_per_part: int) -> Dataset:
    out.mkdir(parents=True)
    written = []
    for p in range(parts):
        rows = [
            {"id": f"{p}-{i}", "text": texts[(p * docs_per_part + i) % len(texts)], "source": "web"}
            for i in range(docs_per_part)
        ]
        table = conform(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA))
        written.append(write_part(table, out, f"part-{p:05d}"))
    write_manifest(out, written)
    return Dataset(out)


def time_filter(dataset: Dataset, executor, out: Path) -> float:
    """Seconds the length filter (at least 50 words) takes over `dataset`."""
    return time_stage(LengthFilter, {"min_words": 50}, part_tasks(dataset), executor, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parts", type=int, default=24)
    ap.add_argument("--docs-per-part", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        work = Path(tmp)
        dataset = make_dataset(work / "in", real_texts(work), args.parts, args.docs_per_part)
        mb = sum(text_bytes(t) for t in dataset.tables(["text"])) / 1e6
        print(f"executors: {args.parts} parts, {dataset.num_rows:,} docs, {mb:.0f} MB of text")
        t0 = time.perf_counter()
        ray_exec = RayExecutor(workers=2)
        startup = time.perf_counter() - t0
        time_filter(dataset, ray_exec, work / "warm")  # workers started, modules imported
        local_1, ray_1, ray_2 = [], [], []
        for _ in range(args.repeats):  # interleaved, so drift in the machine hits all alike
            local_1.append(time_filter(dataset, LocalExecutor(), work / "out"))
            ray_exec.workers = 1
            ray_1.append(time_filter(dataset, ray_exec, work / "out"))
            ray_exec.workers = 2
            ray_2.append(time_filter(dataset, ray_exec, work / "out"))
        ray_exec.close()
    local, one, two = min(local_1), min(ray_1), min(ray_2)
    docs = dataset.num_rows
    print(f"  local, 1 worker : {local:6.2f} s  {docs / local:10,.0f} docs/s")
    print(f"  ray,   1 worker : {one:6.2f} s  {docs / one:10,.0f} docs/s")
    print(f"  ray,   2 workers: {two:6.2f} s  {docs / two:10,.0f} docs/s")
    print(f"  ray overhead on 1 worker: {one / local - 1:+.1%}   (goal <= +10%)")
    print(f"  speedup on 2 workers vs local: {local / two:.2f}x   (goal >= 1.8x)")
    print(f"  speedup on 2 workers vs ray on 1: {one / two:.2f}x")
    print(f"  ray start-up (once per run, not in the figures above): {startup:.1f} s")


if __name__ == "__main__":
    main()
