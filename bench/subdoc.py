"""Sub-document dedup (`dedup --mode lines|paragraphs`): its quality on planted boilerplate, and
its speed and memory against document-level exact dedup on the same documents.

1. Quality: real documents (books, Stack Exchange, Reddit, web text from ../shared/data) with
   web boilerplate planted at known rates (`samples/boilerplate.py`). Goal: 95% or more of the
   planted repeated spans removed, and under 1% of the unique spans (those in one document)
   removed; the same for paragraphs.
2. Speed: lines/s of the lines mode against the exact mode's time on the same documents, one
   worker; goal within 3x. Peak task RSS of each phase.

    python -m bench.subdoc [--docs 20000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.dedup import write_docs
from corpus.dataset import Dataset
from filters.dedup.keys import normalize_text
from filters.dedup.spans import split
from pipelines.dedup.params import DedupParams
from pipelines.dedup.stage import Dedup
from pipelines.executors import LocalExecutor
from pipelines.runner import part_tasks
from pipelines.standalone import run_standalone
from samples.boilerplate import plant
from samples.shared_data import real_documents


def spread(docs: list, n: int) -> list:
    """`n` of `docs` taken evenly through them (books, forums, the web), or all if fewer; more
    are edited copies (a word in 25 replaced), so their lines are new lines."""
    if n <= len(docs):
        return docs[:: len(docs) // n][:n]
    rng = random.Random(3)
    filler = " ".join(t for _, t in docs[:50]).split()
    out = list(docs)
    while len(out) < n:
        for doc_id, text in docs[: n - len(out)]:
            lines = [
                " ".join(rng.choice(filler) if rng.random() < 0.04 else w for w in line.split(" "))
                for line in text.split("\n")
            ]
            out.append((f"{doc_id}#{len(out)}", "\n".join(lines)))
    return out


def run(docs, tmp: Path, name: str, **params):
    dataset = write_docs(tmp / f"{name}-in", docs, part_rows=1000)
    out = tmp / f"{name}-out"
    start = time.perf_counter()
    outcome = run_standalone(
        Dedup, DedupParams(**params), part_tasks(Dataset(dataset)), out, LocalExecutor(),
        log=lambda _: None,
    )  # fmt: skip
    return outcome, time.perf_counter() - start, out


def bench_quality(tmp: Path, unit: str) -> None:
    base = real_documents(target=1000)  # 1,832 documents: each line as the real text has it
    docs, planted = plant(base, unit, seed=1)
    outcome, _, out = run(docs, tmp, f"q-{unit}", mode=unit)
    kept = {r["id"]: r["text"] for r in Dataset(out / "kept").read_all().to_pylist()}
    holders = Counter()  # normalized span -> documents holding it
    for _, text in docs:
        holders.update({normalize_text(s.strip()) for s in split(text, unit)[0]})
    planted_n = planted_gone = unique_n = unique_gone = other_n = other_gone = 0
    for doc_id, text in docs:
        left = Counter(split(kept.get(doc_id, ""), unit)[0])
        mine = Counter(planted[doc_id])
        for span in split(text, unit)[0]:
            gone = left[span] == 0
            if not gone:
                left[span] -= 1
            key = normalize_text(span.strip())
            if mine[span]:
                mine[span] -= 1
                planted_n += 1
                planted_gone += gone
            elif len(span.strip()) >= 20 and key and holders[key] == 1:
                unique_n += 1
                unique_gone += gone
            elif len(span.strip()) >= 20 and key:
                other_n += 1
                other_gone += gone
    c = outcome.stats["counters"]
    variants = len({s for v in planted.values() for s in v})
    kinds = len({normalize_text(s) for v in planted.values() for s in v})
    print(
        f"{unit}: {len(docs):,} real documents, {planted_n:,} planted spans ({kinds} spans, "
        f"{variants} variants): "
        f"{planted_gone / planted_n:.1%} of them removed (goal >= 95%); "
        f"{unique_gone:,} of {unique_n:,} unique spans removed ({unique_gone / unique_n:.2%}, "
        f"goal < 1%); {other_gone:,} of {other_n:,} spans the real text repeats itself removed; "
        f"{outcome.stats['docs_rejected']:,} documents left too short; "
        f"{c['spans_removed']:,} spans, {c['chars_removed']:,} characters removed"
    )


def bench_speed(tmp: Path, n: int, repeats: int) -> None:
    docs, _ = plant(spread(real_documents(target=1000), n), "lines", seed=2)
    lines = sum(len(t.split("\n")) for _, t in docs)
    best, peaks = {}, {}
    for mode in ("exact", "lines", "exact", "lines")[: 2 * repeats]:
        outcome, seconds, _ = run(docs, tmp, f"s-{mode}-{len(best)}", mode=mode)
        best[mode] = min(best.get(mode, seconds), seconds)
        peaks[mode] = outcome.stats.get("peak_rss_mb_by_phase", {})
    ratio = best["lines"] / best["exact"]
    print(
        f"speed: {len(docs):,} documents, {lines:,} lines, one process: lines mode "
        f"{best['lines']:.2f} s ({lines / best['lines']:,.0f} lines/s) vs exact dedup "
        f"{best['exact']:.2f} s = {ratio:.2f}x its time (goal <= 3x); peak task RSS by phase, "
        f"lines: {peaks['lines']}, exact: {peaks['exact']} (MB)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2)
    args, _ = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for unit in ("lines", "paragraphs"):
            bench_quality(Path(tmp), unit)
        bench_speed(Path(tmp), args.docs, args.repeats)


if __name__ == "__main__":
    main()
