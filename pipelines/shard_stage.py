"""The `shard` stage: write packed token shards.

It writes llm.c-format shards (`corpus/shards.py`) without holding the corpus in memory:
  tokenize  per part (on the executor): encode every document, write its tokens to one raw file
            and an index (id, source, offset, length)
  scatter   per part: decide each document's fate from a hash of (seed, id) alone: the val split
            (by document), how many copies the source's mixture weight gives it (repeats or drops
            whole documents), and for each copy a random 64-bit key whose residue picks a bucket;
            each copy goes to its bucket with its tokens, read from the part's own token file
  order     per slice of a bucket: sort its documents by key, a uniformly random order within
            the bucket (a bucket is cut into slices by the top bits of the key, so its slices
            sorted one by one and laid end to end are the bucket sorted)
  write     per shard: the buckets laid end to end are the shuffled stream of documents, each
            preceded by <|endoftext|>; a shard is a fixed-size window of that stream, read from
            the few ordered buckets it overlaps, one after another (never a slice of every part)
Random bucket, then a random order within it, is a uniform shuffle of all documents, and every
choice is a function of the seed and the document's id and position, so the shards are the same
bytes whatever the executor or the number of workers. A bucket holds about `bucket_tokens`
tokens; the number of buckets depends on the data only. A slice holds at most about
`SLICE_TOKENS`, which bounds the memory of an order or write task whatever the corpus's size;
how many slices a bucket has changes no byte of the shards.
"""

from __future__ import annotations

import array
import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus import storage
from corpus.dataset import read_part_file, write_json_atomic
from corpus.errors import CorpusError, CorruptPartError
from corpus.shards import MANIFEST, ShardWriter, dtype_for_vocab
from corpus.tokenizer import load_tokenizer, tokenizer_facts
from pipelines.params import ConfigError
from pipelines.phases import (
    Dest,
    InputPart,
    ShuffleInput,
    files_by_dest,
    input_parts,
    read_files,
    shuffled,
)
from pipelines.shard_manifest import manifest
from pipelines.shard_plan import (
    COPY_BITS,
    VAL_BITS,
    ShardParams,
    budget_copies,
    copies,
    copy_bin,
    doc_hashes,
    fit_budget,
    repeats,
    shuffle_key,
    val_bin,
    val_bins,
)
from pipelines.stages import GlobalStage
from pipelines.tokenizer_stage import TOKENIZER_FILE

SHARD_NAME = re.compile(r"^(train|val)_\d{6}\.bin$")
ENCODE_BATCH_BYTES = 4 << 20  # text encoded per call, which bounds a tokenize task's memory
SLICE_TOKENS = 1 << 23  # most tokens of a bucket's slice, about, which an order task holds


@functools.lru_cache(maxsize=2)
def _cached_tokenizer(path: str, size: int, mtime_ns: int):
    return load_tokenizer(path)[0]


def _tokenizer(path: str):
    """The tokenizer at `path`, loaded once per worker process (until the file changes)."""
    local = storage.local_copy(path)  # one on an object store: this node's copy
    st = os.stat(local)
    return _cached_tokenizer(str(local), st.st_size, st.st_mtime_ns)


def _token_file(f: dict) -> np.ndarray:
    """A part's token file (on an object store: its bytes, fetched), checked for its size."""
    dtype = np.dtype(f["dtype"])
    where = Path(f["dir"]) / f["name"]
    data = storage.read_bytes(where)
    if len(data) != f["count"] * dtype.itemsize:
        raise CorpusError(f"{storage.show(where)}: token file has the wrong size; run again")
    return np.frombuffer(data, dtype=dtype)


def _token_slices(tokens: np.ndarray, lengths: np.ndarray, doc: np.ndarray) -> pa.Array:
    """Documents `doc` of a part, each the raw bytes of its token ids: the part's token file
    (each document's tokens after the one before) cut at its documents' lengths, then taken."""
    bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]) * tokens.dtype.itemsize
    if bounds[-1] != tokens.nbytes:
        raise CorruptPartError("a token file does not hold its index's lengths; run again")
    every = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(lengths), [None, pa.py_buffer(bounds), pa.py_buffer(tokens)]
    )
    return every.take(pa.array(doc))


