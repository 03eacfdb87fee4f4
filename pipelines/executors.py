"""Executors: where a stage's tasks run. `local` runs them in this process, one after another;
`ray` runs them as Ray tasks, on an embedded local instance or on a cluster (`--address`).
Both run the same task function, so both give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from corpus import storage
from corpus.errors import CorpusError
from pipelines.params import ConfigError

# a worker's environment: one thread for Rust's pools, and the driver's Arrow pool (jemalloc
# unless the user named another; see corpus/__init__.py)
WORKER_ENV = {
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ARROW_DEFAULT_MEMORY_POOL": os.environ["ARROW_DEFAULT_MEMORY_POOL"],
}
# what a task may hold: a 64 MB part peaks at about 1 GB in a worker (bench/scale.py)
TASK_MEMORY = 2 << 30


class LocalExecutor:
    """Tasks in this process, in order: for tests, debugging and small inputs."""

    name = "local"

    def map_unordered(self, fn: Callable, calls: Iterable[tuple]) -> Iterator:
        for args in calls:
            yield fn(*args)

    def close(self) -> None:
        pass


class RayExecutor:
    """Tasks on Ray, at most `workers` at a time; one task per part, never per document. Each
    task declares one CPU and `task_memory` bytes, so Ray places no more tasks on a node than
    its memory holds."""

    name = "ray"

    def __init__(
        self, address: str | None = None, workers: int | None = None, task_memory: int | None = None
    ):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        import ray

        self._ray = ray
        self._owns_ray = False
        address = address or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            options = {
                "include_dashboard": False,
                "logging_level": "WARNING",
                # a task holds one CPU: libraries that start a thread per core (the tokenizers'
                # Rayon pool) would otherwise oversubscribe the machine by workers x cores
                "runtime_env": {"env_vars": WORKER_ENV},
            }
            try:
                if address:
                    ray.init(address=address, **options)
                else:  # "local": a new embedded instance, even if `ray start` ran on this machine
                    ray.init(address="local", num_cpus=workers or os.cpu_count(), **options)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise CorpusError(f"cannot start or reach {where}: {exc}") from None
            self._owns_ray = True
        resources = ray.cluster_resources()
        self.workers = workers or max(1, int(resources.get("CPU", 1)))
        self.task_memory = task_memory or TASK_MEMORY
        if "memory" in resources and self.task_memory > resources["memory"]:
            if self._owns_ray:
                ray.shutdown()
            raise ConfigError(
                f"--task-memory {self.task_memory / 2**30:.1f} GiB is more than the "
                f"{resources['memory'] / 2**30:.1f} GiB the Ray cluster has for tasks"
            )
        self._remote: dict[Callable, object] = {}

    def map_unordered(self, fn: Callable, calls: Iterable[tuple]) -> Iterator:
        ray = self._ray
        remote = self._remote.get(fn)
        if remote is None:
            # retries cover a worker process that dies; a task is idempotent, so a retry is safe
            options = {"num_cpus": 1, "memory": self.task_memory, "max_retries": 3}
            reach = storage.environment()
            if reach:  # the driver's way to the object store, for workers started without it
                options["runtime_env"] = {"env_vars": {**WORKER_ENV, **reach}}
            remote = self._remote[fn] = ray.remote(**options)(fn)
        queue = list(calls)
        queue.reverse()
        in_flight: list = []
        while queue or in_flight:
            while queue and len(in_flight) < self.workers:
                in_flight.append(remote.remote(*queue.pop()))
            done, in_flight = ray.wait(in_flight, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, (CorpusError, OSError)):
                    raise exc.cause from None  # our own one-line errors, and a full disk
                raise

    def close(self) -> None:
        if self._owns_ray:
            self._ray.shutdown()


def make_executor(
    name: str,
    address: str | None = None,
    workers: int | None = None,
    task_memory: int | None = None,
):
    """The executor called `name`; `address`, `workers` and `task_memory` apply to `ray`."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if name == "local":
        if address:
            raise ConfigError("--address needs --executor ray")
        if workers not in (None, 1):
            raise ConfigError("--workers needs --executor ray; local runs one task at a time")
        if task_memory is not None:
            raise ConfigError("--task-memory needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address=address, workers=workers, task_memory=task_memory)
    raise ConfigError(f"unknown executor '{name}' (use local or ray)")
