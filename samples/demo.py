"""The demo's sample, generated on any machine without a network from the English text that ships
with Python itself (the `pydoc_data` help topics) and short passages written here in four other
languages.

`write_demo_sample(DIR)` lays out, under DIR:
- `site/`: a small web site for the crawler (`samples.site`), served by `DemoSite` on 127.0.0.1;
- `books/`: Project Gutenberg text files and an EPUB (`samples.books`);
- `forums/Posts.xml`: a Stack Exchange dump (`samples.posts_xml`);
- `social/`: a Reddit NDJSON.zst dump and a Mastodon outbox (`samples.reddit`, `samples.mastodon`);
- `toxic-words.txt`: the word list the demo's toxic-words filter uses;
- `heldout/`: held-out text for the trainer's evaluation (`samples.heldout`).
Each topic goes to exactly one kind of source, so only the planted near-duplicates repeat.
"""

from __future__ import annotations

import pydoc_data.topics
from pathlib import Path

from samples.books import write_books
from samples.heldout import write_heldout
from samples.mastodon import write_mastodon
from samples.posts_xml import write_posts_xml
from samples.reddit import write_reddit
from samples.reproducible import write_if_changed
from samples.site import TOXIC_WORDS, write_site


def _assign(topics: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Each topic to one kind of source, in a fixed pattern over the sorted topics."""
    pattern = ["docs", "docs", "docs", "news", "book", "docs", "epub", "forum", "reddit", "toot"]
    kinds: dict[str, list] = {k: [] for k in pattern}
    for i, topic in enumerate(topics):
        kinds[pattern[i % len(pattern)]].append(topic)
    return kinds


def write_demo_sample(out_dir: str | Path) -> dict[str, list[Path]]:
    """Write the whole sample under `out_dir`; returns the files written, by kind."""
    out = Path(out_dir)
    topics = sorted(pydoc_data.topics.topics.items())
    kinds = _assign(topics)
    written = {
        "site": write_site(out / "site", kinds["docs"], kinds["news"]),
        "books": write_books(out / "books", kinds["book"], kinds["epub"]),
        "forums": [write_posts_xml(out / "forums" / "Posts.xml", kinds["forum"])],
        "social": [
            write_reddit(out / "social" / "RS_python_demo.ndjson.zst", kinds["reddit"]),
            write_mastodon(out / "social" / "outbox.json", kinds["toot"]),
        ],
    }
    words = out / "toxic-words.txt"
    write_if_changed(words, ("\n".join(TOXIC_WORDS) + "\n").encode())
    written["lists"] = [words]
    written["heldout"] = [write_heldout(out / "heldout" / "stdlib-docstrings.jsonl")]
    return written
