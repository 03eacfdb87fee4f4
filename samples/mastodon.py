"""A Mastodon outbox: threads of notes and a boost, as ActivityPub JSON."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from pathlib import Path

from samples.reproducible import EPOCH, write_if_changed
from samples.topics import topic_blocks, topic_title


def write_mastodon(path: Path, topics: list) -> Path:
    """A thread of notes per topic (paragraphs as replies), plus a boost, as an ActivityPub
    outbox holds them."""
    actor = "https://social.example/users/pydocs"
    items = []
    for i, (_, text) in enumerate(topics):
        paragraphs = [b for k, b in topic_blocks(text)[1:] if k == "p"][:5]
        previous = None
        for k, para in enumerate([f"A thread on {topic_title(text)} 🧵", *paragraphs]):
            note_id = f"{actor}/statuses/{i:03d}{k}"
            published = (EPOCH + timedelta(days=i, minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            items.append(
                {
                    "id": f"{note_id}/activity", "type": "Create", "actor": actor,
                    "published": published,
                    "object": {
                        "id": note_id, "type": "Note", "attributedTo": actor,
                        "inReplyTo": previous, "published": published, "url": note_id,
                        "content": f"<p>{html.escape(para)}</p>", "contentMap": {"en": ""},
                    },
                }
            )  # fmt: skip
            previous = note_id
    items.append(
        {"id": f"{actor}/boost/1", "type": "Announce", "actor": actor,
         "object": "https://other.example/users/x/statuses/1"}
    )  # fmt: skip
    outbox = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/outbox",
        "type": "OrderedCollection",
        "totalItems": len(items),
        "orderedItems": items,
    }
    data = json.dumps(outbox, ensure_ascii=False, indent=1).encode()
    return write_if_changed(path, data)
