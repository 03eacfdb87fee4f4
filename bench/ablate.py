"""The ablation's cost, and decontamination's speed, each against a baseline run side by side.

1. Cost: `corpus ablate` over two arms (the imported documents, and those the length filter
   kept) x K seeds, on real documents (../shared/data and Python's help topics), against one
   plain training run of the same budget, config and evaluations (`python -m trainer.train` on
   the first arm's shards). Goal: the ablation costs at most arms x seeds x 1.05 of that run; what
   is over arms x seeds is the decontamination, the shared tokenizer and the arms' shards.
2. Decontamination: documents/s of the `decontaminate` stage against a 13-gram index of a
   held-out book, and of the `dedup` stage in exact mode, on the same documents, one process.

    python -m bench.ablate [--tokens 400000] [--seeds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import time_stage
from bench.dedup import scaled, write_docs
from corpus.dataset import Dataset
from pipelines.decontam_stage import Decontaminate
from pipelines.dedup.params import DedupParams
from pipelines.dedup.stage import Dedup
from pipelines.executors import LocalExecutor
from pipelines.runner import STAGE_RECORD, part_tasks
from samples.shared_data import SHARED_DATA, real_documents

ROOT = Path(__file__).resolve().parent.parent
BOOK = SHARED_DATA / "books" / "pg9198_complete-angler_ascii.txt.gz"
CONFIG = ROOT / "configs" / "trainer" / "tiny.yaml"


def corpus(*args) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], check=True, cwd=ROOT)
    return time.perf_counter() - start


def median_tps(folder: Path) -> float:
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["tokens_per_s"] for r in rows[1:])  # the first holds warm-up


def bench_cost(tmp: Path, tokens: int, seeds: int) -> None:
    docs = tmp / "docs.jsonl"
    with open(docs, "w") as f:
        for doc_id, text in real_documents(target=2000):
            f.write(json.dumps({"id": doc_id, "text": text, "source": "web"}) + "\n")
    config = tmp / "bench.yaml"
    config.write_text(
        f"name: bench\nstages:\n  - stage: import_jsonl\n    name: import\n    paths: [{docs}]\n"
        "    part_rows: 500\n  - stage: length_filter\n    name: filter\n    min_words: 300\n"
    )
    run = tmp / "run"
    corpus("run", config, "--run-dir", run, "--executor", "local")
    arms, ablation = 2, tmp / "ablation.log"
    start = time.perf_counter()
    with open(ablation, "w") as log:
        subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "ablate", run, "--arms", "import,filter",
             "--eval", BOOK, "--tokens", str(tokens), "--seeds", str(seeds), "--executor",
             "local"],
            check=True, cwd=ROOT, stderr=log,
        )  # fmt: skip
    ablate_s = time.perf_counter() - start
    results = json.loads((run / "ablation" / "results.json").read_text())
    record = json.loads((run / "_state" / "ablation" / STAGE_RECORD).read_text())
    train_s = record["stats"]["counters"]["train_s"]
    steps = results["steps"]
    every = min(50, max(1, steps // 5))  # as the stage evaluates (tiny.yaml: every 50 steps)
    # the baseline: one run of the first arm, twice (seeds 0 and 1, as the ablation's runs), for
    # the mean of two: two shared cores vary by 10% from one run to the next
    ones, tps = [], []
    for seed in (0, 1):
        out = tmp / f"one-{seed}"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "trainer.train", "--shards",
             run / "ablation" / "import" / "shards", "--config", CONFIG, "--out", out,
             "--max-steps", str(steps + 1), "--seed", str(seed), "--eval-interval", str(every),
             "--eval-text", BOOK],
            check=True, cwd=ROOT, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        ones.append(time.perf_counter() - start)
        tps.append(median_tps(out))
    one_s = statistics.mean(ones)
    ratio = ablate_s / one_s
    ours = [median_tps(run / "ablation" / a / f"seed-{k}") for a in ("import", "filter")
            for k in range(seeds)]  # fmt: skip
    print(
        f"median tokens/s of a step: the ablation's runs {', '.join(f'{t:,.0f}' for t in ours)}; "
        f"the baseline's {', '.join(f'{t:,.0f}' for t in tps)}"
    )
    print(
        f"ablation cost: {arms} arms x {seeds} seeds of {tokens:,} tokens ({steps} steps): "
        f"{ablate_s:.1f} s (training {train_s:.1f} s of it) vs one run {one_s:.1f} s (mean of 2) = "
        f"{ratio:.2f} runs; goal <= {arms * seeds * 1.05:.2f} ({arms * seeds} x 1.05)"
    )


def bench_decontamination(tmp: Path, repeats: int) -> None:
    docs = scaled(real_documents(target=1000), 4)
    dataset = write_docs(tmp / "dataset", docs, part_rows=2000)
    tasks = part_tasks(Dataset(dataset))
    executor = LocalExecutor()
    params = {"against": [str(BOOK)], "ngram": 13}
    decon = min(
        time_stage(Decontaminate, params, tasks, executor, tmp / f"d{i}") for i in range(repeats)
    )
    exact = min(
        time_stage(Dedup, DedupParams(mode="exact"), tasks, executor, tmp / f"e{i}")
        for i in range(repeats)
    )
    n = len(docs)
    print(
        f"decontaminate: {n / decon:,.0f} docs/s vs dedup exact {n / exact:,.0f} docs/s "
        f"({exact / decon:.2f}x its speed) on {n:,} real documents, one process"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args, _ = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bench_decontamination(Path(tmp), args.repeats)
        bench_cost(Path(tmp), args.tokens, args.seeds)


if __name__ == "__main__":
    main()
