"""Tokenizer training and token shards: the llm.c format read back by a reader written from the
spec, exact round trips on every real source, the val split, mixture weights, uint32 shards,
byte-identical output whatever the executor, resume, the commands and the pipeline stages."""

from __future__ import annotations

import csv
import functools
import gzip
import json
import math
import signal
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from corpus.bpe_training import bytes_per_bin, last_bin_within, train_bpe, training_batches
from corpus.checksums import sha256_file
from corpus.dataset import Dataset
from corpus.shards import ShardError, open_shard, read_header, write_shard
from corpus.tokenizer import EOT, load_tokenizer
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.inputs import InputFile
from pipelines.params import parse_params
from pipelines.stages import REGISTRY
from samples.shared_data import SHARED_DATA
from tests.commands import kill_when, run_corpus
from tests.datasets import write_dataset
from tests.runs import run_shards, run_tokenizer
from tests.shared_data_skip import require_shared_data

Shard = REGISTRY["shard"]
TrainTokenizer = REGISTRY["tokenizer"]


# --- a reader written from DESIGN §8, sharing no code with corpus/shards.py ---------------------


def spec_read(path: Path) -> np.ndarray:
    """256 little-endian int32 of header (magic, version, count), then the tokens."""
    data = Path(path).read_bytes()
    magic, version, count = struct.unpack("<3i", data[:12])
    assert struct.unpack("<253i", data[12:1024]) == (0,) * 253
    if magic == 20240520:
        assert version == 1
        width, kind = 2, "<u2"
    else:
        assert (magic, version) == (20240801, 7)
        width, kind = 4, "<u4"
    assert len(data) == 1024 + count * width
    return np.frombuffer(data[1024:], dtype=kind)


def spec_documents(directory: Path, split: str, eot: int) -> list[list[int]]:
    """The documents of a split in stream order: the shards, in name order, laid end to end and
    cut before each <|endoftext|>."""
    files = sorted(directory.glob(f"{split}_*.bin"))
    stream = np.concatenate([spec_read(f) for f in files]) if files else np.zeros(0, int)
    if len(stream) == 0:
        return []
    assert stream[0] == eot, "a split starts with <|endoftext|>"
    cuts = np.flatnonzero(stream == eot)
    return [stream[a + 1 : b].tolist() for a, b in zip(cuts, [*cuts[1:], len(stream)], strict=True)]


# --- real documents from every source in ../shared/data ------------------------------------------


def _extracted(kind: str, path: Path, tmp: Path) -> list[dict]:
    cls = REGISTRY[f"extract_{kind}"]
    stage = cls(parse_params(cls.Params, {"paths": [str(path)]}, "test"))
    stage.scratch_dir = tmp
    rows = []
    for result in stage.read_group([InputFile(path, path.name)]):
        rows += result.kept.select(["id", "text", "source"]).to_pylist()
    return rows


