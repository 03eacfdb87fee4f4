"""`corpus shard inspect DIR`: what a shard folder holds, read from the files themselves.

Every `.bin` header is read and checked (magic, version, size); `shards.json`, when present, adds
documents and tokens per source; a few tokens of the first shard are decoded with the tokenizer
it names. A folder of shards written by llm.c (no shards.json) is shown from its headers alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from corpus.errors import CorpusError
from corpus.shards import MANIFEST, open_shard, read_header
from corpus.tokenizer import TokenizerError, load_tokenizer


def inspect_shards(directory: Path, sample_tokens: int = 64) -> str:
    if not directory.is_dir():
        raise CorpusError(f"{directory}: no such folder")
    files = sorted(directory.glob("*.bin"))
    if not files:
        raise CorpusError(f"{directory}: no .bin shard files")
    headers = [read_header(f) for f in files]  # a bad shard stops here, named, in one line
    manifest = None
    if (directory / MANIFEST).is_file():
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{directory / MANIFEST}: unreadable ({exc})") from None
    lines = []
    first = headers[0]
    lines.append(
        f"{directory}: {len(files)} shards, header magic {first.magic} version {first.version}, "
        f"{first.dtype.name} tokens"
    )
    kinds = {(h.magic, h.version) for h in headers}
    if len(kinds) > 1:
        lines.append(f"  warning: shards of different formats: {sorted(kinds)}")
    listed = {s["name"]: s for s in manifest["shards"]} if manifest else {}
    if manifest:
        tok = manifest["tokenizer"]
        lines.append(
            f"tokenizer: {tok['path']} (sha256 {tok['sha256'][:12]}…, vocab {tok['vocab_size']:,}, "
            f"<|endoftext|> = {tok['eot_id']}); seed {manifest['seed']}, "
            f"{manifest['shard_tokens']:,} tokens per shard"
        )
    lines.append("")
    lines.append(f"{'shard':<20} {'tokens':>14} {'docs':>10}  tokens per source")
    for f, h in zip(files, headers, strict=True):
        entry = listed.get(f.name)
        docs = f"{entry['docs_starting']:,}" if entry else "-"
        per = (
            ", ".join(f"{k} {v:,}" for k, v in entry["tokens_per_source"].items()) if entry else ""
        )
        if entry and entry["tokens"] != h.count:
            per += f"  (shards.json says {entry['tokens']:,} tokens: the file was changed)"
        lines.append(f"{f.name:<20} {h.count:>14,} {docs:>10}  {per}")
    if manifest:
        lines.append("")
        splits = manifest["splits"]
        lines.append(
            "splits: "
            + "; ".join(
                f"{name} {s['tokens']:,} tokens, {s['docs']:,} docs, {s['shards']} shards"
                for name, s in splits.items()
            )
        )
        lines.append(
            f"{'source':<10} {'weight':>7} {'docs in':>9} {'tokens in':>13} {'train docs':>11} "
            f"{'train tokens':>13} {'target':>7} {'realised':>9} {'val docs':>9}"
        )
        for name, s in manifest["sources"].items():
            lines.append(
                f"{name:<10} {s['weight']:>7g} {s['docs_in']:>9,} {s['tokens_in']:>13,} "
                f"{s['train_docs']:>11,} {s['train_tokens']:>13,} {s['target_share']:>7.1%} "
                f"{s['realised_share']:>9.1%} {s['val_docs']:>9,}"
            )
    if sample_tokens:
        lines.append("")
        lines.append(_sample(files[0], manifest, sample_tokens))
    return "\n".join(lines)


def _sample(path: Path, manifest: dict | None, n: int) -> str:
    tokens = open_shard(path)[:n].tolist()
    if not manifest:
        return f"first {len(tokens)} tokens of {path.name}: {tokens}"
    try:
        tok, _ = load_tokenizer(manifest["tokenizer"]["path"])
    except TokenizerError as exc:
        return f"first {len(tokens)} tokens of {path.name}: {tokens} (cannot decode: {exc})"
    text = tok.decode(tokens, skip_special_tokens=False)
    return f"first {len(tokens)} tokens of {path.name}, decoded:\n{text!r}"
