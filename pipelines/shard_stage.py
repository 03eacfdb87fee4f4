"""The `shard` stage: write packed token shards.

It writes llm.c-format shards (`corpus/shards.py`) without holding the corpus in memory:
  tokenize  per part (on the executor): encode every document, write its tokens to one raw file
            and an index (id, source, offset, length)
  scatter   per part: decide each document's fate from a hash of (seed, id) alone: the val split
            (by document), how many copies the source's mixture weight gives it (repeats or drops
            whole documents), and for each copy a random 64-bit key whose residue picks a bucket
  order     per bucket: sort its documents by key, a uniformly random order within the bucket
  write     per shard: the buckets laid end to end are the shuffled stream of documents, each
            preceded by <|endoftext|>; a shard is a fixed-size window of that stream, gathered
            from the parts' token files
Random bucket, then a random order within it, is a uniform shuffle of all documents, and every
choice is a function of the seed and the document's id and position, so the shards are the same
bytes whatever the executor or the number of workers. A bucket holds about `bucket_tokens`
tokens, which bounds the memory of an order task; the number of buckets depends on the data only.
"""

from __future__ import annotations

import array
import functools
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.dataset import read_part_file, write_json_atomic
from corpus.errors import CorpusError
from corpus.schema import SOURCES
from corpus.shards import MANIFEST, ShardWriter, dtype_for_vocab, magic_for
from corpus.tokenizer import (
    load_tokenizer,
    tokenizer_facts,
)
from filters.dedup.lsh import mix64
from pipelines.params import ConfigError
from pipelines.phases import files_by_dest, read_files
from pipelines.stages import GlobalStage
from pipelines.tokenizer_stage import TOKENIZER_FILE

SHARD_NAME = re.compile(r"^(train|val)_\d{6}\.bin$")
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
ENCODE_BATCH_BYTES = 4 << 20  # text encoded per call, which bounds a tokenize task's memory
SHARDS_FORMAT = "corpus.shards/1"
VAL_BITS = 16  # the val split is chosen in 2**16 bins of the val hash


@functools.lru_cache(maxsize=2)
def _cached_tokenizer(path: str, size: int, mtime_ns: int):
    return load_tokenizer(path)[0]


