"""Scale: one pipeline at growing sizes, with the time per document and the memory it takes.

The pipeline is import -> filter (language, Gopher, C4, FineWeb rules) -> MinHash dedup ->
tokenizer -> shards -> report, run by `corpus run` on Ray with 2 workers, over 8 zstd JSONL files
of ~1 KB real-text documents: each is a seeded draw of paragraphs from ../shared/data and Python's
help text (samples/shared_data.py), so nearly all are distinct; 3% are exact copies and 3% copies
with one word changed, for dedup to find.

For each size it prints the wall time per document, the driver's peak RSS (the `corpus run`
process, from the kernel's high-water mark), and per stage the peak RSS of one Ray worker
(sampled every 50 ms, given to the stage the run was in), and the largest peak of one task as
the run's report gives it, per stage and per phase of the stages that run in phases. The goals,
from the smaller size to the larger: per-document time within +-25%, driver peak within 1.25x,
worker peak flat.

    python -m bench.scale                  # 50k and 400k documents
    python -m bench.scale --docs 400000 3200000
    python -m bench.scale --pipeline lines --docs 400000 1600000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zstandard

from samples.shared_data import real_documents

FILES = 8
CONFIG = """
name: scale
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst"]
  - stage: filter
    name: quality
    language: {{keep: [en], min_score: 0.5}}
  - stage: dedup
    threshold: 0.8
  - stage: tokenizer
    vocab_size: 8192
    max_bytes: 50000000
  - stage: shard
    name: shards
    tokenizer: tokenizer
    shard_tokens: 50000000
"""
# line dedup (`--pipeline lines`): the same inputs, import -> dedup --mode lines. The documents are
# drawn from one pool of real paragraphs, so most of their lines are held by many documents and
# removed: the worst case for the removals the shuffle carries back to each part
LINES_CONFIG = """
name: scale-lines
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst"]
  - stage: dedup
    name: lines
    mode: lines
"""
PIPELINES = {
    "full": (CONFIG, ["import", "quality", "dedup", "tokenizer", "shards", "report"]),
    "lines": (LINES_CONFIG, ["import", "lines", "report"]),
}


def write_inputs(folder: Path, n: int, seed: int = 0) -> int:
    """`n` documents in FILES zstd JSONL files; returns their text bytes."""
    paragraphs = [p for _, t in real_documents(1000) for p in t.split("\n\n") if len(p) > 80]
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    total = 0
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(
                zstandard.ZstdCompressor(level=3).stream_writer(
                    stack.enter_context(open(folder / f"docs-{i}.jsonl.zst", "wb"))
                )
            )
            for i in range(FILES)
        ]
        recent: list[str] = []
        for i in range(n):
            roll = rng.random()
            if roll < 0.03 and recent:
                text = rng.choice(recent)
            elif roll < 0.06 and recent:
                words = rng.choice(recent).split(" ")
                words[rng.randrange(len(words))] = "changed"
                text = " ".join(words)
            else:
                picked, size = [], 0
                while size < 900:
                    p = rng.choice(paragraphs)
                    picked.append(p)
                    size += len(p)
                text = "\n\n".join(picked)
                if len(recent) < 1000:
                    recent.append(text)
                else:
                    recent[i % 1000] = text
            total += len(text.encode())
            line = json.dumps({"id": f"d{i:08d}", "text": text, "source": "web"}) + "\n"
            writers[i % FILES].write(line.encode())
    return total


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def _workers() -> list[int]:
    """Pids of Ray worker processes (their command line starts with ray::)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if f.read(5) == b"ray::":
                        pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class Watch(threading.Thread):
    """Samples the driver's high-water mark and each worker's RSS, by current stage."""

    def __init__(self, driver: int, stages: list[str]):
        super().__init__(daemon=True)
        self.driver, self.stages = driver, stages
        self.done = 0  # stages finished (their summary line seen)
        self.driver_peak = 0
        self.worker_peak: dict[str, int] = {}
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.driver_peak = max(self.driver_peak, _status(self.driver).get("VmHWM", 0))
            stage = self.stages[min(self.done, len(self.stages) - 1)]
            for pid in _workers():
                rss = _status(pid).get("VmRSS", 0)
                self.worker_peak[stage] = max(self.worker_peak.get(stage, 0), rss)
            time.sleep(0.05)