def slice_bits(tokens: int, buckets: int) -> int:
    """How many top bits of the key cut each bucket into slices: enough that a slice holds at
    most about `SLICE_TOKENS` of the split's `tokens`."""
    if not buckets:
        return 0
    return max(0, math.ceil(math.log2(max(1.0, tokens / buckets / SLICE_TOKENS))))


def destination(key: np.ndarray, buckets: int, bits: int) -> np.ndarray:
    """A copy's slice of its bucket, numbered bucket by bucket: the bucket is the key's residue,
    the slice its top `bits` (so slice order within a bucket is key order)."""
    bucket = (key % np.uint64(buckets)).astype(np.int64)
    if not bits:
        return bucket
    return (bucket << np.int64(bits)) + (key >> np.uint64(64 - bits)).astype(np.int64)


def _stream(tokens: pa.ChunkedArray, size: np.ndarray, dtype: np.dtype, eot: int) -> np.ndarray:
    """A bucket's documents in order, each preceded by <|endoftext|>: its part of the stream."""
    values = tokens.combine_chunks().cast(pa.large_binary())
    bounds = np.frombuffer(values.buffers()[1], dtype=np.int64)
    bounds = bounds[values.offset : values.offset + len(values) + 1]
    stream = np.empty(int(size.sum()), dtype=dtype)
    heads = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    body = np.ones(len(stream), dtype=bool)
    body[heads] = False
    stream[heads] = eot
    if len(bounds) and bounds[-1] > bounds[0]:
        data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[bounds[0] : bounds[-1]]
        stream[body] = data.view(dtype)
    elif body.any():
        raise CorpusError("a shuffle bucket has fewer tokens than its documents' lengths")
    return stream


@dataclass(frozen=True)
class Scatter:
    """scatter: a tokenized part's documents, each copy sent to its bucket of its split."""

    index: list[dict]  # the part's index file
    tokens: dict  # the part's token file
    ordinal: int  # of the part
    val_last_bin: int  # documents in val bins 0..val_last_bin are val documents
    buckets: dict[str, int]  # per split
    bits: dict[str, int]  # per split: `slice_bits`
    # under a token budget, per source: [whole copies, copy bins that get one more]
    budget: dict[str, list[int]] | None = None


@dataclass(frozen=True)
class Bucket:
    """order_train, order_val: one slice's documents, to be put in the order of their keys."""

    files: ShuffleInput


@dataclass(frozen=True)
class ShardWindow:
    """write_train, write_val: the tokens lo..hi of a split's stream of documents, as one shard."""

    split: str
    name: str
    lo: int
    hi: int
    buckets: list[dict]  # the ordered slices that overlap the window, each with its "start"
    dtype: str
    eot: int