def _tokenizer(path: str):
    """The tokenizer at `path`, loaded once per worker process (until the file changes)."""
    st = os.stat(path)
    return _cached_tokenizer(path, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class ShardParams:
    tokenizer: str = "tokenizer"  # a tokenizer.json, or the name of this pipeline's tokenizer stage
    shard_tokens: int = 100_000_000  # tokens per shard (the last of each split holds the rest)
    val_tokens: int = 10_000_000  # held out by document, ...
    max_val_fraction: float = 0.1  # ... but never more than this share of the tokens
    seed: int = 0  # of the shuffle, the val split and fractional weights
    weights: dict[str, float] | None = None  # per source: 2 repeats each document, 0.5 keeps half
    bucket_tokens: int = 50_000_000  # tokens a shuffle bucket holds, which bounds memory

    def __post_init__(self):
        if not 1 <= self.shard_tokens < 1 << 31:
            raise ValueError(f"shard_tokens must be in 1..2147483647, got {self.shard_tokens}")
        if self.val_tokens < 0 or self.bucket_tokens < 1:
            raise ValueError("val_tokens must be at least 0 and bucket_tokens at least 1")
        if not 0.0 <= self.max_val_fraction < 1.0:
            raise ValueError(f"max_val_fraction must be in [0, 1), got {self.max_val_fraction}")
        for source, weight in (self.weights or {}).items():
            if source not in SOURCES:
                raise ValueError(
                    f"weights: unknown source '{source}' (sources: {', '.join(SOURCES)})"
                )
            if not (math.isfinite(weight) and 0.0 <= weight <= 1000.0):
                raise ValueError(f"weights.{source} must be in [0, 1000], got {weight}")

    def weight(self, source: str) -> float:
        return (self.weights or {}).get(source, 1.0)


def parse_weights(text: str) -> dict[str, float]:
    """`web=1,book=2.5` as a mapping; a malformed item is a ConfigError."""
    weights: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            weights[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weights takes SOURCE=NUMBER,..., got {item!r}") from None
    return weights


def doc_hashes(ids: list[str], seed: int) -> np.ndarray:
    """Three independent 64-bit hashes per document id (val, copies, order), keyed by `seed`."""
    key = b"corpus-shards" + seed.to_bytes(8, "little", signed=True)
    raw = b"".join(
        hashlib.blake2b(i.encode("utf-8"), digest_size=24, key=key).digest() for i in ids
    )
    return np.frombuffer(raw, dtype="<u8").reshape(len(ids), 3)


def unit(h: np.ndarray) -> np.ndarray:
    """uint64 hashes as floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class Shard(GlobalStage):
    """Tokenize, shuffle by seed and write llm.c-format token shards with a val split."""

    Params = ShardParams
    output_datasets = ("documents",)
    produces_documents = False

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        ref = params.tokenizer
        if earlier.get(ref) == "tokenizer" or Path(ref).is_file():
            return
        if ref in earlier:
            raise ConfigError(f"{where}.tokenizer: stage '{ref}' is not a tokenizer stage")
        raise ConfigError(
            f"{where}.tokenizer: '{ref}' is neither an earlier tokenizer stage nor a file"
        )

    @classmethod
    def bind(cls, params: dict, run_dir: Path) -> dict:
        ref = params["tokenizer"]
        produced = run_dir / ref / TOKENIZER_FILE
        if not Path(ref).is_file() and produced.is_file():
            ref = produced
        return {**params, "tokenizer": str(Path(ref).resolve())}

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        path = Path(params["tokenizer"])
        return [path] if path.is_file() else []

    # the driver ----------------------------------------------------------------------------

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        facts = tokenizer_facts(p.tokenizer)
        dtype = dtype_for_vocab(facts["vocab_size"])

        run = driver.run_payloads

        parts = [
            {"path": t.input_path, "sha256": t.fingerprint, "ord": i} for i, t in enumerate(tasks)
        ]
        tokenized = run("tokenize", parts, keys=[t.key for t in tasks], show=True)
        by_source: dict[str, dict] = {}
        for s in (r["stats"] for r in tokenized):
            for source, c in s["sources"].items():
                total = by_source.setdefault(
                    source, {"docs": 0, "bytes": 0, "words": 0, "tokens": 0}
                )
                for k in total:
                    total[k] += c[k]
        eligible = sum(c["tokens"] for s, c in by_source.items() if p.weight(s) > 0)
        val_bins = self._val_bins(tokenized, eligible)
        val_target = int(val_bins[-1]) if len(val_bins) else 0
        expected = {
            "train": sum(c["tokens"] * p.weight(s) for s, c in by_source.items()) - val_target,
            "val": val_target,
        }
        val_last_bin = len(val_bins) - 1
        buckets = {
            split: max(1, math.ceil(n / p.bucket_tokens)) if n > 0 else 0
            for split, n in expected.items()
        }
        files = [files_by_dest([r]) for r in tokenized]
        scattered = run(
            "scatter",
            [
                {"index": f["index"], "ord": i, "val_last_bin": val_last_bin, "buckets": buckets}
                for i, f in enumerate(files)
            ],
        )
        scatter = files_by_dest(scattered)
        tokens_files = {str(i): f["tokens"][0] for i, f in enumerate(files)}
        shard_records = []
        for split in ("train", "val"):
            if not buckets[split]:
                continue
            ordered = run(
                f"order_{split}",
                [{"files": scatter[f"{split}{j}"]} for j in range(buckets[split])],
            )
            sizes = [r["stats"]["tokens"] for r in ordered]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            total = int(starts[-1])
            n_shards = math.ceil(total / p.shard_tokens)
            payloads = []
            for k in range(n_shards):
                lo, hi = k * p.shard_tokens, min((k + 1) * p.shard_tokens, total)
                overlapping = [
                    {"start": int(starts[j]), **files_by_dest([ordered[j]])["order"][0]}
                    for j in range(len(sizes))
                    if sizes[j] and starts[j] < hi and starts[j + 1] > lo
                ]
                payloads.append(
                    {
                        "split": split,
                        "name": f"{split}_{k:06d}",
                        "lo": lo,
                        "hi": hi,
                        "buckets": overlapping,
                        "tokens_files": tokens_files,
                        "dtype": dtype.str,
                        "eot": facts["eot_id"],
                    }
                )
            shard_records += run(
                f"write_{split}", payloads, keys=[pl["name"] for pl in payloads], show=True
            )
        if not shard_records:
            raise CorpusError(
                "no tokens to shard: the dataset is empty or every source has weight 0"
            )
        self._manifest = self._manifest_doc(
            facts, dtype, by_source, val_last_bin, buckets, shard_records
        )
        stats = self._stats(tokenized + scattered, shard_records, by_source)
        return shard_records, stats

    def _val_bins(self, tokenized: list[dict], eligible: int) -> np.ndarray:
        """Cumulative tokens of the val bins taken: documents go to val in the order of their
        val hash, bin by bin, until `val_tokens` is reached, unless that passes
        `max_val_fraction` of the tokens; then as many bins as stay within it."""
        p = self.params
        if p.val_tokens == 0 or eligible == 0:
            return np.zeros(0, dtype=np.int64)
        total = np.zeros(1 << VAL_BITS, dtype=np.int64)
        for f in files_by_dest(tokenized)["valhist"]:
            table = read_files([f])
            for source in table.column_names:
                if source != "_" and p.weight(source) > 0:
                    total += table.column(source).to_numpy()
        cum = np.cumsum(total)
        cap = int(p.max_val_fraction * eligible)
        last = int(np.searchsorted(cum, p.val_tokens))  # first bin reaching the request
        last = min(last, len(cum) - 1)
        if cum[last] > cap:
            last = int(np.searchsorted(cum, cap, side="right")) - 1  # the most within the cap
        return cum[: last + 1]

    def _manifest_doc(self, facts, dtype, by_source, val_last_bin, buckets, shard_records) -> dict:
        p = self.params
        magic, version = magic_for(dtype)
        shards = []
        split_totals = {s: {"tokens": 0, "docs": 0, "shards": 0} for s in ("train", "val")}
        per_source = {
            s: {"train_docs": 0, "train_tokens": 0, "val_docs": 0, "val_tokens": 0}
            for s in by_source
        }
        for r in shard_records:
            s = r["stats"]
            (f,) = files_by_dest([r])["shard"]
            shards.append(
                {
                    "name": f["name"],
                    "split": s["split"],
                    "tokens": s["tokens"],
                    "docs_starting": s["docs_starting"],
                    "bytes": f["bytes"],
                    "sha256": f["sha256"],
                    "tokens_per_source": s["tokens_per_source"],
                }
            )
            totals = split_totals[s["split"]]
            totals["tokens"] += s["tokens"]
            totals["docs"] += s["docs_starting"]
            totals["shards"] += 1
            for source, n in s["tokens_per_source"].items():
                per_source[source][f"{s['split']}_tokens"] += n
            for source, n in s["docs_per_source"].items():
                per_source[source][f"{s['split']}_docs"] += n
        weighted = {src: c["tokens"] * p.weight(src) for src, c in by_source.items()}
        weighted_total = sum(weighted.values()) or 1
        train_total = split_totals["train"]["tokens"] or 1
        sources = {}
        for src in sorted(by_source):
            c = by_source[src]
            sources[src] = {
                "weight": p.weight(src),
                "docs_in": c["docs"],
                "bytes_in": c["bytes"],
                "words_in": c["words"],
                "tokens_in": c["tokens"],
                # tokens per whitespace-separated word, <|endoftext|> not counted
                "fertility": round((c["tokens"] - c["docs"]) / c["words"], 4)
                if c["words"]
                else None,
                "bytes_per_token": (
                    round(c["bytes"] / (c["tokens"] - c["docs"]), 4)
                    if c["tokens"] > c["docs"]
                    else None
                ),
                **per_source[src],
                "target_share": round(weighted[src] / weighted_total, 6),
                "realised_share": round(per_source[src]["train_tokens"] / train_total, 6),
            }
        return {
            "format": SHARDS_FORMAT,
            "magic": magic,
            "version": version,
            "dtype": dtype.name,
            "header_bytes": 1024,
            "tokenizer": facts,
            "seed": p.seed,
            "shard_tokens": p.shard_tokens,
            "weights": {src: p.weight(src) for src in sorted(by_source)},
            "val": {
                "requested_tokens": p.val_tokens,
                "max_fraction": p.max_val_fraction,
                "hash_bins": val_last_bin + 1,  # of 2**16: a document is in val when the top
                # 16 bits of its val hash are below this
            },
            "buckets": buckets,
            "splits": split_totals,
            "sources": sources,
            "shards": shards,
            "tokens_counted_with": "each document's tokens include the <|endoftext|> before it",
        }

    def _stats(self, records, shard_records, by_source) -> dict:
        docs_in = sum(c["docs"] for c in by_source.values())
        written = sum(r["stats"]["docs_starting"] for r in shard_records)
        dropped = sum(r["stats"].get("dropped", 0) for r in records)
        split_tokens = {"train": 0, "val": 0}
        for r in shard_records:
            split_tokens[r["stats"]["split"]] += r["stats"]["tokens"]
        return {
            "docs_in": docs_in,
            "bytes_in": sum(c["bytes"] for c in by_source.values()),
            "docs_out": written,
            "docs_rejected": dropped,
            "rejected": {"mixture_weight": dropped} if dropped else {},
            "task_s": sum(r["stats"].get("task_s", 0) for r in records + shard_records),
            "counters": {
                "tokens_in": sum(c["tokens"] for c in by_source.values()),
                "train_tokens": split_tokens["train"],
                "val_tokens": split_tokens["val"],
                "val_docs": sum(r["stats"].get("val_docs", 0) for r in records),
                "repeated_copies": written - (docs_in - dropped),
                "shards": len(shard_records),
            },
        }

    def unpublish(self, out_dir: Path) -> None:
        (out_dir / MANIFEST).unlink(missing_ok=True)

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        paths = [Path(f["dir"]) / f["name"] for f in files_by_dest(records)["shard"]]
        keep = {p.name for p in paths}
        for path in out_dir.iterdir():
            stale = SHARD_NAME.match(path.name) and path.name not in keep
            if path.is_file() and (stale or (path.name.startswith(".") and ".tmp-" in path.name)):
                path.unlink(missing_ok=True)
        manifest = out_dir / MANIFEST
        write_json_atomic(manifest, self._manifest)
        return [*paths, manifest]

    # the tasks -----------------------------------------------------------------------------

    def run_task(self, phase: str, payload: dict, out) -> dict:
        op = phase.split("_")[0]
        return getattr(self, f"_task_{op}")(payload, out)

    def _task_tokenize(self, pl, out) -> dict:
        tok = _tokenizer(self.params.tokenizer)
        dtype = dtype_for_vocab(tok.get_vocab_size(with_added_tokens=True))
        table = read_part_file(pl["path"], pl["sha256"], ["id", "text", "source"])
        texts = table.column("text").to_pylist()
        lengths = np.zeros(len(texts), dtype=np.int64)
        path = out.scratch_path("tokens", ".bin")
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            start = 0
            while start < len(texts):
                end, size = start, 0
                while end < len(texts) and (end == start or size < ENCODE_BATCH_BYTES):
                    size += len(texts[end])
                    end += 1
                flat = array.array("I")
                for i, encoding in enumerate(tok.encode_batch(texts[start:end]), start):
                    ids = encoding.ids
                    lengths[i] = len(ids)
                    flat.extend(ids)
                f.write(np.frombuffer(flat, dtype=np.uint32).astype(dtype).tobytes())
                start = end
        os.replace(tmp, path)
        count = int(lengths.sum())
        out.commit_file("tokens", path, dtype=dtype.str, count=count)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        sources = table.column("source")
        h = doc_hashes(table.column("id").to_pylist(), self.params.seed)
        out.write(
            "index",
            pa.table(
                {
                    "id": table.column("id"),
                    "source": sources,
                    "offset": pa.array(offsets[: len(texts)], pa.int64()),
                    "length": pa.array(lengths, pa.int64()),
                    "h_val": pa.array(h[:, 0], pa.uint64()),
                    "h_copy": pa.array(h[:, 1], pa.uint64()),
                    "h_order": pa.array(h[:, 2], pa.uint64()),
                }
            ),
        )
        # tokens per val bin and source: the driver picks the val split's bins from their sum
        bins = (h[:, 0] >> np.uint64(64 - VAL_BITS)).astype(np.int64)
        source_of = np.array(sources.to_pylist(), dtype=object)
        byte_lengths = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
        words = np.array([len(t.split()) for t in texts], dtype=np.int64)
        hist, per_source = {}, {}
        for source in sorted(set(source_of.tolist())):
            mask = source_of == source
            hist[source] = np.bincount(
                bins[mask], weights=lengths[mask] + 1, minlength=1 << VAL_BITS
            ).astype(np.int64)
            per_source[source] = {
                "docs": int(mask.sum()),
                "bytes": int(byte_lengths[mask].sum()),
                "words": int(words[mask].sum()),
                "tokens": int(lengths[mask].sum() + mask.sum()),  # each with its <|endoftext|>
            }
        out.write("valhist", pa.table(hist) if hist else pa.table({"_": pa.array([], pa.int64())}))
        return {"docs_in": len(texts), "bytes_in": int(byte_lengths.sum()), "sources": per_source}

    def _task_scatter(self, pl, out) -> dict:
        p = self.params
        index = read_files(pl["index"])
        n = 0 if index is None else index.num_rows
        if n == 0:
            return {"docs": 0}
        sources = index.column("source").to_pylist()
        h_val, h_copy, h_order = (
            index.column(c).to_numpy() for c in ("h_val", "h_copy", "h_order")
        )
        weight = np.array([p.weight(s) for s in sources], dtype=np.float64)
        val_bin = (h_val >> np.uint64(64 - VAL_BITS)).astype(np.int64)
        is_val = (val_bin <= pl["val_last_bin"]) & (weight > 0)
        copies = np.floor(weight).astype(np.int64)
        copies += unit(h_copy) < (weight - np.floor(weight))
        copies[is_val] = 1
        rows = np.arange(n, dtype=np.int64)
        stats = {"docs": n, "val_docs": int(is_val.sum()), "dropped": int((copies == 0).sum())}
        for split, mask in (("train", ~is_val), ("val", is_val)):
            n_buckets = pl["buckets"][split]
            if not n_buckets or not mask.any():
                continue
            reps = copies[mask]
            doc = np.repeat(rows[mask], reps)
            if not len(doc):
                continue
            # copy number of each repeat: 0, 1, ... within each document
            first = np.repeat(np.cumsum(reps) - reps, reps)
            copy = np.arange(len(doc), dtype=np.int64) - first
            with np.errstate(over="ignore"):
                key = mix64(h_order[doc] + copy.astype(np.uint64) * GOLDEN)
            bucket = (key % np.uint64(n_buckets)).astype(np.int64)
            table = pa.table(
                {
                    "key": pa.array(key, pa.uint64()),
                    "ord": pa.array(np.full(len(doc), pl["ord"], dtype=np.int64)),
                    "row": pa.array(doc, pa.int64()),
                    "copy": pa.array(copy, pa.int64()),
                    "id": index.column("id").take(pa.array(doc)),
                    "source": index.column("source").take(pa.array(doc)),
                    "offset": index.column("offset").take(pa.array(doc)),
                    "length": index.column("length").take(pa.array(doc)),
                }
            )
            order = np.argsort(bucket, kind="stable")
            sorted_bucket = bucket[order]
            bounds = np.flatnonzero(np.diff(sorted_bucket)) + 1
            for chunk in np.split(order, bounds):
                out.write(f"{split}{int(bucket[chunk[0]])}", table.take(pa.array(chunk)))
        return stats

    def _task_order(self, pl, out) -> dict:
        table = read_files(pl["files"])
        if table is None:
            out.write("order", pa.table({"key": pa.array([], pa.uint64())}))
            return {"tokens": 0, "docs": 0}
        keys = [table.column(c).to_numpy() for c in ("copy", "row", "ord", "key")]
        order = np.lexsort(keys)  # by key, then ord, row and copy for equal keys
        table = table.take(pa.array(order))
        out.write("order", table)
        tokens = int(table.column("length").to_numpy().sum()) + table.num_rows
        return {"tokens": tokens, "docs": table.num_rows}

    def _task_write(self, pl, out) -> dict:
        dtype = np.dtype(pl["dtype"])
        eot = pl["eot"]
        lo, hi = pl["lo"], pl["hi"]
        token_files: dict[int, np.ndarray] = {}

        def tokens_of(ord_: int) -> np.ndarray:
            if ord_ not in token_files:
                f = pl["tokens_files"][str(ord_)]
                path = Path(f["dir"]) / f["name"]
                if path.stat().st_size != f["count"] * dtype.itemsize:
                    raise CorpusError(f"{path}: token file has the wrong size; run again")
                token_files[ord_] = (
                    np.memmap(path, dtype=dtype, mode="r") if f["count"] else np.zeros(0, dtype)
                )
            return token_files[ord_]

        buf = np.empty(hi - lo, dtype=dtype)
        doc_rows = {"id": [], "source": [], "offset": [], "tokens": [], "copy": []}
        tokens_per_source: dict[str, int] = {}
        docs_per_source: dict[str, int] = {}
        for bucket in pl["buckets"]:
            table = read_files([bucket])
            length = table.column("length").to_numpy()
            size = length + 1
            start = bucket["start"] + np.concatenate([[0], np.cumsum(size)[:-1]])
            pick = np.flatnonzero((start < hi) & (start + size > lo))
            if not len(pick):
                continue
            ords = table.column("ord").to_numpy()
            offsets = table.column("offset").to_numpy()
            ids = table.column("id").to_pylist()
            sources = table.column("source").to_pylist()
            copies = table.column("copy").to_numpy()
            for i in pick.tolist():
                s, n = int(start[i]), int(size[i])
                doc = np.empty(n, dtype=dtype)
                doc[0] = eot
                off = int(offsets[i])
                doc[1:] = tokens_of(int(ords[i]))[off : off + n - 1]
                a, b = max(s, lo), min(s + n, hi)
                buf[a - lo : b - lo] = doc[a - s : b - s]
                src = sources[i]
                tokens_per_source[src] = tokens_per_source.get(src, 0) + (b - a)
                if s >= lo:
                    docs_per_source[src] = docs_per_source.get(src, 0) + 1
                    doc_rows["id"].append(ids[i])
                    doc_rows["source"].append(src)
                    doc_rows["offset"].append(s - lo)
                    doc_rows["tokens"].append(n)
                    doc_rows["copy"].append(int(copies[i]))
        path = Path(out.job.out_dir) / f"{pl['name']}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with ShardWriter(path, dtype) as writer:
            writer.write(buf)
        out.commit_file("shard", path, split=pl["split"], tokens=hi - lo)
        n_docs = len(doc_rows["id"])
        out.write(
            "documents",
            pa.table(
                {
                    "id": pa.array(doc_rows["id"], pa.string()),
                    "source": pa.array(doc_rows["source"], pa.string()),
                    "split": pa.array([pl["split"]] * n_docs, pa.string()),
                    "shard": pa.array([f"{pl['name']}.bin"] * n_docs, pa.string()),
                    "offset": pa.array(doc_rows["offset"], pa.int64()),
                    "tokens": pa.array(doc_rows["tokens"], pa.int64()),
                    "copy": pa.array(doc_rows["copy"], pa.int64()),
                }
            ),
        )
        return {
            "split": pl["split"],
            "tokens": hi - lo,
            "docs_starting": n_docs,
            "tokens_per_source": dict(sorted(tokens_per_source.items())),
            "docs_per_source": dict(sorted(docs_per_source.items())),
        }
