"""A real S3-compatible server on 127.0.0.1 for the tests: moto's standalone server, from the
registry, in a child process. Nothing here is mocked inside our own process: the code under test
reaches it over HTTP through pyarrow's S3 filesystem, as it would reach a real store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]  # what a process needs to reach it (the standard AWS variables)
    process: subprocess.Popen

    def bucket(self, prefix: str = "run") -> str:
        """A new empty bucket; its s3:// URI."""
        from pyarrow import fs

        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        store = fs.S3FileSystem(
            endpoint_override=self.endpoint,
            access_key=self.env["AWS_ACCESS_KEY_ID"],
            secret_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region=self.env["AWS_DEFAULT_REGION"],
            allow_bucket_creation=True,
        )
        store.create_dir(name)
        return f"s3://{name}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_s3_server(log: Path, checks_keys: bool = False) -> S3Server:
    """The server, in a child process; `checks_keys` makes it refuse keys it does not know
    (moto's IAM checks, on from the first request)."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"} if checks_keys else None
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, f"the S3 server did not start: {log.read_text()}"
            assert time.monotonic() < deadline, "the S3 server did not start in 60 s"
            time.sleep(0.2)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "corpus-test",
        "AWS_SECRET_ACCESS_KEY": "corpus-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return S3Server(endpoint, env, proc)
