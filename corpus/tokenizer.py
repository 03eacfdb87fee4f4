"""Byte-level BPE tokenizer files (HF `tokenizers`, DESIGN §8): loading a `tokenizer.json` for
encoding documents into shards, and what the shards record of it. Training one is
`corpus.bpe_training`; this module stays light (no pyarrow) for the trainer.

The tokenizer is GPT-2's design: text is split by GPT-2's pre-tokenization pattern, each piece is
mapped byte by byte to printable characters and merged by BPE, so any UTF-8 text encodes and
decodes back to itself exactly (no normalizer, no unknown token). `<|endoftext|>` is a special
token; documents are encoded with `encode_special_tokens` on, so the string `<|endoftext|>`
inside a document is ordinary text, and only the separator the shard writer puts between
documents is the special id.
"""

from __future__ import annotations

from pathlib import Path

from corpus import storage
from corpus.checksums import sha256_file
from corpus.errors import CorpusError

EOT = "<|endoftext|>"


class TokenizerError(CorpusError):
    """A tokenizer file that cannot be used: missing, unreadable, or without <|endoftext|>."""


def load_tokenizer(path: str | Path):
    """Load `tokenizer.json` for encoding documents; returns (tokenizer, end-of-text id). The
    tokenizer encodes special-token strings inside text as ordinary text."""
    from tokenizers import Tokenizer

    where = storage.show(path)
    try:
        path = storage.local_copy(path)  # one on an object store: this node's copy
    except FileNotFoundError:
        raise TokenizerError(f"{where}: no such tokenizer file") from None
    if not path.is_file():
        raise TokenizerError(f"{where}: no such tokenizer file")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises a bare Exception for any parse error
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TokenizerError(f"{where}: not a tokenizers JSON file ({first})") from None
    eot = tok.token_to_id(EOT)
    if eot is None:
        raise TokenizerError(f"{where}: the tokenizer has no {EOT} token to separate documents")
    tok.encode_special_tokens = True
    return tok, eot


def tokenizer_facts(path: str | Path) -> dict:
    """What shards.json records of a tokenizer: its file's SHA-256, vocab size and EOT id."""
    tok, eot = load_tokenizer(path)
    return {
        "path": storage.show(storage.absolute(path)),
        "sha256": sha256_file(path),
        "vocab_size": tok.get_vocab_size(with_added_tokens=True),
        "eot_id": eot,
    }
