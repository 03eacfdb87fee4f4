"""Object storage: the scale pipeline with its run folder on an S3-compatible server, against the
same pipeline on local disk, run side by side (A B A B).

The server is moto's standalone S3 server on 127.0.0.1 (the one the tests start), so the ratio
is the cost of our storage layer and of S3's protocol (HTTP, one PUT per output, a HEAD per
committed output, ranged reads of shuffle files), not of a network. It prints each side's wall
time, the ratio, the no-op re-run of each, and whether the two runs' data files are the same
bytes.

    python -m bench.storage                # 20,000 documents
    python -m bench.storage --docs 50000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.scale import CONFIG, write_inputs
from corpus import storage


def _run(config: Path, run_dir: str, env: dict) -> float:
    cmd = [sys.executable, "-m", "pipelines.cli", "run", str(config), "--run-dir", run_dir]
    cmd += ["--executor", "ray", "--workers", "2"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"corpus run failed ({run_dir}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def _data_files(run_dir: str) -> dict[str, str]:
    """SHA-256 of each data file of a run (not records or reports), by its path in the run."""
    root = storage.show(run_dir).rstrip("/") + "/"
    files = {}
    for path in storage.walk_files(run_dir):
        rel = storage.show(path).removeprefix(root)
        if rel.split("/")[0] not in ("_state", "report") and not rel.endswith("shards.json"):
            files[rel] = hashlib.sha256(storage.read_bytes(path)).hexdigest()
    return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storage")
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.s3_server import start_s3_server

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = start_s3_server(work / "s3.log")
        try:
            env = {**os.environ, **server.env}
            os.environ.update(server.env)
            bucket = server.bucket("bench")
            inputs = work / "in"
            write_inputs(inputs, args.docs)
            config = work / "storage.yaml"
            config.write_text(CONFIG.format(inputs=inputs))
            times: dict[str, list[float]] = {"local": [], "s3": []}
            reruns: dict[str, float] = {}
            for i in range(args.rounds):
                for side in ("local", "s3"):
                    run_dir = str(work / f"run-{i}") if side == "local" else f"{bucket}/run-{i}"
                    times[side].append(_run(config, run_dir, env))
                    if i == args.rounds - 1:
                        reruns[side] = _run(config, run_dir, env)
            same = _data_files(str(work / "run-0")) == _data_files(f"{bucket}/run-0")
        finally:
            server.stop()
    local, remote = min(times["local"]), min(times["s3"])
    print(f"storage: {args.docs:,} documents, import -> filter -> dedup -> tokenizer -> shards")
    for side, label, best in (("local", "local disk", local), ("s3", "S3 (moto)", remote)):
        rerun = reruns[side]
        print(f"  {label:<11} {best:7.1f} s (best of {args.rounds}), no-op re-run {rerun:.1f} s")
    print(f"  S3 / local   x{remote / local:.2f}; same data bytes: {same}")


if __name__ == "__main__":
    main()
