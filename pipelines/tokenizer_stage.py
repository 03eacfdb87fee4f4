"""The `tokenizer` stage: train a byte-level BPE (HF tokenizers) with <|endoftext|>.

It trains on a seeded sample of the dataset's text within a byte budget (one task: the trainer is
multi-threaded itself) and publishes `tokenizer.json`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpus.bpe_training import (
    SAMPLE_BITS,
    bytes_per_bin,
    last_bin_within,
    train_bpe,
    training_batches,
    vocab_summary,
)
from corpus.dataset import read_part_file, write_bytes_atomic
from pipelines.phases import Dest, InputPart, files_by_dest, input_parts, read_files
from pipelines.stages import GlobalStage

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenizerParams:
    vocab_size: int = 32768  # ids in all: the 256 bytes, <|endoftext|> and the merges
    min_frequency: int = 2  # a pair is merged only if it occurs this often
    max_bytes: int = 1 << 30  # text read for training: a seeded sample of documents this large
    seed: int = 0  # of the sample, when the dataset holds more than max_bytes
    file: str = TOKENIZER_FILE  # in the stage's folder

    def __post_init__(self):
        if not 257 <= self.vocab_size <= 1 << 31:
            raise ValueError(f"vocab_size must be in 257..2147483648, got {self.vocab_size}")
        if self.min_frequency < 1 or self.max_bytes < 1:
            raise ValueError("min_frequency and max_bytes must be at least 1")
        if "/" in self.file or not self.file.endswith(".json"):
            raise ValueError(f"file must be a file name ending in .json, got {self.file!r}")


@dataclass(frozen=True)
class TrainSample:
    """The train task: the documents of `parts` in sample bins 0..`last_bin`."""

    parts: list[InputPart]
    last_bin: int


class TrainTokenizer(GlobalStage):
    """Train a byte-level BPE tokenizer (HF tokenizers) with <|endoftext|> on the text."""

    Params = TokenizerParams
    output_datasets = ()
    produces_documents = False

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        parts = input_parts(tasks)
        measured = driver.run_payloads("measure", parts, keys=[t.key for t in tasks])
        per_bin = np.zeros(1 << SAMPLE_BITS, dtype=np.int64)
        for f in files_by_dest(measured)[Dest("bins")]:
            per_bin += read_files([f]).column("bytes").to_numpy()
        last_bin = last_bin_within(per_bin, p.max_bytes)
        records = driver.run_payloads("train", [TrainSample(parts, last_bin)], show=True)
        stats = dict(records[0]["stats"])
        stats["bytes_in"] = stats["bytes_out"] = int(per_bin.sum())
        stats["counters"]["budget_reached"] = int(last_bin < len(per_bin) - 1)
        return records, stats

    def run_task(self, phase: str, payload: InputPart | TrainSample, out) -> dict:
        p = self.params
        if phase == "measure":
            table = read_part_file(payload.path, payload.sha256, ["id", "text"])
            out.write(Dest("bins"), pa.table({"bytes": bytes_per_bin(table, p.seed)}))
            return {"docs_in": table.num_rows}
        sample: dict = {}
        started = time.perf_counter()
        parts = [(x.path, x.sha256) for x in payload.parts]
        batches = training_batches(parts, p.max_bytes, p.seed, payload.last_bin, sample)
        tok = train_bpe(batches, p.vocab_size, p.min_frequency)
        train_s = time.perf_counter() - started
        path = out.scratch_path(Dest("tokenizer"), ".json")
        write_bytes_atomic(path, tok.to_str(pretty=True).encode("utf-8"), durable=False)
        out.commit_file(Dest("tokenizer"), path)
        summary = vocab_summary(tok)
        return {
            "docs_in": sample["docs_seen"],
            "docs_out": sample["docs_seen"],
            "counters": {
                "pieces_used": sample["pieces_used"],
                "bytes_used": sample["bytes_used"],
                "vocab_size": summary["vocab_size"],
                "merges": summary["merges"],
                "train_ms": round(train_s * 1000),
            },
        }

    def unpublish(self, out_dir: Path) -> None:
        (out_dir / self.params.file).unlink(missing_ok=True)

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        (f,) = files_by_dest(records)[Dest("tokenizer")]
        target = out_dir / self.params.file
        out_dir.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, (Path(f["dir"]) / f["name"]).read_bytes())
        return [target]
