"""A cluster, not only a laptop: two `ray start` nodes on loopback, each in its own working folder
with its own cache, run a pipeline via --address with the run folder on an S3 server."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from corpus import storage
from samples.shared_data import DOLMA_FILE
from tests.commands import run_corpus
from tests.datasets import snapshot, store_snapshot, without_locations
from tests.runs import SHUFFLING_STAGES, make_pipeline

RAY = str(Path(sys.executable).parent / "ray")
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"  # loopback; Ray rewrites 127.0.0.1 to the host IP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HEAD_IP, 0))
        return s.getsockname()[1]


def _wait_for_nodes(address: str, env: dict, count: int, timeout: float = 90) -> None:
    probe = (
        f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
        "print(sum(1 for n in ray.nodes() if n['Alive']))"
    )
    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
        )
        lines = proc.stdout.split()
        if proc.returncode == 0 and lines and int(lines[-1]) >= count:
            return
        assert time.monotonic() < deadline, f"cluster never had {count} nodes: {proc.stderr}"
        time.sleep(1)


def _start(args, env, log, cwd):
    return subprocess.Popen(
        [RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats", *args],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # `ray start --block` stops its node on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


CLUSTER_PIPELINE = """
name: cluster
stages:
  - stage: import_jsonl
    name: import
    paths: ["{inputs}/*.jsonl.zst", "{dolma}"]
    part_rows: 20
{stages}
"""


def test_two_node_cluster_with_the_run_on_s3_gives_the_bytes_of_a_local_run(tmp_path, s3):
    env = {
        **os.environ,
        **s3.env,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),  # this test's own cluster secret
    }
    port = _free_port()
    address = f"{HEAD_IP}:{port}"
    make_pipeline(tmp_path)  # its inputs; and stages that shuffle through the store
    config = tmp_path / "cluster.yaml"
    config.write_text(
        CLUSTER_PIPELINE.format(
            inputs=tmp_path / "input", dolma=DOLMA_FILE, stages=SHUFFLING_STAGES.strip("\n")
        )
    )
    nodes = {}
    for node in ("head", "node", "driver"):  # no folder is shared: the store is the run folder
        nodes[node] = tmp_path / node
        (nodes[node] / "cache").mkdir(parents=True)
    run = f"{s3.bucket()}/cluster"
    with open(tmp_path / "head.log", "wb") as head_log, open(tmp_path / "node.log", "wb") as log:
        head = _start(
            [
                "--head",
                f"--node-ip-address={HEAD_IP}",
                f"--port={port}",
                "--include-dashboard=false",
            ],
            {**env, "CORPUS_CACHE": str(nodes["head"] / "cache")},
            head_log,
            nodes["head"],
        )
        worker = None
        try:
            _wait_for_nodes(address, env, 1)
            worker = _start(
                [f"--address={address}", f"--node-ip-address={WORKER_IP}"],
                {**env, "CORPUS_CACHE": str(nodes["node"] / "cache")},
                log,
                nodes["node"],
            )
            _wait_for_nodes(address, env, 2)
            proc = run_corpus(
                "run", config, "--run-dir", run, "--address", address,
                cwd=nodes["driver"], env={**env, "CORPUS_CACHE": str(nodes["driver"] / "cache")},
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
        finally:
            if worker is not None:
                _stop(worker)
            _stop(head)
    local = run_corpus("run", config, "--run-dir", tmp_path / "local", "--executor", "local")
    assert local.returncode == 0, local.stderr
    local_files = snapshot(tmp_path / "local")
    assert without_locations(store_snapshot(run), lambda n: storage.read_text(f"{run}/{n}")) == (
        without_locations(local_files, lambda n: (tmp_path / "local" / n).read_text())
    )
    assert "shards/train_000000.bin" in local_files
    assert not any(p.name.startswith("s3:") for p in tmp_path.rglob("*"))
    assert len(snapshot(tmp_path / "local")) > 5
