"""The manifest of a shard folder (`shards.json`): the shards' format and tokenizer, how the val
split and the mixture came out, and what each shard and each source holds."""

from __future__ import annotations

from corpus.shards import magic_for
from pipelines.phases import Dest, files_by_dest
from pipelines.shard_plan import ShardParams

SHARDS_FORMAT = "corpus.shards/1"


def manifest(p: ShardParams, facts, dtype, by_source, val_last_bin, buckets, shard_records) -> dict:
    """The shards' manifest (`shards.json`): the format, the tokenizer, the val split, and
    per shard and per source what it holds."""
    magic, version = magic_for(dtype)
    shards = []
    split_totals = {s: {"tokens": 0, "docs": 0, "shards": 0} for s in ("train", "val")}
    per_source = {
        s: {"train_docs": 0, "train_tokens": 0, "val_docs": 0, "val_tokens": 0} for s in by_source
    }
    for r in shard_records:
        s = r["stats"]
        (f,) = files_by_dest([r])[Dest("shard")]
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
            "fertility": round((c["tokens"] - c["docs"]) / c["words"], 4) if c["words"] else None,
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