@functools.cache
def shared_documents() -> tuple[dict, ...]:
    """Every document our readers extract from ../shared/data, plus raw text the readers do not
    see whole: the toxicity CSV rows (tweets with emoji), the word lists, and the books decoded
    from their own encodings (Latin-1 included) with their Gutenberg headers."""
    import tempfile

    require_shared_data()

    tmp = Path(tempfile.mkdtemp())
    docs: list[dict] = []
    books = SHARED_DATA / "books"
    for path in sorted(books.glob("*.txt.gz")) + [books / "live-manual.en.epub"]:
        docs += _extracted("book", path, tmp)
    docs += _extracted("forum", SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz", tmp)
    for path in sorted((SHARED_DATA / "social").iterdir()):
        docs += _extracted("social", path, tmp)
    for path in sorted((SHARED_DATA / "warc").glob("*.warc*.gz")):
        docs += _extracted("web", path, tmp)
    html = sorted((SHARED_DATA / "html" / "scrapinghub").glob("*.html.gz"))
    html += sorted((SHARED_DATA / "html" / "trafilatura").glob("*.html"))
    for path in html:
        docs += _extracted("article", path, tmp)
    with gzip.open(SHARED_DATA / "warc" / "dolma_cc_en_head-0091.jsonl.gz", "rt") as f:
        docs += [
            {"id": f"dolma-{i}", "text": json.loads(line)["text"], "source": "web"}
            for i, line in enumerate(f)
        ]
    for name in ("davidson_slice.csv", "jigsaw_subset_ibm_max_test_examples.csv"):
        with open(SHARED_DATA / "toxicity" / name, encoding="utf-8", newline="") as f:
            for i, row in enumerate(csv.reader(f)):
                docs.append({"id": f"{name}-{i}", "text": " ".join(row), "source": "social"})
    for path in sorted((SHARED_DATA / "toxicity" / "ldnoobw").iterdir()):
        docs.append({"id": f"words-{path.name}", "text": path.read_text("utf-8"), "source": "web"})
    for path in sorted(books.glob("*.txt.gz")):
        encoding = "latin-1" if "latin1" in path.name or "old" in path.name else "utf-8"
        text = gzip.decompress(path.read_bytes()).decode(encoding)
        docs.append({"id": f"raw-{path.name}", "text": text, "source": "book"})
    return tuple(docs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tokenizer trained by the stage on a dataset of every shared document."""
    root = tmp_path_factory.mktemp("tok")
    write_dataset(root / "docs", list(shared_documents()), part_rows=400)
    out = root / "tokenizer"
    run_tokenizer(root / "docs", out, vocab_size=8000)
    return root / "docs", out / "tokenizer.json"


def listed_ids(directory: Path, split: str) -> list[str]:
    """The ids the published `documents` dataset places in `split`, in stream order."""
    rows = [r for r in Dataset(directory / "documents").read_all().to_pylist()]
    rows = sorted((r for r in rows if r["split"] == split), key=lambda r: (r["shard"], r["offset"]))
    return [r["id"] for r in rows]


def shard_bytes(directory: Path) -> dict[str, str]:
    names = sorted(p.name for p in directory.glob("*.bin")) + ["shards.json"]
    return {n: sha256_file(directory / n) for n in names}


# --- the format ----------------------------------------------------------------------------------


def test_header_is_llmc_layout_and_reader_checks_it(tmp_path):
    tokens = np.array([5, 0, 65535, 7], dtype=np.uint16)
    write_shard(tmp_path / "a.bin", tokens)
    raw = (tmp_path / "a.bin").read_bytes()
    assert len(raw) == 1024 + 8
    assert struct.unpack("<3i", raw[:12]) == (20240520, 1, 4)
    assert spec_read(tmp_path / "a.bin").tolist() == [5, 0, 65535, 7]
    big = np.array([70000, 0, 2**32 - 1], dtype=np.uint32)
    write_shard(tmp_path / "b.bin", big)
    assert struct.unpack("<3i", (tmp_path / "b.bin").read_bytes()[:12]) == (20240801, 7, 3)
    assert open_shard(tmp_path / "b.bin").tolist() == big.tolist()

    bad = tmp_path / "bad.bin"
    for data, words in [
        (raw[:1000], "too short"),
        (raw[:-2], "truncated"),
        (raw + b"\0\0", "trailing"),
        (struct.pack("<i", 1234) + raw[4:], "bad magic"),
        (raw[:4] + struct.pack("<i", 7) + raw[8:], "version 7"),
    ]:
        bad.write_bytes(data)
        with pytest.raises(ShardError, match=words) as err:
            read_header(bad)
        assert "\n" not in str(err.value) and "bad.bin" in str(err.value)


# --- the tokenizer -------------------------------------------------------------------------------


def test_tokenizer_round_trips_every_shared_document(trained):
    _, path = trained
    tok = Tokenizer.from_file(str(path))
    docs = shared_documents()
    kinds = Counter(d["source"] for d in docs)
    assert set(kinds) == {"web", "article", "book", "forum", "social"}, kinds
    texts = [d["text"] for d in docs]
    assert any(ord(c) > 0xFFFF for t in texts for c in t), "emoji are among the texts"
    assert any("é" in t or "æ" in t for t in texts), "Latin-1 letters are among the texts"
    assert any(d["id"].startswith("davidson_slice.csv") for d in docs)
    assert any(d["id"] == "raw-pg9198_complete-angler_latin1.txt.gz" for d in docs)
    encoded = tok.encode_batch(texts)
    for doc, enc in zip(docs, encoded, strict=True):
        assert tok.decode(enc.ids, skip_special_tokens=False) == doc["text"], doc["id"]
    assert tok.token_to_id(EOT) is not None
    assert tok.get_vocab_size() == 8000  # the corpus is large enough to reach it


def test_transformers_loads_the_tokenizer_and_agrees(trained):
    from transformers import PreTrainedTokenizerFast

    _, path = trained
    tok = Tokenizer.from_file(str(path))
    hf = PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token=EOT)
    assert hf.eos_token_id == tok.token_to_id(EOT)
    for doc in shared_documents()[::25]:
        ids = hf.encode(doc["text"])
        assert ids == tok.encode(doc["text"]).ids
        assert hf.decode(ids) == doc["text"]


def test_eot_string_inside_a_document_is_plain_text(trained):
    _, path = trained
    tok, eot = load_tokenizer(path)
    text = "the end <|endoftext|> is not the end"
    ids = tok.encode(text).ids
    assert eot not in ids
    assert tok.decode(ids, skip_special_tokens=False) == text


def test_training_is_deterministic_and_the_byte_budget_holds(tmp_path, trained):
    docs, _ = trained
    a = run_tokenizer(docs, tmp_path / "a", vocab_size=2000, max_bytes=300_000)
    b = run_tokenizer(docs, tmp_path / "b", vocab_size=2000, max_bytes=300_000)
    assert sha256_file(tmp_path / "a" / "tokenizer.json") == sha256_file(
        tmp_path / "b" / "tokenizer.json"
    )
    counters = a.stats["counters"]
    assert counters["bytes_used"] <= 300_000
    assert counters["bytes_used"] > 150_000  # the sample fills most of the budget
    assert counters["budget_reached"] == 1
    assert {k: v for k, v in b.stats["counters"].items() if k != "train_ms"} == {
        k: v for k, v in counters.items() if k != "train_ms"
    }
    # the sample is spread over the dataset, not its first parts
    dataset = Dataset(docs)
    parts = [(str(dataset.path / p.name), p.sha256) for p in dataset.parts]
    per_bin = sum(bytes_per_bin(dataset.read_part(p, ["id", "text"]), 0) for p in dataset.parts)
    last = last_bin_within(per_bin, 300_000)
    stats: dict = {}
    seen_parts = set()
    for batch in training_batches(parts, 300_000, 0, last, stats, batch_bytes=1):
        for text in batch:
            for i, (path, sha) in enumerate(parts):
                if text in _texts_of(path, sha):
                    seen_parts.add(i)
    assert stats["bytes_used"] == counters["bytes_used"]
    assert len(seen_parts) >= len(parts) - 1
    # another seed draws another sample; a budget above the dataset takes all of it
    c = run_tokenizer(docs, tmp_path / "c", vocab_size=2000, max_bytes=300_000, seed=1)
    assert c.stats["counters"]["bytes_used"] != counters["bytes_used"]
    d = run_tokenizer(docs, tmp_path / "d", vocab_size=2000, max_bytes=1 << 30)
    assert d.stats["counters"]["bytes_used"] == d.stats["bytes_in"] == int(per_bin.sum())
    assert d.stats["counters"]["budget_reached"] == 0


def test_parallel_sampling_gives_the_tokenizer_of_one_process_reading_every_part(
    tmp_path, trained, ray_session
):
    """The stage draws each part's sample in a task of its own (on Ray here) and trains on the
    samples alone: the tokenizer is byte for byte the one trained on the same sample drawn in one
    process from every part."""
    docs, _ = trained
    out = tmp_path / "tok"
    outcome = run_tokenizer(docs, out, RayExecutor(), vocab_size=2000, max_bytes=300_000)
    dataset = Dataset(docs)
    parts = [(str(dataset.path / p.name), p.sha256) for p in dataset.parts]
    per_bin = sum(bytes_per_bin(dataset.read_part(p, ["id", "text"]), 0) for p in dataset.parts)
    stats: dict = {}
    batches = training_batches(parts, 300_000, 0, last_bin_within(per_bin, 300_000), stats)
    reference = train_bpe(batches, 2000).to_str(pretty=True).encode("utf-8")
    assert (out / "tokenizer.json").read_bytes() == reference
    assert outcome.stats["counters"]["bytes_used"] == stats["bytes_used"]
    assert outcome.stats["docs_in"] == stats["docs_seen"] == len(shared_documents())
    assert outcome.stats["counters"]["sampled_parts"] == len(parts) > 1  # one task a part


@functools.cache
def _texts_of(path, sha):
    from corpus.dataset import read_part_file

    return frozenset(read_part_file(path, sha, ["text"]).column("text").to_pylist())


# --- shards --------------------------------------------------------------------------------------


def mixed_rows() -> list[dict]:
    """A few hundred real documents of four sources, with an empty one and an <|endoftext|>."""
    docs = shared_documents()
    rows = []
    for source, n in (("web", 60), ("forum", 120), ("social", 200), ("book", 3)):
        rows += [d for d in docs if d["source"] == source and not d["id"].startswith("raw-")][:n]
    rows.append({"id": "empty", "text": "", "source": "web"})
    rows.append({"id": "eot-inside", "text": f"a {EOT} b", "source": "web"})
    return rows


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, trained):
    root = tmp_path_factory.mktemp("mixed")
    rows = mixed_rows()
    write_dataset(root / "docs", rows, part_rows=37)
    return root, rows


def test_shards_decode_back_to_every_document_in_the_recorded_order(mixed, trained):
    root, rows = mixed
    _, tok_path = trained
    out = root / "s1"
    outcome, manifest = run_shards(
        root / "docs", out, tok_path, shard_tokens=20_000, val_tokens=10_000
    )
    tok, eot = load_tokenizer(tok_path)
    assert manifest["dtype"] == "uint16" and manifest["magic"] == 20240520
    assert manifest["tokenizer"]["sha256"] == sha256_file(tok_path)
    assert manifest["tokenizer"]["vocab_size"] == 8000 and manifest["seed"] == 0
    text_of = {r["id"]: r["text"] for r in rows}
    decoded = {}
    for split in ("train", "val"):
        docs = spec_documents(out, split, eot)
        listed = listed_ids(out, split)
        assert len(docs) == len(listed)
        for ids, doc_id in zip(docs, listed, strict=True):
            assert tok.decode(ids, skip_special_tokens=False) == text_of[doc_id]
            assert ids == tok.encode(text_of[doc_id]).ids
        decoded[split] = listed
    # every document exactly once, val and train disjoint
    assert sorted(decoded["train"] + decoded["val"]) == sorted(text_of)
    assert not set(decoded["train"]) & set(decoded["val"])
    # val is held out by document, at least the tokens asked for and within 10% of the corpus
    val_tokens = manifest["splits"]["val"]["tokens"]
    total = val_tokens + manifest["splits"]["train"]["tokens"]
    assert 10_000 <= val_tokens <= 0.1 * total
    # shards hold shard_tokens each but the last, and shards.json counts them right
    for entry in manifest["shards"]:
        count = len(spec_read(out / entry["name"]))
        assert count == entry["tokens"] == sum(entry["tokens_per_source"].values())
    train = [e for e in manifest["shards"] if e["split"] == "train"]
    assert all(e["tokens"] == 20_000 for e in train[:-1]) and 0 < train[-1]["tokens"] <= 20_000
    # shuffled: not the input order, and another seed gives another order
    input_order = [r["id"] for r in rows if r["id"] in set(decoded["train"])]
    assert decoded["train"] != input_order
    _, other = run_shards(
        root / "docs", root / "s2", tok_path, shard_tokens=20_000, val_tokens=10_000, seed=7
    )
    other_train = listed_ids(root / "s2", "train")
    assert other_train != decoded["train"]
    assert outcome.stats["docs_in"] == len(rows) and outcome.stats["docs_out"] == len(rows)
    for source, entry in manifest["sources"].items():  # tokens per word, counted here
        texts = [r["text"] for r in rows if r["source"] == source]
        tokens = sum(len(tok.encode(t).ids) for t in texts)
        assert entry["fertility"] == round(tokens / sum(len(t.split()) for t in texts), 4)
        assert 1.0 < entry["fertility"] < 3.0


def test_same_shards_whatever_the_executor_workers_and_parts(mixed, trained, ray_session):
    root, rows = mixed
    _, tok_path = trained
    write_dataset(root / "docs-11", rows, part_rows=11)  # another split into parts
    runs = [
        ("local", root / "docs", LocalExecutor()),
        ("ray-2", root / "docs", RayExecutor(workers=2)),
        ("ray-1", root / "docs", RayExecutor(workers=1)),
        ("parts-11", root / "docs-11", LocalExecutor()),
    ]
    results = []
    for name, dataset, executor in runs:
        run_shards(
            dataset,
            root / name,
            tok_path,
            shard_tokens=15_000,
            val_tokens=5_000,
            bucket_tokens=40_000,
            executor=executor,
        )
        results.append(shard_bytes(root / name))
    assert len(results[0]) > 5
    assert all(r == results[0] for r in results[1:])


def test_buckets_cut_into_slices_give_the_same_shards(mixed, trained, monkeypatch):
    """An order task holds one slice of a bucket (cut by the key's top bits): slices of ~2,000
    tokens instead of whole buckets change no byte of the shards."""
    import pipelines.shard_stage as shard_stage

    root, _ = mixed
    _, tok_path = trained
    sizes = {"shard_tokens": 15_000, "val_tokens": 5_000, "bucket_tokens": 40_000}
    run_shards(root / "docs", root / "whole-buckets", tok_path, **sizes)
    used = []
    destination = shard_stage.destination

    def spy(key, buckets, bits):
        used.append(bits)
        return destination(key, buckets, bits)

    monkeypatch.setattr(shard_stage, "SLICE_TOKENS", 2_000)
    monkeypatch.setattr(shard_stage, "destination", spy)
    run_shards(root / "docs", root / "slices", tok_path, **sizes)
    assert min(used) >= 2 and max(used) >= 4  # 4 or more slices a bucket, 16 or more in train
    assert shard_bytes(root / "slices") == shard_bytes(root / "whole-buckets")
    manifest = json.loads((root / "slices" / "shards.json").read_text())
    assert (
        manifest["buckets"]
        == json.loads((root / "whole-buckets" / "shards.json").read_text())["buckets"]
    )


def test_mixture_weights_repeat_and_drop_whole_documents(mixed, trained):
    root, rows = mixed
    _, tok_path = trained
    out = root / "weighted"
    weights = {"web": 2.0, "forum": 0.5, "social": 0.0, "book": 1.0}
    outcome, manifest = run_shards(
        root / "docs", out, tok_path, shard_tokens=50_000, val_tokens=4_000, weights=weights
    )
    tok, eot = load_tokenizer(tok_path)
    source_of = {r["id"]: r["source"] for r in rows}
    by_text = {r["text"]: r["id"] for r in rows}
    train = Counter(
        by_text[tok.decode(d, skip_special_tokens=False)] for d in spec_documents(out, "train", eot)
    )
    val = Counter(
        by_text[tok.decode(d, skip_special_tokens=False)] for d in spec_documents(out, "val", eot)
    )
    assert all(n == 1 for n in val.values())
    assert not any(source_of[i] == "social" for i in train | val)
    for doc_id, source in source_of.items():
        if doc_id in val:
            assert doc_id not in train  # a val document is not also trained on
        elif source == "web":
            assert train[doc_id] == 2
        elif source == "book":
            assert train[doc_id] == 1
        elif source == "forum":
            assert train[doc_id] in (0, 1)
    forum = [i for i, s in source_of.items() if s == "forum" and i not in val]
    kept = sum(train[i] for i in forum) / len(forum)
    assert 0.35 < kept < 0.65  # about half of the forum documents
    # the realised share, counted here from the shards themselves
    tokens = Counter()
    for d in spec_documents(out, "train", eot):
        tokens[source_of[by_text[tok.decode(d, skip_special_tokens=False)]]] += len(d) + 1
    total = sum(tokens.values())
    for source, entry in manifest["sources"].items():
        assert entry["weight"] == weights[source]
        assert entry["realised_share"] == pytest.approx(tokens[source] / total, abs=1e-6)
        assert entry["train_tokens"] == tokens[source]
    assert manifest["sources"]["social"]["target_share"] == 0.0
    assert outcome.stats["rejected"]["mixture_weight"] == sum(
        1 for i, s in source_of.items() if s == "social"
    ) + sum(1 for i in forum if train[i] == 0)
    # the same weights and seed give the same bytes
    run_shards(
        root / "docs",
        root / "weighted2",
        tok_path,
        shard_tokens=50_000,
        val_tokens=4_000,
        weights=weights,
    )
    assert shard_bytes(out) == shard_bytes(root / "weighted2")


def test_a_token_budget_is_met_to_a_copy_bin_keeping_the_mixture(mixed, trained):
    root, rows = mixed
    _, tok_path = trained
    tok, eot = load_tokenizer(tok_path)
    rows = [r for r in rows if r["source"] != "book"]  # a whole book is a bin of its own
    write_dataset(root / "no-books", rows, part_rows=37)
    weights = {"web": 2.0, "forum": 1.0, "social": 0.5}
    full = {}  # each source's tokens with its weight, counted from plain tokenization
    for r in rows:
        full[r["source"]] = full.get(r["source"], 0) + len(tok.encode(r["text"]).ids) + 1
    weighted = sum(n * weights[s] for s, n in full.items())
    longest = max(len(tok.encode(r["text"]).ids) + 1 for r in rows)
    for budget in (round(0.3 * weighted), round(2.7 * weighted)):  # sampled, then repeated
        out = root / f"budget-{budget}"
        _, manifest = run_shards(
            root / "no-books", out, tok_path, shard_tokens=50_000, val_tokens=0,
            weights=weights, tokens=budget,
        )  # fmt: skip
        copies, total = Counter(), 0
        for d in spec_documents(out, "train", eot):
            copies[tok.decode(d, skip_special_tokens=False)] += 1
            total += len(d) + 1
        # what the plan said the shards hold is what they hold, and that is the budget to
        # within about one document
        assert manifest["budget"]["train_tokens"] == total
        assert abs(total - budget) <= longest
        # every weight scaled by one factor: each document has its source's whole copies, or
        # one more
        # (the factor itself is not budget / weighted tokens: a few long documents in or out
        # move the sum, and the factor makes up for them)
        scale = manifest["budget"]["scale"]
        assert (scale < 1) == (budget < weighted)
        for r in rows:
            whole = math.floor(weights[r["source"]] * scale)
            assert copies[r["text"]] in (whole, whole + 1), r["id"]


def test_a_vocabulary_over_65536_gives_uint32_shards(tmp_path, mixed):
    root, rows = mixed
    tok = train_bpe(iter([r["text"] for r in rows]), 600, special_tokens=())
    tok.add_special_tokens([f"<|reserved_{i}|>" for i in range(66_000)] + [EOT])
    path = tmp_path / "big.json"
    tok.save(str(path))
    loaded, eot = load_tokenizer(path)
    assert eot > 65_535
    out = tmp_path / "s"
    _, manifest = run_shards(root / "docs", out, path, shard_tokens=30_000, val_tokens=0)
    assert manifest["dtype"] == "uint32" and manifest["magic"] == 20240801
    assert manifest["version"] == 7 and "val" not in {s["split"] for s in manifest["shards"]}
    docs = spec_documents(out, "train", eot)
    texts = sorted(loaded.decode(d, skip_special_tokens=False) for d in docs)
    assert texts == sorted(r["text"] for r in rows)


def test_resume_and_a_damaged_shard_is_rewritten(mixed, trained):
    root, _ = mixed
    _, tok_path = trained
    out = root / "resume"
    run_shards(root / "docs", out, tok_path, shard_tokens=20_000, val_tokens=5_000)
    before = shard_bytes(out)
    again, _ = run_shards(root / "docs", out, tok_path, shard_tokens=20_000, val_tokens=5_000)
    assert again.reused == again.tasks  # nothing redone
    victim = out / "train_000001.bin"
    data = bytearray(victim.read_bytes())
    data[2000] ^= 0xFF
    victim.write_bytes(bytes(data))
    (out / "train_999999.bin").write_bytes(b"stale")
    run_shards(root / "docs", out, tok_path, shard_tokens=20_000, val_tokens=5_000)
    assert shard_bytes(out) == before


# --- commands and the pipeline -------------------------------------------------------------------


def test_commands_train_shard_and_inspect(tmp_path, mixed):
    root, _ = mixed
    r = run_corpus(
        "tokenizer",
        "train",
        root / "docs",
        "--vocab-size",
        "1000",
        "--out",
        tmp_path / "tok.json",
        "--executor",
        "local",
    )
    assert r.returncode == 0, r.stderr
    assert Tokenizer.from_file(str(tmp_path / "tok.json")).get_vocab_size() == 1000
    assert not (tmp_path / ".tok.json.state").exists()
    r = run_corpus(
        "shard",
        root / "docs",
        "--tokenizer",
        tmp_path / "tok.json",
        "--out",
        tmp_path / "shards",
        "--shard-tokens",
        "40000",
        "--val-tokens",
        "3000",
        "--weights",
        "web=2,book=0.5",
        "--executor",
        "local",
    )
    assert r.returncode == 0, r.stderr
    r = run_corpus("shard", "inspect", tmp_path / "shards")
    assert r.returncode == 0, r.stderr
    assert "magic 20240520 version 1, uint16" in r.stdout
    assert "train_000000.bin" in r.stdout and "val_000000.bin" in r.stdout
    assert "decoded:" in r.stdout and "<|endoftext|>" in r.stdout
    assert "web" in r.stdout and "realised" in r.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["shard", "{docs}", "--tokenizer", "{tmp}/missing.json", "--out", "{tmp}/o"],
            "no such tokenizer file",
        ),
        (
            ["shard", "{docs}", "--tokenizer", "{tmp}/notjson.json", "--out", "{tmp}/o"],
            "not a tokenizers JSON file",
        ),
        (
            ["shard", "{docs}", "--tokenizer", "{tmp}/noeot.json", "--out", "{tmp}/o"],
            "no <|endoftext|>",
        ),
        (
            [
                "shard",
                "{docs}",
                "--tokenizer",
                "{tmp}/noeot.json",
                "--out",
                "{tmp}/o",
                "--weights",
                "web=two",
            ],
            "--weights takes SOURCE=NUMBER",
        ),
        (
            [
                "shard",
                "{docs}",
                "--tokenizer",
                "{tmp}/noeot.json",
                "--out",
                "{tmp}/o",
                "--weights",
                "blogs=1",
            ],
            "unknown source 'blogs'",
        ),
        (
            [
                "shard",
                "{docs}",
                "--tokenizer",
                "{tmp}/noeot.json",
                "--out",
                "{tmp}/o",
                "--weights",
                "web=-1",
            ],
            "weights.web must be in [0, 1000]",
        ),
        (["shard", "inspect", "{tmp}"], "bad magic"),
        (["shard", "inspect", "{tmp}/nothing"], "no such folder"),
        (
            ["tokenizer", "train", "{docs}", "--out", "{tmp}/t.json", "--vocab-size", "100"],
            "vocab_size must be in 257",
        ),
        (
            ["tokenizer", "train", "{docs}", "--out", "{tmp}/t.json", "--max-bytes", "lots"],
            "must be a size",
        ),
        (["tokenizer", "train", "{tmp}", "--out", "{tmp}/t.json"], "not a finished dataset"),
    ],
)
def test_bad_input_is_one_line(tmp_path, mixed, args, words):
    root, rows = mixed
    (tmp_path / "notjson.json").write_text("{not json")
    tok = train_bpe(iter([r["text"] for r in rows[:50]]), 300, special_tokens=())
    tok.save(str(tmp_path / "noeot.json"))
    (tmp_path / "junk.bin").write_bytes(b"\1" * 2048)
    r = run_corpus(*[a.format(docs=root / "docs", tmp=tmp_path) for a in args])
    assert r.returncode != 0
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert len(lines) <= 2 and words in lines[-1], r.stderr  # argparse adds a usage line
    assert "Traceback" not in r.stderr


def test_pipeline_runs_tokenizer_then_shards_and_resumes(tmp_path, mixed):
    root, _ = mixed
    config = tmp_path / "p.yaml"
    config.write_text(
        f"""
name: tok
stages:
  - stage: length_filter
    name: filter
    input: {root / "docs"}
    min_words: 5
  - stage: tokenizer
    vocab_size: 1500
  - stage: shard
    name: shards
    tokenizer: tokenizer
    shard_tokens: 30000
    val_tokens: 2000
"""
    )
    run_dir = tmp_path / "run"
    r = run_corpus("run", config, "--run-dir", run_dir, "--executor", "local")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((run_dir / "shards" / "shards.json").read_text())
    assert manifest["tokenizer"]["sha256"] == sha256_file(run_dir / "tokenizer" / "tokenizer.json")
    assert manifest["tokenizer"]["vocab_size"] == 1500
    kept = Dataset(run_dir / "filter" / "kept").num_rows
    assert manifest["splits"]["train"]["docs"] + manifest["splits"]["val"]["docs"] == kept
    before = shard_bytes(run_dir / "shards")
    r = run_corpus("run", config, "--run-dir", run_dir, "--executor", "local")
    assert r.returncode == 0, r.stderr
    assert "[shards] " in r.stderr and "reused" in r.stderr
    assert shard_bytes(run_dir / "shards") == before
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert [s["name"] for s in report["stages"]] == ["filter", "tokenizer", "shards"]


def test_config_names_a_tokenizer_that_does_not_exist(tmp_path, mixed):
    root, _ = mixed
    config = tmp_path / "p.yaml"
    config.write_text(
        f"""
name: tok
stages:
  - stage: length_filter
    input: {root / "docs"}
  - stage: shard
    tokenizer: tokenizer
"""
    )
    r = run_corpus("run", config, "--run-dir", tmp_path / "run", "--executor", "local")
    assert r.returncode == 2
    assert "stages[1].tokenizer: 'tokenizer' is neither an earlier tokenizer stage nor a file" in (
        r.stderr
    )


def test_killed_shard_run_resumes_to_the_uninterrupted_result(tmp_path, mixed, trained):
    root, rows = mixed
    _, tok_path = trained
    write_dataset(tmp_path / "in", rows, part_rows=8)  # many parts: many commits to land among
    args = ["shard", tmp_path / "in", "--tokenizer", tok_path, "--shard-tokens", "5000",
            "--val-tokens", "3000", "--executor", "local"]  # fmt: skip
    assert run_corpus(*args, "--out", tmp_path / "whole").returncode == 0
    out = tmp_path / "killed"
    work = out / "_state" / "work"
    kills = 0
    for phase, records in (
        ("tokenize", 5),
        ("tokenize", 20),
        ("write_train", 3),
        ("write_train", 30),
    ):
        status = kill_when([*args, "--out", out], work / phase, records)
        if status == -signal.SIGKILL and not (out / "shards.json").exists():
            kills += 1  # killed before the shards were published
    res = run_corpus(*args, "--out", out)
    assert res.returncode == 0, res.stderr
    print(f"\nshard killed {kills} times, then resumed")
    assert kills >= 2
    assert shard_bytes(out) == shard_bytes(tmp_path / "whole")
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
