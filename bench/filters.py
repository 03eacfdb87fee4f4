"""The filter stage, against its own parts run bare, side by side.

1. Docs/s per core of the `filter` stage on Common Crawl documents
   (../shared/data/warc/dolma_cc_en_head-0091.jsonl.gz, replicated to a few thousand, each copy
   with its own id): every rule set at its defaults, plus LDNOOBW word lists and PII. The bare
   baseline calls `run_filters` on the same table in memory; the stage adds Parquet parts,
   checksums and commit records (local executor, Ray on 1 and 2 workers). Also the cost of each
   component alone, so a user sees what a rule set costs.
2. Language ID on the first 2,000 characters vs on the whole document: speed ratio and label
   agreement, on every kind of real document in ../shared/data (web pages, news, German pages,
   books, forum threads, Reddit and Twitter threads).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from bench.common import time_stage
from corpus.dataset import Dataset, write_manifest, write_part
from corpus.schema import conform
from filters.chain import FilterConfig, run_filters
from filters.langid import LanguageParams, identify
from filters.pii import PiiParams
from filters.wordlist import ToxicWordsParams
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.filter_stage import Filter
from pipelines.runner import part_tasks
from samples.extracted_texts import extracted_texts as real_documents
from samples.shared_data import SHARED_DATA as SHARED


def dolma_table(copies: int) -> pa.Table:
    with gzip.open(SHARED / "warc" / "dolma_cc_en_head-0091.jsonl.gz") as f:
        rows = [json.loads(line) for line in f]
    ids, texts = [], []
    for c in range(copies):
        for r in rows:
            ids.append(f"{r['id']}#{c}")
            texts.append(r["text"])
    table = pa.table({"id": ids, "text": pa.array(texts, pa.large_string())})
    return conform(table.append_column("source", pa.array(["web"] * len(ids))))


def config() -> FilterConfig:
    return FilterConfig(
        toxic_words=ToxicWordsParams(lists=str(SHARED / "toxicity" / "ldnoobw")),
        pii=PiiParams(),
    )


def time_filter(dataset: Path, executor, out: Path) -> float:
    return time_stage(Filter, config(), part_tasks(Dataset(dataset)), executor, out)


def bench_stage(copies: int, parts: int, repeats: int) -> None:
    table = dolma_table(copies)
    n = table.num_rows
    mb = sum(len(t.encode()) for t in table.column("text").to_pylist()) / 1e6
    print(f"filter: {n} Common Crawl documents ({mb:.1f} MB), every rule set, word lists, PII")
    cfg = config()
    run_filters(table.slice(0, 10), cfg)  # load the models once
    bare = min(_timed(lambda: run_filters(table, cfg)) for _ in range(repeats))
    print(
        f"  bare run_filters, 1 core : {bare:6.2f} s  {n / bare:7.0f} docs/s  {mb / bare:5.2f} MB/s"
    )
    empty = dataclasses.replace(
        cfg, language=None, gopher_repetition=None, gopher_quality=None, c4=None, fineweb=None,
        toxic_words=None, pii=None,
    )  # fmt: skip
    for name in ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb",
                 "toxic_words", "pii"):  # fmt: skip
        alone = dataclasses.replace(empty, **{name: getattr(cfg, name)})
        t = min(_timed(lambda alone=alone: run_filters(table, alone)) for _ in range(repeats))
        print(f"    {name:<18} alone: {n / t:8.0f} docs/s")
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        dataset = Path(tmp) / "docs"
        dataset.mkdir()
        step = -(-n // parts)
        infos = [write_part(table.slice(i, step), dataset, f"part-{i // step:05d}")
                 for i in range(0, n, step)]  # fmt: skip
        write_manifest(dataset, infos)
        ray_exec = RayExecutor(workers=2)
        time_filter(dataset, ray_exec, Path(tmp) / "warm")
        local_1, ray_1, ray_2 = [], [], []
        for _ in range(repeats):
            local_1.append(time_filter(dataset, LocalExecutor(), Path(tmp) / "out"))
            ray_exec.workers = 1
            ray_1.append(time_filter(dataset, ray_exec, Path(tmp) / "out"))
            ray_exec.workers = 2
            ray_2.append(time_filter(dataset, ray_exec, Path(tmp) / "out"))
        ray_exec.close()
    local, one, two = map(min, (local_1, ray_1, ray_2))
    print(f"  stage, local, 1 worker : {local:6.2f} s  {n / local:7.0f} docs/s")
    print(f"  stage, ray,   1 worker : {one:6.2f} s  {n / one:7.0f} docs/s")
    print(f"  stage, ray,   2 workers: {two:6.2f} s  {n / two:7.0f} docs/s")
    print(
        f"  overhead on 1 worker vs bare: local {local / bare - 1:+.1%}, ray {one / bare - 1:+.1%}"
    )
    print(f"  speedup on 2 workers vs bare: {bare / two:.2f}x")


def bench_langid(repeats: int) -> None:
    texts = real_documents()
    long_ones = sum(len(t) > 2000 for t in texts)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    head, full = LanguageParams(max_chars=2000), LanguageParams(max_chars=None)
    identify(texts[:2], head)
    t_head = min(_timed(lambda: identify(texts, head)) for _ in range(repeats))
    t_full = min(_timed(lambda: identify(texts, full)) for _ in range(repeats))
    a, _ = identify(texts, head)
    b, _ = identify(texts, full)
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    print(f"langid: {len(texts)} real documents ({mb:.1f} MB; {long_ones} longer than 2,000 chars)")
    print(f"  first 2,000 chars: {len(texts) / t_head:8.0f} docs/s")
    print(f"  whole document   : {len(texts) / t_full:8.0f} docs/s")
    print(f"  speed ratio {t_full / t_head:.1f}x; same label on {agree}/{len(texts)} "
          f"({agree / len(texts):.1%})")  # fmt: skip
    differ = [(x, y, t[:60]) for x, y, t in zip(a, b, texts, strict=True) if x != y]
    for x, y, t in differ[:5]:
        print(f"    head {x} / whole {y}: {t!r}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--copies", type=int, default=300, help="copies of the 10 Dolma documents")
    ap.add_argument("--parts", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    args, _ = ap.parse_known_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    bench_stage(args.copies, args.parts, args.repeats)
    bench_langid(args.repeats)


if __name__ == "__main__":
    main()
