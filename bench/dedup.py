"""Dedup, against datasketch and against the truth, side by side on the same real documents.

1. Signatures: docs/s of our vectorized MinHash (shingling included) vs datasketch's MinHash fed
   one shingle at a time with `update()` and vs `MinHash.bulk`, both given the same shingles
   (the same lowercased word 5-grams, as UTF-8 bytes), 128 permutations, on ~2,400 real ~1 KB
   documents from ../shared/data (samples/shared_data.py).
2. The whole `dedup` stage (MinHash, default settings): docs/s on the local executor and on Ray
   with 1 and 2 workers, and the peak resident memory of the process tree (driver and workers,
   sampled every 20 ms); on the same documents, then on 8 times as many (each with 7 edited
   copies), where the fixed cost of the phases weighs less.
3. Quality: planted near-duplicates among real documents; pairs in one cluster vs pairs whose
   true shingle Jaccard (brute force, Python sets of word tuples) is at least 0.8.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
from datasketch import MinHash

from bench.common import time_stage
from corpus.dataset import Dataset, write_manifest, write_part
from corpus.schema import conform
from filters.dedup.minhash import signatures
from filters.text import words
from pipelines.dedup.params import DedupParams
from pipelines.dedup.stage import Dedup
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.runner import part_tasks
from samples.near_duplicates import KINDS, jaccard, planted_corpus, shingles
from samples.shared_data import real_documents


def shingle_bytes(text: str, n: int = 5) -> list[bytes]:
    tokens = [w.lower() for w in words(text)]
    if len(tokens) <= n:
        return [" ".join(tokens).encode()] if tokens else []
    return list({" ".join(tokens[i : i + n]).encode() for i in range(len(tokens) - n + 1)})


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_signatures(texts: list[str], repeats: int) -> None:
    n = len(texts)
    print(f"signatures: {n} real documents, mean {sum(map(len, texts)) / n:.0f} chars, 128 perms")
    ours = _best(lambda: signatures(texts, num_perm=128, ngram=5), repeats)
    shingled = [shingle_bytes(t) for t in texts]
    prep = _best(lambda: [shingle_bytes(t) for t in texts], repeats)

    def update():
        for sh in shingled:
            m = MinHash(num_perm=128)
            for s in sh:
                m.update(s)

    def bulk():
        MinHash.bulk(shingled, num_perm=128)

    t_update = _best(update, max(1, repeats // 2)) + prep
    t_bulk = _best(bulk, repeats) + prep
    print(f"  ours (text -> signature)        : {n / ours:8.0f} docs/s")
    for name, t in (("update() per shingle", t_update), ("MinHash.bulk", t_bulk)):
        print(f"  datasketch {name:<21}: {n / t:8.0f} docs/s  (ours {t / ours:5.1f}x faster)")
    print(f"  (datasketch timings include the same shingling, {n / prep:.0f} docs/s alone)")


class PeakRss(threading.Thread):
    """The largest summed RSS of this process and all its descendants, sampled."""

    def __init__(self, interval_s: float = 0.02):
        super().__init__(daemon=True)
        self.interval_s, self.peak = interval_s, 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()))
            time.sleep(self.interval_s)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.halt.set()
        self.join()


def tree_rss(root: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * page
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def write_docs(path: Path, docs: list[tuple[str, str]], part_rows: int) -> Path:
    path.mkdir(parents=True)
    table = conform(
        pa.table(
            {
                "id": [d[0] for d in docs],
                "text": pa.array([d[1] for d in docs], pa.large_string()),
                "source": ["web"] * len(docs),
            }
        )
    )
    parts = [
        write_part(table.slice(s, part_rows), path, f"part-{i:05d}")
        for i, s in enumerate(range(0, table.num_rows, part_rows))
    ]
    write_manifest(path, parts)
    return path


def scaled(docs: list[tuple[str, str]], copies: int) -> list[tuple[str, str]]:
    """`docs` and `copies - 1` edited copies of each (a word in 25 replaced: near-duplicates)."""
    rng = random.Random(3)
    filler = " ".join(t for _, t in docs[:50]).split()
    out = list(docs)
    for c in range(1, copies):
        for doc_id, text in docs:
            out.append((f"{doc_id}#{c}", " ".join(KINDS["edit"](text.split(), 0.2, rng, filler))))
    rng.shuffle(out)
    return out


def bench_stage(docs: list[tuple[str, str]], tmp: Path, repeats: int) -> None:
    dataset = write_docs(tmp / "in", docs, part_rows=1000 if len(docs) > 10_000 else 200)
    tasks = part_tasks(Dataset(dataset))
    n = len(docs)
    print(f"dedup stage: {n} documents in {len(tasks)} parts, MinHash at 0.8, default settings")
    runs = [("local", LocalExecutor)]
    for workers in (1, 2):
        runs.append((f"ray, {workers} worker{'s' if workers > 1 else ''}", workers))
    baseline = None
    for name, how in runs:
        executor = LocalExecutor() if how is LocalExecutor else RayExecutor(workers=how)
        try:
            time_stage(Dedup, DedupParams(), tasks, executor, tmp / "warm")  # warm workers
            with PeakRss() as peak:
                best = min(
                    time_stage(Dedup, DedupParams(), tasks, executor, tmp / f"out{i}")
                    for i in range(repeats)
                )
        finally:
            executor.close()
        baseline = baseline or (best if name.startswith("ray, 1") else None)
        speedup = f"  ({baseline / best:.2f}x one worker)" if baseline and "2" in name else ""
        print(
            f"  {name:<16}: {best:6.2f} s  {n / best:7.0f} docs/s  "
            f"peak RSS {peak.peak / 2**20:6.0f} MiB{speedup}"
        )


def bench_quality(tmp: Path) -> None:
    docs = planted_corpus(n_base=400, n_variants=280)
    dataset = write_docs(tmp / "q", docs, part_rows=170)
    out = tmp / "q-out"
    time_stage(Dedup, DedupParams(), part_tasks(Dataset(dataset)), LocalExecutor(), out, keep=True)
    cluster = {r["id"]: r["cluster"] for r in Dataset(out / "clusters").read_all().to_pylist()}
    sets = {i: shingles(t) for i, t in docs}
    truth, found = set(), set()
    for (a, _), (b, _) in itertools.combinations(docs, 2):
        if jaccard(sets[a], sets[b]) >= 0.8:
            truth.add((a, b))
        if cluster[a] == cluster[b]:
            found.add((a, b))
    hits = len(truth & found)
    print(
        f"dedup quality: {len(docs)} real documents with planted near-duplicates, threshold 0.8: "
        f"{len(truth)} true pairs (brute force), {len(found)} found, "
        f"precision {hits / len(found):.3f}, recall {hits / len(truth):.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args, _ = parser.parse_known_args(argv)
    docs = real_documents(target=700)
    bench_signatures([t for _, t in docs], args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        bench_stage(docs, Path(tmp) / "real", args.repeats)
        bench_stage(scaled(docs, 8), Path(tmp) / "scaled", max(1, args.repeats - 1))
        bench_quality(Path(tmp))


if __name__ == "__main__":
    main()
