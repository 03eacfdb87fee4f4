"""The `train` stage: train the bundled GPT on the run's shards in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from corpus import storage
from corpus.errors import CorpusError
from corpus.shards import MANIFEST
from pipelines.params import ConfigError
from pipelines.phases import Dest, files_by_dest
from pipelines.stages import GlobalStage


@dataclass(frozen=True)
class TrainParams:
    shards: str = "shards"  # the name of this pipeline's shard stage, or a shard folder
    config: str = "configs/trainer/tiny.yaml"  # a trainer config
    max_steps: int | None = None  # the schedule's length (default: the config's)
    # held-out texts (plain text or JSONL), each evaluated in loss and bits per byte
    eval_text: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")


def _trainer_config(path: str) -> Path | None:
    """A trainer config by path, or relative to the project (`configs/trainer/tiny.yaml` works
    from any working directory)."""
    for candidate in (Path(path), Path(__file__).resolve().parent.parent / path):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _local_shards(shards: str) -> tuple[str, str | None]:
    """A local folder with the shard folder's manifest and shards, and the tokenizer it names
    when that is not local: a folder on an object store is fetched into this node's cache."""
    if not storage.is_remote(shards):
        return shards, None
    try:
        manifest = json.loads(storage.read_text(Path(shards) / MANIFEST))
    except FileNotFoundError:
        raise CorpusError(
            f"{storage.show(shards)}: no {MANIFEST}; a shard folder on an object "
            "store needs the manifest corpus writes"
        ) from None
    storage.local_copy(Path(shards) / MANIFEST)
    for shard in manifest["shards"]:
        storage.local_copy(Path(shards) / shard["name"], shard["sha256"])
    facts = manifest.get("tokenizer") or {}
    tokenizer = None
    if facts.get("path") and storage.is_remote(facts["path"]):
        tokenizer = str(storage.local_copy(facts["path"], facts.get("sha256")))
    return str(storage.local_path(shards)), tokenizer


def run_trainer(
    cmd: list[str], label: str = "train", threads: int | None = None, skip: tuple[str, ...] = ()
) -> None:
    """Run the trainer command `cmd` in a child process, its progress lines shown as
    `[label] ...` as they come; a failed run is a CorpusError with its last line. `threads`
    caps its torch threads (trainers run side by side); by default it uses every core. Lines
    starting with one of `skip` are not shown."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "RANK")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    last = "no output"
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as child:
        try:
            for line in child.stderr:
                line = line.rstrip("\n")
                if line.strip():
                    last = line
                shown = line.startswith(("step", "training", "resumed", "val:", "bpb:")) or (
                    "evaluating on" in line  # an eval text shorter than one window
                )
                if shown and not line.startswith(skip):
                    print(f"[{label}] {line}", file=sys.stderr, flush=True)
        except BaseException:
            child.kill()  # no trainer left writing checkpoints behind a stopped driver
            raise
    if child.returncode:
        raise CorpusError(f"training failed: {last}")


@dataclass(frozen=True)
class TrainRun:
    """The train stage's one task: what it reads is all in the params."""


class Train(GlobalStage):
    """Train the bundled GPT on the run's shards (`python -m trainer.train` in a child process);
    a killed run resumes from its latest checkpoint."""

    Params = TrainParams
    output_datasets = ()
    produces_documents = False

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        if earlier.get(params.shards) != "shard" and not storage.is_dir(params.shards):
            raise ConfigError(
                f"{where}.shards: '{params.shards}' is neither an earlier shard stage nor a folder"
            )
        for text in params.eval_text:
            if not storage.is_file(text):
                raise ConfigError(f"{where}.eval_text: no such file: {text}")
        if _trainer_config(params.config) is None:
            raise ConfigError(f"{where}.config: no such trainer config: {params.config}")

    @classmethod
    def bind(cls, params: dict, run_dir: Path) -> dict:
        shards = Path(params["shards"])
        if not storage.is_dir(shards) and storage.is_dir(run_dir / params["shards"]):
            shards = run_dir / params["shards"]
        return {
            **params,
            "shards": str(storage.absolute(shards)),
            "config": str(_trainer_config(params["config"]) or params["config"]),
            "eval_text": [str(storage.absolute(t)) for t in params.get("eval_text") or []],
        }

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        files = [Path(params["shards"]) / MANIFEST, Path(params["config"])]
        files += [Path(t) for t in params.get("eval_text") or []]
        return [f for f in files if storage.is_file(f)]

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        # the trainer is a child process of the driver that uses every core (or the GPU) of
        # this machine, and its progress lines reach the terminal as they are printed
        records = driver.run_payloads("train", [TrainRun()], on_driver=True)
        return records, dict(records[0]["stats"])

    def run_task(self, phase: str, payload: TrainRun, out) -> dict:
        p = self.params
        # the trainer reads and writes local files: with the run on an object store, the shards
        # are fetched into this node's cache, and the checkpoints written there (a killed run
        # resumes from them on this node) until the final one is put on the store
        folder = storage.local_path(Path(out.job.out_dir))
        folder.mkdir(parents=True, exist_ok=True)
        shards, tokenizer = _local_shards(p.shards)
        eval_text = [str(storage.local_copy(t)) for t in p.eval_text]
        marker = folder / ".config_hash"
        if not marker.is_file() or marker.read_text() != out.job.config_hash:
            for stale in [*folder.glob("ckpt_*.pt"), folder / "metrics.jsonl"]:
                stale.unlink(missing_ok=True)  # made under another config: start over
            marker.write_text(out.job.config_hash)
        cmd = [sys.executable, "-m", "trainer.train", "--shards", shards, "--config", p.config]
        cmd += ["--out", str(folder)]
        if p.max_steps:
            cmd += ["--max-steps", str(p.max_steps)]
        if eval_text:
            cmd += ["--eval-text", *eval_text]
        if tokenizer:
            cmd += ["--tokenizer", tokenizer]
        if any(folder.glob("ckpt_*.pt")):
            cmd.append("--resume")
        run_trainer(cmd)
        rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        from trainer.checkpoint import latest_checkpoint  # by step: ckpt_999999 < ckpt_1000000

        final = latest_checkpoint(folder)
        out.commit_file(Dest("checkpoint"), final)
        out.commit_file(Dest("metrics"), folder / "metrics.jsonl")
        vals = [r["val_loss"] for r in rows if "val_loss" in r]
        bpbs = [r["val_bpb"] for r in rows if "val_bpb" in r]
        return {
            "counters": {
                "steps": rows[-1]["step"] + 1,
                "first_loss": rows[0]["loss"],
                "last_loss": rows[-1]["loss"],
                **({"first_val_loss": vals[0], "last_val_loss": vals[-1]} if vals else {}),
                **({"last_val_bpb": bpbs[-1]} if bpbs else {}),
            }
        }

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        files = files_by_dest(records)
        return [
            Path(f["dir"]) / f["name"]
            for dest in (Dest("checkpoint"), Dest("metrics"))
            for f in files[dest]
        ]
