"""Tokenizer training and shard writing, against bare `tokenizers` and tiktoken on the same text.

Shard writing: MB/s of text and tokens/s of the `shard` stage (tokenize, shuffle, write, on Ray
with one and two workers) against bare `Tokenizer.encode_batch` of the same texts with the same
tokenizer, single-threaded like one Ray worker; the overhead is everything the stage does
besides encoding. tiktoken is timed single-threaded on the same texts with GPT-2's ranks (when
`make bench` has fetched them) and with our vocabulary converted to tiktoken's ranks.

Tokenizer training: MB/s and peak memory (RSS of the process tree) of the `tokenizer` stage
(sampled from Parquet parts, streamed) against bare `train_from_iterator` over the same texts
held in a list, each in its own process, 32k vocabulary.

The text is built from ../shared/data: real documents of about 1 KB (books, Stack Exchange,
Reddit, Common Crawl, Python's help) whose paragraphs are recombined at random into new documents
until the target size is reached, so it is real prose and code, not one text repeated.

    python -m bench.shards [--shard-mb 48] [--train-mb 100]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # bare encoding on one thread, as a worker

from bench.common import time_stage  # noqa: E402
from bench.dedup import tree_rss  # noqa: E402
from corpus.dataset import Dataset  # noqa: E402
from pipelines.executors import RayExecutor  # noqa: E402
from pipelines.runner import part_tasks  # noqa: E402
from pipelines.stages import REGISTRY  # noqa: E402
from samples.shared_data import real_documents  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GPT2_RANKS = Path(os.environ.get("CORPUS_GPT2_TIKTOKEN", ROOT / ".venv/share/gpt2.tiktoken"))
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SOURCE_OF = {"pg": "book", "se": "forum", "reddit": "social", "web": "web", "pydoc": "web"}


def build_documents(target_bytes: int, seed: int = 0) -> list[dict]:
    """Real paragraphs recombined into documents of 1 to 8 paragraphs, `target_bytes` in all."""
    rng = random.Random(seed)
    pool: dict[str, list[str]] = {}
    for doc_id, text in real_documents(1000):
        source = next(v for k, v in SOURCE_OF.items() if doc_id.startswith(k))
        pool.setdefault(source, []).extend(p for p in text.split("\n\n") if p.strip())
    sources = sorted(pool)
    docs, size = [], 0
    while size < target_bytes:
        source = rng.choice(sources)
        text = "\n\n".join(rng.choices(pool[source], k=rng.randint(1, 8)))
        docs.append({"id": f"bench-{len(docs)}", "text": text, "source": source})
        size += len(text.encode("utf-8"))
    return docs


def write_docs(path: Path, docs: list[dict], part_bytes: int) -> Dataset:
    import pyarrow as pa

    from corpus.dataset import write_manifest, write_part
    from corpus.schema import conform

    path.mkdir(parents=True, exist_ok=True)
    parts, batch, size = [], [], 0
    for doc in docs + [None]:
        if doc is not None:
            batch.append(doc)
            size += len(doc["text"])
        if batch and (doc is None or size >= part_bytes):
            parts.append(
                write_part(conform(pa.Table.from_pylist(batch)), path, f"part-{len(parts):05d}")
            )
            batch, size = [], 0
    write_manifest(path, parts)
    return Dataset(path)


def measured(cmd: list[str]) -> tuple[float, int, str]:
    """Run `cmd`; its wall seconds, the peak RSS of its process tree, and its stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, cwd=ROOT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return elapsed, peak, text


def bare_training(dataset: str, vocab_size: int) -> None:
    """The baseline, in its own process: every text in a list, then `train_from_iterator`."""
    from corpus.bpe_training import train_bpe

    texts = [
        t for table in Dataset(dataset).tables(["text"]) for t in table.column("text").to_pylist()
    ]
    tok = train_bpe(texts, vocab_size)
    print(json.dumps({"vocab_size": tok.get_vocab_size()}))


