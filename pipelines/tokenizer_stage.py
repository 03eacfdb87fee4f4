"""The `tokenizer` stage: train a byte-level BPE (HF tokenizers) with <|endoftext|>.

It trains on a seeded sample of the dataset's text within a byte budget, and publishes
`tokenizer.json`:
  measure  per part: text bytes per sample bin, which decide how many bins fit the budget
  sample   per part: the pieces of text in those bins, written to the stage's work folder
  train    one task (the trainer is multi-threaded itself): the samples, in part order
So the parts are read in parallel, and the one training task reads the sample only. When the
budget holds the whole dataset there is nothing to leave out: no sample phase, and the training
task reads the parts themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpus import storage
from corpus.bpe_training import (
    SAMPLE_BITS,
    bytes_per_bin,
    capped_batches,
    last_bin_within,
    sample_of,
    train_bpe,
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
class SampleBins:
    """A sample task: the pieces of one part's documents in sample bins 0..`last_bin`."""

    part: InputPart
    last_bin: int


@dataclass(frozen=True)
class TrainSample:
    """The train task: the parts' samples in part order (or, when `whole`, the parts themselves),
    and the number of documents they were drawn from."""

    samples: list[InputPart]
    docs: int
    whole: bool


class TrainTokenizer(GlobalStage):
    """Train a byte-level BPE tokenizer (HF tokenizers) with <|endoftext|> on the text."""

    Params = TokenizerParams
    output_datasets = ()
    produces_documents = False

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        parts, keys = input_parts(tasks), [t.key for t in tasks]
        measured = driver.run_payloads("measure", parts, keys=keys)
        per_bin = np.zeros(1 << SAMPLE_BITS, dtype=np.int64)
        for f in files_by_dest(measured)[Dest("bins")]:
            per_bin += read_files([f]).column("bytes").to_numpy()
        last_bin = last_bin_within(per_bin, p.max_bytes)
        docs = sum(r["stats"]["docs_in"] for r in measured)
        whole = last_bin == len(per_bin) - 1
        samples = parts if whole else self._samples(driver, parts, keys, last_bin)
        records = driver.run_payloads("train", [TrainSample(samples, docs, whole)], show=True)
        stats = dict(records[0]["stats"])
        stats["bytes_in"] = stats["bytes_out"] = int(per_bin.sum())
        stats["counters"]["budget_reached"] = int(not whole)
        return records, stats

    def _samples(self, driver, parts: list[InputPart], keys: list[str], last_bin: int):
        """Each part's sample, drawn by a task of its own, as files in the parts' order (the
        order in which the byte budget caps the sample)."""
        sampled = driver.run_payloads(
            "sample", [SampleBins(part, last_bin) for part in parts], keys=keys
        )
        by_key = {r["key"]: r for r in sampled}
        return [
            InputPart(str(Path(f["dir"]) / f["name"]), f["sha256"])
            for key in keys
            for f in by_key[key]["files"]
        ]

    def run_task(self, phase: str, payload: InputPart | SampleBins | TrainSample, out) -> dict:
        p = self.params
        if phase == "measure":
            table = read_part_file(payload.path, payload.sha256, ["id", "text"])
            out.write(Dest("bins"), pa.table({"bytes": bytes_per_bin(table, p.seed)}))
            return {"docs_in": table.num_rows}
        if phase == "sample":
            part = payload.part
            table = read_part_file(part.path, part.sha256, ["id", "text"])
            pieces = sample_of(table, p.seed, payload.last_bin)
            out.write(Dest("sample"), pa.table({"text": pa.array(pieces, pa.large_string())}))
            return {"docs_in": table.num_rows}
        sample: dict = {}
        started = time.perf_counter()
        if payload.whole:  # every piece of every part
            last = (1 << SAMPLE_BITS) - 1
            pieces = (
                sample_of(read_part_file(x.path, x.sha256, ["id", "text"]), p.seed, last)
                for x in payload.samples
            )
        else:
            pieces = (
                read_part_file(x.path, x.sha256).column("text").to_pylist() for x in payload.samples
            )
        batches = capped_batches(pieces, p.max_bytes, sample)
        tok = train_bpe(batches, p.vocab_size, p.min_frequency)
        train_s = time.perf_counter() - started
        path = out.scratch_path(Dest("tokenizer"), ".json")
        write_bytes_atomic(path, tok.to_str(pretty=True).encode("utf-8"), durable=False)
        out.commit_file(Dest("tokenizer"), path)
        summary = vocab_summary(tok)
        return {
            "docs_in": payload.docs,
            "docs_out": payload.docs,
            "counters": {
                # parts whose share of the sample a task of its own drew (0: all of every part)
                "sampled_parts": 0 if payload.whole else len(payload.samples),
                "pieces_used": sample["pieces_used"],
                "bytes_used": sample["bytes_used"],
                "vocab_size": summary["vocab_size"],
                "merges": summary["merges"],
                "train_ms": round(train_s * 1000),
            },
        }

    def unpublish(self, out_dir: Path) -> None:
        storage.unlink(out_dir / self.params.file)

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        (f,) = files_by_dest(records)[Dest("tokenizer")]
        target = out_dir / self.params.file
        storage.makedirs(out_dir)
        write_bytes_atomic(target, storage.read_bytes(Path(f["dir"]) / f["name"]))
        return [target]
