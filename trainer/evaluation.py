"""What the trainer evaluates on, and how loss becomes bits per byte.

An evaluation set is a fixed list of windows of a token stream: of the val split (`seq_len`
windows spread over the whole split, drawn by the seed, the same at every evaluation), or of a
held-out text given with `--eval-text` (tokenized as the shards are: each document after
<|endoftext|>). A set too small for what was asked is evaluated on what it has, and its `note`
says so.

Bits per byte make runs with different tokenizers comparable: the targets' total loss in bits
divided by the UTF-8 bytes they decode to. A byte-level BPE token decodes to a fixed byte string
whatever its neighbours, so a table of bytes per id, built once from the vocabulary, counts the
bytes of any window; special tokens count none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from corpus.checksums import sha256_file
from corpus.errors import CorpusError
from corpus.heldout import read_documents
from corpus.tokenizer import load_tokenizer
from trainer.data import TokenStream, spread_windows


@dataclass
class EvalSet:
    name: str
    stream: TokenStream
    starts: np.ndarray  # where each window starts in the stream
    length: int  # tokens a window predicts: seq_len, or fewer for a stream without one window
    note: str | None = None  # the line that says it is evaluated on less than asked

    def batches(
        self, rank: int, world: int, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        """Rank `rank`'s windows (every `world`-th) as (inputs, targets, real) in batches of up
        to `batch_size`. Every rank gets as many batches (a rank short of windows gets a stand-in
        marked not real), so a sharded model's ranks all take part in every forward."""
        mine = self.starts[rank::world]
        per_rank = -(-len(self.starts) // world)
        for k in range(-(-per_rank // batch_size)):
            part = mine[k * batch_size : (k + 1) * batch_size]
            real = len(part) > 0
            yield *self.stream.windows(part if real else self.starts[:1], self.length), real


def val_set(
    files: list[Path], batch_size: int, seq_len: int, world: int, eval_tokens: int, seed: int
) -> tuple[EvalSet | None, str | None]:
    """The val split's windows: about `eval_tokens` tokens in whole global batches, spread over
    the split; all its windows when it holds less than one batch. None when it holds no target."""
    if not files:
        return None, "val: no val shards, so no val loss"
    stream = TokenStream.open(files)  # checks every header
    total = stream.total
    if total < 2:
        return None, f"val: {total} token(s), too few for one target: no val loss"
    per_batch = world * batch_size
    need = per_batch * seq_len + 1
    if total >= need:
        steps = max(1, min(eval_tokens, total - 1) // (per_batch * seq_len))
        starts, length = spread_windows(total, seq_len, steps * per_batch, seed)
        return EvalSet("val", stream, starts, length), None
    starts, length = spread_windows(total, seq_len, total, seed)  # all of them
    count = len(starts)
    windows = f"{count} window{'s' if count > 1 else ''} of {length}"
    note = f"val: {total:,} tokens, fewer than one batch ({need:,}): evaluating on {windows}"
    return EvalSet("val", stream, starts, length, note), note


def text_set(path: Path, tok, eot: int, seq_len: int, eval_tokens: int, seed: int) -> EvalSet:
    """A held-out text's windows: about `eval_tokens` tokens spread over it, or one shorter
    window when it holds less than one (and the note says so)."""
    docs = [d for d in read_documents(path) if d]
    if not docs:
        raise CorpusError(f"--eval-text {path}: no text in it")
    ids = [[eot, *e.ids] for e in tok.encode_batch(docs)]
    tokens = np.fromiter((i for doc in ids for i in doc), dtype=np.int64)
    starts, length = spread_windows(len(tokens), seq_len, max(1, eval_tokens // seq_len), seed)
    note = None
    if length < seq_len:
        note = (
            f"{path.name}: {len(tokens):,} tokens, fewer than one window ({seq_len + 1:,}): "
            f"evaluating on 1 window of {length}"
        )
    return EvalSet(path.name, TokenStream([tokens]), starts, length, note)


def token_bytes(tok) -> np.ndarray | None:
    """The UTF-8 bytes each id of a byte-level BPE tokenizer decodes to (special tokens: 0), as
    an int64 table indexed by id; None for a tokenizer that is not byte-level."""
    from tokenizers import pre_tokenizers

    decoder = json.loads(tok.to_str()).get("decoder") or {}
    if decoder.get("type") != "ByteLevel":
        return None
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())  # one character per byte
    table = np.zeros(tok.get_vocab_size(with_added_tokens=True), dtype=np.int64)
    for piece, i in tok.get_vocab(with_added_tokens=False).items():
        if not set(piece) <= alphabet:
            return None
        table[i] = len(piece)
    for i, added in tok.get_added_tokens_decoder().items():
        table[i] = 0 if added.special else len(added.content.encode("utf-8"))
    return table


def eval_tokenizer(facts: dict, override: str | None) -> tuple[object | None, int, str | None]:
    """(tokenizer, end-of-text id, note) for bits per byte and eval texts: `override` (which
    must be the one the shards name, when they name one by hash), else the one in shards.json.
    No tokenizer gives the note that says why there are no bits per byte."""
    if override:
        tok, eot = load_tokenizer(override)
        if facts.get("sha256") and sha256_file(override) != facts["sha256"]:
            raise CorpusError(
                f"--tokenizer {override}: not the tokenizer the shards were made with (its "
                "SHA-256 differs from the one in shards.json)"
            )
        return tok, eot, None
    path = facts.get("path")
    if not path:
        return None, -1, "bpb: the shards name no tokenizer (llm.c's do not); give --tokenizer"
    if not Path(path).is_file():
        return None, -1, f"bpb: the shards' tokenizer {path} is gone; give --tokenizer"
    if facts.get("sha256") and sha256_file(path) != facts["sha256"]:
        changed = f"bpb: the shards' tokenizer {path} changed since they were made"
        return None, -1, f"{changed}; give --tokenizer"
    tok, eot = load_tokenizer(path)
    return tok, eot, None
