"""Training a byte-level BPE tokenizer (HF `tokenizers`) from a dataset within a byte budget: the
text is sampled in seeded hash bins spread evenly over the dataset, as many bins as fit the
budget, and streamed to the trainer in batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from corpus.dataset import read_part_file
from corpus.tokenizer import EOT

MIN_VOCAB = 257  # the 256 bytes and <|endoftext|>
MAX_VOCAB = 1 << 31


def new_byte_level_bpe():
    """An untrained byte-level BPE tokenizer with GPT-2's pre-tokenization."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train_bpe(
    texts: Iterable[str] | Iterable[list[str]],
    vocab_size: int,
    min_frequency: int = 2,
    special_tokens: tuple[str, ...] = (EOT,),
):
    """Train a byte-level BPE of `vocab_size` ids (special tokens and the 256 bytes included)
    from `texts`, consumed once as a stream of strings or batches of strings. Training stops
    early when no pair occurs `min_frequency` times, so a small corpus gives a smaller vocab."""
    from tokenizers import pre_tokenizers, trainers

    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise ValueError(f"vocab_size must be in {MIN_VOCAB}..{MAX_VOCAB}, got {vocab_size}")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be at least 1, got {min_frequency}")
    tok = new_byte_level_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


SAMPLE_BITS = 16  # text is sampled in 2**16 bins of a seeded hash
PIECE_CHARS = 1 << 16  # the unit of sampling: a document, or a piece of this many characters


def pieces(text: str) -> list[str]:
    """`text` cut into pieces of at most PIECE_CHARS characters, at a space where one is near,
    so that a book is sampled in pieces as fine as a web page, not all or nothing."""
    if len(text) <= PIECE_CHARS:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = min(start + PIECE_CHARS, len(text))
        if end < len(text):
            space = text.rfind(" ", start + PIECE_CHARS // 2, end)
            end = space + 1 if space >= 0 else end
        out.append(text[start:end])
        start = end
    return out


def sampled_pieces(ids: list[str], texts: list[str], seed: int) -> Iterator[tuple[int, str]]:
    """(sample bin, piece) for every piece of every document: the bin is a seeded hash of the
    document's id and the piece's number, so the same text and seed give the same bins."""
    key = b"tokenizer-sample" + seed.to_bytes(8, "little", signed=True)
    shift = 64 - SAMPLE_BITS
    for doc_id, text in zip(ids, texts, strict=True):
        for k, piece in enumerate(pieces(text)):
            digest = hashlib.blake2b(f"{k}:{doc_id}".encode(), digest_size=8, key=key).digest()
            yield int.from_bytes(digest, "little") >> shift, piece


def bytes_per_bin(table: pa.Table, seed: int) -> np.ndarray:
    """Text bytes per sample bin of one part (`id` and `text` columns)."""
    per_bin = np.zeros(1 << SAMPLE_BITS, dtype=np.int64)
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    bins, sizes = [], []
    for b, piece in sampled_pieces(ids, texts, seed):
        bins.append(b)
        sizes.append(len(piece.encode("utf-8")))
    np.add.at(per_bin, np.array(bins, dtype=np.int64), np.array(sizes, dtype=np.int64))
    return per_bin


def last_bin_within(per_bin: np.ndarray, max_bytes: int) -> int:
    """The most sample bins, taken in order, whose text fits in `max_bytes` (-1: none)."""
    return int(np.searchsorted(np.cumsum(per_bin), max_bytes, side="right")) - 1


def sample_of(table: pa.Table, seed: int, last_bin: int) -> list[str]:
    """The pieces of one part's documents (`id` and `text` columns) that fall in sample bins
    0..`last_bin`, in document order: that part's share of the tokenizer's training text."""
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    return [piece for b, piece in sampled_pieces(ids, texts, seed) if b <= last_bin]


def capped_batches(
    samples: Iterable[list[str]], max_bytes: int, stats: dict, batch_bytes: int = 4 << 20
) -> Iterator[list[str]]:
    """The pieces of `samples` (each part's, in part order) in batches of about `batch_bytes`,
    never more than `max_bytes` in all. Counts go into `stats`."""
    stats.update(pieces_used=0, bytes_used=0)
    batch: list[str] = []
    size = 0
    for sample in samples:
        for piece in sample:
            n = len(piece.encode("utf-8"))
            if stats["bytes_used"] + n > max_bytes:
                continue  # only when bins were chosen for other data; the cap always holds
            stats["pieces_used"] += 1
            stats["bytes_used"] += n
            batch.append(piece)
            size += n
            if size >= batch_bytes:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def training_batches(
    parts: list[tuple[str, str]],
    max_bytes: int,
    seed: int,
    last_bin: int,
    stats: dict,
    batch_bytes: int = 4 << 20,
) -> Iterator[list[str]]:
    """The text in sample bins 0..`last_bin` of the parts `(path, sha256)`, read in this one
    process, in batches of about `batch_bytes` and never more than `max_bytes` in all. Bins are
    a seeded hash of a document's id (and a long document's piece), so the sample is spread
    evenly over the whole dataset, and `last_bin_within` picks as many bins as fill the budget.
    The tokenizer stage draws the same sample part by part in parallel (`sample_of`), then feeds
    it to `capped_batches` in part order. Counts go into `stats`."""
    stats["docs_seen"] = 0

    def samples() -> Iterator[list[str]]:
        for path, sha in parts:
            table = read_part_file(path, sha, ["id", "text"])
            stats["docs_seen"] += table.num_rows
            yield sample_of(table, seed, last_bin)

    yield from capped_batches(samples(), max_bytes, stats, batch_bytes)


def vocab_summary(tok) -> dict:
    """Counts for a trained tokenizer's stats: its vocabulary size (special tokens included) and
    the number of merges it learned."""
    doc = json.loads(tok.to_str())
    return {
        "vocab_size": tok.get_vocab_size(with_added_tokens=True),
        "merges": len(doc["model"]["merges"]),
    }