def stage_training(dataset: str, vocab_size: int, out: str, max_bytes: int) -> None:
    """Ours, in its own process: the `tokenizer` stage on the local executor."""
    from pipelines.executors import LocalExecutor

    cls = REGISTRY["tokenizer"]
    params = cls.Params(vocab_size=vocab_size, max_bytes=max_bytes)
    time_stage(cls, params, part_tasks(Dataset(dataset)), LocalExecutor(), Path(out), keep=True)
    print(json.dumps({"vocab_size": params.vocab_size}))


def tiktoken_of(tok_path: Path):
    """Our byte-level BPE as a tiktoken Encoding: each token's bytes ranked by its id (ids follow
    the order of the merges that made them)."""
    import tiktoken
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    byte_of = _byte_decoder()
    ranks = {}
    for token, i in tok.get_vocab(with_added_tokens=False).items():
        if token != "<|endoftext|>":
            ranks[bytes(byte_of[c] for c in token)] = i
    return tiktoken.Encoding(
        name="ours", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={}
    )


def _byte_decoder() -> dict[str, int]:
    """GPT-2's map from the printable characters of byte-level BPE back to bytes."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    )
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return {c: b for b, c in chars.items()}


def gpt2_encoding():
    import tiktoken

    ranks = {}
    for line in GPT2_RANKS.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


def time_encode(encode, texts: list[str], repeat: int = 2) -> tuple[float, int]:
    """The best of `repeat` timings of encoding `texts`, and the tokens it gave."""
    best, tokens = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        tokens = encode(texts)
        best = min(best, time.perf_counter() - start)
    return best, tokens


def bench_shards(work: Path, shard_mb: int) -> None:
    from corpus.tokenizer import load_tokenizer

    docs = build_documents(shard_mb << 20, seed=1)
    dataset = write_docs(work / "shard-in", docs, part_bytes=4 << 20)
    texts = [d["text"] for d in docs]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    del docs
    cls = REGISTRY["tokenizer"]
    time_stage(
        cls,
        cls.Params(vocab_size=32768, max_bytes=32 << 20),
        part_tasks(dataset),
        _local(),
        work / "tok",
        keep=True,
    )
    tok_path = work / "tok" / "tokenizer.json"
    tok, _ = load_tokenizer(tok_path)
    print(f"shard writing: {len(texts):,} documents, {mb:.1f} MB of text, 32k vocabulary")

    def bare(ts):
        return sum(len(e.ids) for e in tok.encode_batch(ts))

    ours_enc = tiktoken_of(tok_path)
    tt_s, tt_tokens = time_encode(
        lambda ts: sum(len(x) for x in ours_enc.encode_ordinary_batch(ts, num_threads=1)), texts
    )
    rows = [("tiktoken, our vocabulary, 1 thread", tt_s, tt_tokens)]
    gpt2_s = None
    if GPT2_RANKS.is_file():
        gpt2 = gpt2_encoding()
        gpt2_s, gpt2_tokens = time_encode(
            lambda ts: sum(len(x) for x in gpt2.encode_ordinary_batch(ts, num_threads=1)), texts
        )
        rows.append(("tiktoken GPT-2, 1 thread", gpt2_s, gpt2_tokens))
    shard = REGISTRY["shard"]
    params = shard.Params(tokenizer=str(tok_path), shard_tokens=10_000_000, val_tokens=100_000)
    ours, bare_times = {}, []
    for workers in (1, 2):
        executor = RayExecutor(workers=workers)
        try:
            small = write_docs(work / "warm", [{"id": "w", "text": "warm up", "source": "web"}], 1)
            time_stage(shard, params, part_tasks(small), executor, work / "warm-out")
            times = []
            for _ in range(3 if workers == 1 else 2):  # bare and ours in turn, the best of each
                if workers == 1:
                    seconds, n_tokens = time_encode(bare, texts, repeat=1)
                    bare_times.append(seconds)
                times.append(
                    time_stage(shard, params, part_tasks(dataset), executor, work / "shards")
                )
        finally:
            executor.close()
        ours[workers] = min(times)
    bare_s = min(bare_times)
    rows.insert(0, ("bare Tokenizer.encode_batch, 1 thread", bare_s, n_tokens))
    for workers in (1, 2):
        name = f"corpus shard, Ray {workers} worker{'s' * (workers > 1)}"
        rows.append((name, ours[workers], n_tokens + len(texts)))
    print(f"{'':<40} {'seconds':>8} {'MB/s':>7} {'M tokens/s':>11}")
    for name, seconds, tokens in rows:
        print(f"{name:<40} {seconds:>8.2f} {mb / seconds:>7.2f} {tokens / seconds / 1e6:>11.3f}")
    overhead = ours[1] / bare_s - 1
    print(f"overhead of the stage (1 worker) over bare encode_batch: {overhead:+.1%} (goal ≤ +15%)")
    print(
        f"2 workers vs 1: {ours[1] / ours[2]:.2f}x; vs bare encode_batch: {bare_s / ours[2]:.2f}x"
    )
    print(f"HF tokenizers vs tiktoken on our vocabulary: {tt_s / bare_s:.2f}x the speed")
    if gpt2_s is not None:
        print(
            f"corpus shard (1 worker) vs tiktoken GPT-2: {gpt2_s / ours[1]:.2f}x the speed; "
            f"(2 workers): {gpt2_s / ours[2]:.2f}x"
        )
    else:
        print(f"tiktoken GPT-2: skipped, no ranks at {GPT2_RANKS} (`make bench` fetches them)")


def bench_training(work: Path, train_mb: int) -> None:
    docs = build_documents(train_mb << 20, seed=2)
    write_docs(work / "train-in", docs, part_bytes=8 << 20)
    mb = sum(len(d["text"].encode("utf-8")) for d in docs) / 1e6
    del docs
    me = [sys.executable, "-m", "bench.shards"]
    data = str(work / "train-in")
    base_s, base_rss, _ = measured([*me, "--bare-train", data])
    ours_s, ours_rss, _ = measured([*me, "--stage-train", data, str(work / "t1"), str(1 << 40)])
    quarter = int(mb * 1e6 / 4)
    part_s, part_rss, _ = measured([*me, "--stage-train", data, str(work / "t2"), str(quarter)])
    print(f"tokenizer training: {mb:.1f} MB of text, 32k vocabulary, each in its own process")
    print(f"{'':<44} {'seconds':>8} {'MB/s':>7} {'peak RSS':>10}")
    for name, seconds, rss, used in (
        ("bare train_from_iterator, list in memory", base_s, base_rss, mb),
        ("corpus tokenizer stage, streamed", ours_s, ours_rss, mb),
        (f"corpus tokenizer stage, --max-bytes {quarter / 1e6:.0f}MB", part_s, part_rss, mb / 4),
    ):
        print(f"{name:<44} {seconds:>8.1f} {used / seconds:>7.2f} {rss / 2**20:>8.0f} MiB")
    print(f"stage vs bare: {base_s / ours_s:.2f}x the speed, {ours_rss / base_rss:.2f}x the memory")
    print(f"a quarter of the text as budget: {part_rss / ours_rss:.2f}x the memory of all of it")


def _local():
    from pipelines.executors import LocalExecutor

    return LocalExecutor()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shards")
    parser.add_argument("--shard-mb", type=int, default=48)
    parser.add_argument("--train-mb", type=int, default=100)
    parser.add_argument("--bare-train", metavar="DATASET", help=argparse.SUPPRESS)
    parser.add_argument("--stage-train", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_train:
        os.environ.pop("TOKENIZERS_PARALLELISM")  # training uses every core, on both sides
        return bare_training(args.bare_train, 32768)
    if args.stage_train:
        os.environ.pop("TOKENIZERS_PARALLELISM")
        dataset, out, max_bytes = args.stage_train
        return stage_training(dataset, 32768, out, int(max_bytes))
    work = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        bench_shards(work, args.shard_mb)
        print()
        bench_training(work, args.train_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
