"""A Reddit dump: submissions and comment trees as NDJSON.zst, as Pushshift/Arctic-Shift lay
them out."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import zstandard

from samples.reproducible import EPOCH, write_if_changed
from samples.topics import topic_blocks, topic_title


def write_reddit(path: Path, topics: list) -> Path:
    """A submission per topic (its first paragraphs) with a comment tree (the rest, split into
    replies), as Pushshift/Arctic-Shift dumps lay them out."""
    lines = []
    for i, (_, text) in enumerate(topics):
        paragraphs = [b for k, b in topic_blocks(text)[1:] if k != "h"]
        sid = f"demo{i:03d}"
        created = int((EPOCH + timedelta(days=i)).timestamp())
        lines.append(
            {
                "id": sid, "name": f"t3_{sid}", "subreddit": "learnpython",
                "title": f"TIL how {topic_title(text)} works", "author": f"user{i}",
                "selftext": "\n\n".join(paragraphs[:2]), "score": 40 + i,
                "created_utc": created, "permalink": f"/r/learnpython/comments/{sid}/",
            }
        )  # fmt: skip
        parent = f"t3_{sid}"
        for k, chunk in enumerate(paragraphs[2:8]):
            cid = f"c{i:03d}{k}"
            lines.append(
                {
                    "id": cid, "name": f"t1_{cid}", "link_id": f"t3_{sid}", "parent_id": parent,
                    "subreddit": "learnpython", "author": f"user{i + k + 1}", "body": chunk,
                    "score": 10 - k, "created_utc": created + 60 * (k + 1),
                }
            )  # fmt: skip
            parent = f"t1_{cid}" if k % 2 == 0 else parent
    raw = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()
    return write_if_changed(path, zstandard.ZstdCompressor(level=10).compress(raw))