class Shard(GlobalStage):
    """Tokenize, shuffle by seed and write llm.c-format token shards with a val split."""

    Params = ShardParams
    version = 2  # 2: a token budget is met to a copy bin, not in expectation
    output_datasets = ("documents",)
    produces_documents = False

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        ref = params.tokenizer
        if earlier.get(ref) == "tokenizer" or storage.is_file(ref):
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
        if not storage.is_file(ref) and storage.is_file(produced):
            ref = produced
        return {**params, "tokenizer": str(storage.absolute(ref))}

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        path = Path(params["tokenizer"])
        return [path] if storage.is_file(path) else []

    # the driver ----------------------------------------------------------------------------

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        facts = tokenizer_facts(p.tokenizer)
        dtype = dtype_for_vocab(facts["vocab_size"])

        run = driver.run_payloads

        tokenized = run("tokenize", input_parts(tasks), keys=[t.key for t in tasks], show=True)
        by_source: dict[str, dict] = {}
        for s in (r["stats"] for r in tokenized):
            for source, c in s["sources"].items():
                total = by_source.setdefault(
                    source, {"docs": 0, "bytes": 0, "words": 0, "tokens": 0}
                )
                for k in total:
                    total[k] += c[k]
        eligible = sum(c["tokens"] for s, c in by_source.items() if p.weight(s) > 0)
        val_hists = self._hists(tokenized, "valhist")
        val_bins = self._val_bins(val_hists, eligible)
        val_target = int(val_bins[-1]) if len(val_bins) else 0
        expected = {
            "train": sum(c["tokens"] * p.weight(s) for s, c in by_source.items()) - val_target,
            "val": val_target,
        }
        val_last_bin = len(val_bins) - 1
        budget, scale = None, 1.0
        if p.tokens is not None:  # repeat or sample the train split to the budget
            scale, budget, expected["train"] = self._fit_budget(
                tokenized, val_hists, val_last_bin, by_source
            )
        buckets = {
            split: max(1, math.ceil(n / p.bucket_tokens)) if n > 0 else 0
            for split, n in expected.items()
        }
        bits = {split: slice_bits(expected[split], buckets[split]) for split in buckets}
        files = [files_by_dest([r]) for r in tokenized]
        scattered = run(
            "scatter",
            [
                Scatter(
                    f[Dest("index")], f[Dest("tokens")][0], i, val_last_bin, buckets, bits, budget
                )
                for i, f in enumerate(files)
            ],
        )
        scatter = files_by_dest(scattered)
        shard_records = []
        for split in ("train", "val"):
            if not buckets[split]:
                continue
            slices = buckets[split] << bits[split]
            ordered = run(
                f"order_{split}", [Bucket(shuffled(scatter, split, j)) for j in range(slices)]
            )
            sizes = [r["stats"]["tokens"] for r in ordered]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            total = int(starts[-1])
            n_shards = math.ceil(total / p.shard_tokens)
            payloads = []
            for k in range(n_shards):
                lo, hi = k * p.shard_tokens, min((k + 1) * p.shard_tokens, total)
                overlapping = [
                    {"start": int(starts[j]), **files_by_dest([ordered[j]])[Dest("order")][0]}
                    for j in range(len(sizes))
                    if sizes[j] and starts[j] < hi and starts[j + 1] > lo
                ]
                name = f"{split}_{k:06d}"
                payloads.append(
                    ShardWindow(split, name, lo, hi, overlapping, dtype.str, facts["eot_id"])
                )
            shard_records += run(
                f"write_{split}", payloads, keys=[pl.name for pl in payloads], show=True
            )
        if not shard_records:
            raise CorpusError(
                "no tokens to shard: the dataset is empty or every source has weight 0"
            )
        self._manifest = manifest(p, facts, dtype, by_source, val_last_bin, buckets, shard_records)
        if p.tokens is not None:
            self._manifest["budget"] = {
                "tokens": p.tokens,
                "scale": round(scale, 6),
                "train_tokens": expected["train"],
            }
        stats = self._stats(tokenized + scattered, shard_records, by_source)
        return shard_records, stats

    def _hists(self, tokenized: list[dict], kind: str) -> dict[str, np.ndarray]:
        """Per source in the mixture, the sum over parts of a histogram the tokenize tasks
        wrote: tokens per val bin (`valhist`) or per copy bin (`copyhist`)."""
        sums: dict[str, np.ndarray] = {}
        for f in files_by_dest(tokenized)[Dest(kind)]:
            table = read_files([f])
            for source in table.column_names:
                if source != "_" and self.params.weight(source) > 0:
                    counts = table.column(source).to_numpy()
                    sums[source] = sums[source] + counts if source in sums else counts.copy()
        return dict(sorted(sums.items()))

    def _val_bins(self, val_hists: dict[str, np.ndarray], eligible: int) -> np.ndarray:
        """Cumulative tokens of the val bins taken (`val_bins`), from the tokens per val bin
        that the tokenize tasks counted for the sources in the mixture."""
        p = self.params
        if p.val_tokens == 0 or eligible == 0:
            return np.zeros(0, dtype=np.int64)
        total = np.zeros(1 << VAL_BITS, dtype=np.int64)
        for counts in val_hists.values():
            total += counts
        return val_bins(total, p.val_tokens, p.max_val_fraction, eligible)

    def _fit_budget(self, tokenized, val_hists, val_last_bin: int, by_source):
        """The budget's factor on the weights, the copies per source it gives, and the train
        tokens they hold: exact from the tokens per copy bin when there is no val split; with
        one, each source's bins are thinned by its share of val tokens (the copy and val hashes
        are independent)."""
        p = self.params
        hists = {}
        for source, counts in self._hists(tokenized, "copyhist").items():
            val = int(val_hists[source][: val_last_bin + 1].sum()) if val_last_bin >= 0 else 0
            total = by_source[source]["tokens"]
            hists[source] = counts * ((total - val) / total) if val else counts
        try:
            return fit_budget(hists, {s: p.weight(s) for s in hists}, p.tokens)
        except ValueError as e:
            raise CorpusError(str(e)) from None

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
        storage.unlink(out_dir / MANIFEST)

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        paths = [Path(f["dir"]) / f["name"] for f in files_by_dest(records)[Dest("shard")]]
        keep = {p.name for p in paths}
        for name in storage.listdir(out_dir):
            stale = SHARD_NAME.match(name) and name not in keep
            if (stale or (name.startswith(".") and ".tmp-" in name)) and storage.is_file(
                out_dir / name
            ):
                storage.unlink(out_dir / name)
        manifest = out_dir / MANIFEST
        write_json_atomic(manifest, self._manifest)
        return [*paths, manifest]

    # the tasks -----------------------------------------------------------------------------

    def run_task(self, phase: str, payload, out) -> dict:
        op = phase.split("_")[0]
        return getattr(self, f"_task_{op}")(payload, out)

    def _task_tokenize(self, pl: InputPart, out) -> dict:
        tok = _tokenizer(self.params.tokenizer)
        dtype = dtype_for_vocab(tok.get_vocab_size(with_added_tokens=True))
        table = read_part_file(pl.path, pl.sha256, ["id", "text", "source"])
        texts = table.column("text").to_pylist()
        lengths = np.zeros(len(texts), dtype=np.int64)
        path = out.scratch_path(Dest("tokens"), ".bin")
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
        out.commit_file(Dest("tokens"), path, dtype=dtype.str, count=count)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        sources = table.column("source")
        h = doc_hashes(table.column("id").to_pylist(), self.params.seed)
        out.write(
            Dest("index"),
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
        bins = val_bin(h[:, 0])
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
        no_hist = pa.table({"_": pa.array([], pa.int64())})
        out.write(Dest("valhist"), pa.table(hist) if hist else no_hist)
        if self.params.tokens is not None:  # tokens per copy bin and source, for the budget
            cbins, copy_hist = copy_bin(h[:, 1]), {}
            for source in hist:
                mask = source_of == source
                copy_hist[source] = np.bincount(
                    cbins[mask], weights=lengths[mask] + 1, minlength=1 << COPY_BITS
                ).astype(np.int64)
            out.write(Dest("copyhist"), pa.table(copy_hist) if copy_hist else no_hist)
        return {"docs_in": len(texts), "bytes_in": int(byte_lengths.sum()), "sources": per_source}

    def _task_scatter(self, pl: Scatter, out) -> dict:
        p = self.params
        index = read_files(pl.index)
        n = 0 if index is None else index.num_rows
        if n == 0:
            return {"docs": 0}
        sources = index.column("source").to_pylist()
        h_val, h_copy, h_order = (
            index.column(c).to_numpy() for c in ("h_val", "h_copy", "h_order")
        )
        tokens = _token_file(pl.tokens)
        lengths = index.column("length").to_numpy()
        weight = np.array([p.weight(s) for s in sources], dtype=np.float64)
        is_val = (val_bin(h_val) <= pl.val_last_bin) & (weight > 0)
        if pl.budget is None:
            n_copies = copies(weight, h_copy, is_val)
        else:
            plan = [pl.budget.get(s, [0, 0]) for s in sources]
            whole = np.array([w for w, _ in plan], dtype=np.int64)
            below = np.array([b for _, b in plan], dtype=np.int64)
            n_copies = budget_copies(whole, below, h_copy, is_val)
        rows = np.arange(n, dtype=np.int64)
        stats = {"docs": n, "val_docs": int(is_val.sum()), "dropped": int((n_copies == 0).sum())}
        for split, mask in (("train", ~is_val), ("val", is_val)):
            n_buckets = pl.buckets[split]
            if not n_buckets or not mask.any():
                continue
            doc, copy = repeats(rows[mask], n_copies[mask])
            if not len(doc):
                continue
            key = shuffle_key(h_order[doc], copy)
            target = destination(key, n_buckets, pl.bits[split])
            table = pa.table(
                {
                    "key": pa.array(key, pa.uint64()),
                    "ord": pa.array(np.full(len(doc), pl.ordinal, dtype=np.int64)),
                    "row": pa.array(doc, pa.int64()),
                    "copy": pa.array(copy, pa.int64()),
                    "id": index.column("id").take(pa.array(doc)),
                    "source": index.column("source").take(pa.array(doc)),
                    "length": index.column("length").take(pa.array(doc)),
                    "tokens": _token_slices(tokens, lengths, doc),
                }
            )
            out.write_split(split, table, target)
        return stats

    def _task_order(self, pl: Bucket, out) -> dict:
        table = read_files(pl.files)
        if table is None:
            out.write(Dest("order"), pa.table({"key": pa.array([], pa.uint64())}))
            return {"tokens": 0, "docs": 0}
        keys = [table.column(c).to_numpy() for c in ("copy", "row", "ord", "key")]
        order = np.lexsort(keys)  # by key, then ord, row and copy for equal keys
        table = table.take(pa.array(order))
        out.write(Dest("order"), table)
        tokens = int(table.column("length").to_numpy().sum()) + table.num_rows
        return {"tokens": tokens, "docs": table.num_rows}

    def _task_write(self, pl: ShardWindow, out) -> dict:
        dtype = np.dtype(pl.dtype)
        lo, hi = pl.lo, pl.hi
        doc_rows = {"id": [], "source": [], "offset": [], "tokens": [], "copy": []}
        tokens_per_source: dict[str, int] = {}
        docs_per_source: dict[str, int] = {}
        # written locally (in this node's cache when the run is on an object store)
        path = storage.local_path(Path(out.job.out_dir) / f"{pl.name}.bin")
        path.parent.mkdir(parents=True, exist_ok=True)
        with ShardWriter(path, dtype) as writer:
            for bucket in pl.buckets:  # in stream order: the window is written front to back
                table = read_files([bucket], ["id", "source", "copy", "length", "tokens"])
                size = table.column("length").to_numpy() + 1
                start = bucket["start"] + np.concatenate([[0], np.cumsum(size)[:-1]])
                pick = np.flatnonzero((start < hi) & (start + size > lo))
                if not len(pick):
                    continue
                stream = _stream(table.column("tokens"), size, dtype, pl.eot)
                first = int(start[pick[0]])
                a, b = max(first, lo), min(int(start[pick[-1]] + size[pick[-1]]), hi)
                writer.write(stream[a - bucket["start"] : b - bucket["start"]])
                ids = table.column("id").to_pylist()
                sources = table.column("source").to_pylist()
                copies = table.column("copy").to_numpy()
                for i in pick.tolist():
                    s, n = int(start[i]), int(size[i])
                    src = sources[i]
                    tokens_per_source[src] = (
                        tokens_per_source.get(src, 0) + min(s + n, hi) - max(s, lo)
                    )
                    if s >= lo:
                        docs_per_source[src] = docs_per_source.get(src, 0) + 1
                        doc_rows["id"].append(ids[i])
                        doc_rows["source"].append(src)
                        doc_rows["offset"].append(s - lo)
                        doc_rows["tokens"].append(n)
                        doc_rows["copy"].append(int(copies[i]))
        out.commit_file(Dest("shard"), path, split=pl.split, tokens=hi - lo)
        n_docs = len(doc_rows["id"])
        out.write(
            Dest("documents"),
            pa.table(
                {
                    "id": pa.array(doc_rows["id"], pa.string()),
                    "source": pa.array(doc_rows["source"], pa.string()),
                    "split": pa.array([pl.split] * n_docs, pa.string()),
                    "shard": pa.array([f"{pl.name}.bin"] * n_docs, pa.string()),
                    "offset": pa.array(doc_rows["offset"], pa.int64()),
                    "tokens": pa.array(doc_rows["tokens"], pa.int64()),
                    "copy": pa.array(doc_rows["copy"], pa.int64()),
                }
            ),
        )
        return {
            "split": pl.split,
            "tokens": hi - lo,
            "docs_starting": n_docs,
            "tokens_per_source": dict(sorted(tokens_per_source.items())),
            "docs_per_source": dict(sorted(docs_per_source.items())),
        }