def run_once(n: int, workdir: Path, pipeline: str = "full") -> dict:
    inputs = workdir / f"in-{n}"
    if not inputs.exists():
        write_inputs(inputs, n)
    template, stages = PIPELINES[pipeline]
    config = workdir / f"scale-{pipeline}-{n}.yaml"
    config.write_text(template.format(inputs=inputs))
    run_dir = workdir / f"run-{pipeline}-{n}"
    cmd = [sys.executable, "-m", "pipelines.cli", "run", str(config), "--run-dir", str(run_dir)]
    cmd += ["--executor", "ray", "--workers", "2"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    watch = Watch(proc.pid, stages)
    watch.start()
    tail = []
    for line in proc.stderr:
        tail = (tail + [line])[-20:]
        for i, name in enumerate(stages[:-1]):
            if line.startswith(f"[{name}] ") and " docs in, " in line:
                watch.done = max(watch.done, i + 1)
    proc.wait()
    wall = time.perf_counter() - start
    watch.halt.set()
    watch.join()
    if proc.returncode != 0:
        raise SystemExit(f"corpus run failed at {n:,} documents:\n{''.join(tail)}")
    report = json.loads((run_dir / "report" / "report.json").read_text())
    task_peak = {st["name"]: st.get("peak_task_rss_mb") for st in report["stages"]}
    phase_peak = {
        st["name"]: st["peak_task_rss_mb_by_phase"]
        for st in report["stages"]
        if st.get("peak_task_rss_mb_by_phase")
    }
    lines = next((st for st in report["stages"] if st["name"] == "lines"), None)
    rerun_start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    rerun = time.perf_counter() - rerun_start
    return {
        "docs": n,
        "wall_s": wall,
        "us_per_doc": wall / n * 1e6,
        "driver_peak": watch.driver_peak,
        "worker_peak": watch.worker_peak,
        "rerun_s": rerun,
        "task_peak": task_peak,
        "phase_peak": phase_peak,
        "lines": lines,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--docs", type=int, nargs="+", default=[50_000, 400_000])
    parser.add_argument("--keep", metavar="DIR", help="work here and keep the runs")
    parser.add_argument(
        "--pipeline",
        choices=sorted(PIPELINES),
        default="full",
        help="full: the pipeline above; lines: import and line dedup alone",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = []
        for n in args.docs:
            r = run_once(n, workdir, args.pipeline)
            results.append(r)
            mb = r["driver_peak"] / 1e6
            print(
                f"{n:>10,} docs: {r['wall_s']:7.1f} s, {r['us_per_doc']:6.1f} us/doc, "
                f"driver peak {mb:6.0f} MB, no-op rerun {r['rerun_s']:5.1f} s"
            )
            print(
                "    worker peak by stage: "
                + ", ".join(f"{s} {v / 1e6:.0f} MB" for s, v in r["worker_peak"].items())
            )
            print(
                "    one task's peak by stage (its worker's high-water mark): "
                + ", ".join(f"{s} {v} MB" for s, v in r["task_peak"].items() if v)
            )
            for stage, phases in r["phase_peak"].items():
                print(f"      {stage}: " + ", ".join(f"{p} {v}" for p, v in phases.items()))
            if r["lines"]:
                c = r["lines"]["counters"]
                print(
                    f"    lines: {c['spans']:,} read, {c['spans_removed']:,} removed "
                    f"({c['spans_removed'] / max(1, c['spans']):.0%}), {c['repeated_spans']:,} "
                    f"distinct repeated, {c['partitions']} partitions; documents "
                    f"{r['lines']['docs_in']:,} in, {r['lines']['docs_out']:,} kept"
                )
    first, last = results[0], results[-1]
    if len(results) > 1:
        print(
            f"{first['docs']:,} -> {last['docs']:,} docs: per-document time x"
            f"{last['us_per_doc'] / first['us_per_doc']:.2f} (goal within 0.75-1.25), driver peak x"
            f"{last['driver_peak'] / first['driver_peak']:.2f} (goal <= 1.25), worker peak x"
            f"{max(last['worker_peak'].values()) / max(first['worker_peak'].values()):.2f}"
            " (goal flat)"
        )


if __name__ == "__main__":
    main()
