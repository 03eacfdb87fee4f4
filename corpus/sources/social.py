"""Social posts into thread documents: Reddit dumps, Twitter API v2 pages, Mastodon outboxes.

Posts are spilled to SQLite in the task's scratch folder and read back thread by thread, so a dump
of any size is grouped in flat memory (real Reddit comment dumps put a thread's comments far apart).

- Reddit (Pushshift / Arctic Shift NDJSON, plain, gzip or zstd with long windows): a submission
  and its comments become one document, replies in tree order (depth first, oldest first among
  siblings). `[deleted]` / `[removed]` posts are dropped (reason `deleted`), as are comments under
  `min_score` (`below_min_score`); their replies stay in the thread.
- Twitter API v2 JSONL (one response page a line: `data`, `includes`): tweets grouped by
  `conversation_id`, oldest first; retweets are dropped (`retweet`: the text is someone else's).
- Mastodon / ActivityPub outbox JSON: `Create` activities' notes grouped into threads by
  `inReplyTo`; boosts (`Announce`) are dropped (`boost`); HTML content to text.

Every thread document lists its posts' ids in `meta["post_ids"]`, in the order of the text.
"""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from corpus.compression import CompressedInputError, open_input
from corpus.sources.common import Batcher, Rejected, file_meta, parse_date, scratch_db
from corpus.sources.markup import html_to_text
from corpus.stage import StageResult

DELETED = ("[deleted]", "[removed]", "[deleted by user]")


class Spill:
    """Posts kept on disk by thread: add() them in any order, then read threads() back."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        db.execute(
            "CREATE TABLE posts (thread TEXT, seq INTEGER, post_id TEXT, line INTEGER, row TEXT)"
        )
        self._seq = 0

    def add(self, thread: str, post_id: str, line: int, row: dict) -> None:
        self._seq += 1
        self.db.execute(
            "INSERT INTO posts VALUES (?, ?, ?, ?, ?)",
            (thread, self._seq, post_id, line, json.dumps(row)),
        )

    def threads(self) -> Iterator[tuple[str, list[tuple[int, dict]]]]:
        """(thread key, [(line, post)]) in thread-key order, posts in the order added."""
        self.db.execute("CREATE INDEX by_thread ON posts (thread, seq)")
        current, posts = None, []
        for thread, line, raw in self.db.execute(
            "SELECT thread, line, row FROM posts ORDER BY thread, seq"
        ):
            if thread != current and posts:
                yield current, posts
                posts = []
            current = thread
            posts.append((line, json.loads(raw)))
        if posts:
            yield current, posts


@contextmanager
def spill(scratch_dir: Path | None):
    with scratch_db(scratch_dir) as db:
        yield Spill(db)


def iter_json_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, dict | Rejected]]:
    """(line number, object or Rejected) for each non-empty line of an NDJSON file."""
    lineno = 0
    with open_input(path) as stream:
        try:
            while True:
                line = stream.readline(max_line_bytes + 1)
                if not line:
                    return
                lineno += 1
                if len(line) > max_line_bytes and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):  # skip the rest of the line
                        line = stream.readline(1 << 20)
                    yield lineno, Rejected("too_large", f"line over {max_line_bytes} bytes")
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    yield (
                        lineno,
                        Rejected("invalid_utf8", str(exc), line[:2000].decode("utf-8", "replace")),
                    )
                    continue
                except json.JSONDecodeError as exc:
                    yield (
                        lineno,
                        Rejected("invalid_json", str(exc), line[:2000].decode("utf-8", "replace")),
                    )
                    continue
                if not isinstance(obj, dict):
                    yield lineno, Rejected("not_an_object", f"a JSON {type(obj).__name__}")
                    continue
                yield lineno, obj
        except CompressedInputError as exc:
            yield lineno + 1, Rejected("truncated_input", f"after line {lineno}: {exc}")


def _utc(value) -> datetime | None:
    """parse_date, also reading Unix seconds written as a string (as some dumps do)."""
    if isinstance(value, str) and value.replace(".", "", 1).isdigit():
        value = float(value)
    return parse_date(value)


def _num(value, default: float = 0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


# --- Reddit ---------------------------------------------------------------------------------


def read_reddit(
    path: Path,
    *,
    min_score: int | None = None,
    max_line_bytes: int = 16 << 20,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """Thread documents from a Reddit NDJSON dump of submissions and/or comments."""
    batch = Batcher(part_rows, part_bytes)
    with spill(scratch_dir) as store:
        for lineno, obj in iter_json_lines(path, max_line_bytes):
            base = {"id": f"reddit:{path.name}:{lineno}", "source": "social"}
            base["meta"] = file_meta(path, line=lineno)
            if isinstance(obj, Rejected):
                batch.reject(base, obj)
                yield from batch.drain()
                continue
            name = obj.get("name") or ""
            is_submission = "title" in obj or name.startswith("t3_")
            post_id = obj.get("id") or name.partition("_")[2]
            thread = f"t3_{post_id}" if is_submission else obj.get("link_id")
            if not post_id or not thread:
                rej = Rejected("not_a_post", "neither a submission nor a comment with a link_id")
                batch.reject(base, rej)
                yield from batch.drain()
                continue
            store.add(thread, post_id, lineno, obj)
        for thread, posts in store.threads():
            yield from _reddit_thread(path, thread, posts, min_score, batch)
    yield from batch.finish()


def _reddit_thread(path, thread, posts, min_score, batch: Batcher) -> Iterator[StageResult]:
    submission = None
    comments = []
    for line, obj in posts:
        if "title" in obj or (obj.get("name") or "").startswith("t3_"):
            submission = (line, obj)
        else:
            comments.append((line, obj))
    children: dict[str, list] = {}
    for line, c in comments:
        children.setdefault(c.get("parent_id") or thread, []).append((line, c))
    for siblings in children.values():
        siblings.sort(key=lambda lc: (_num(lc[1].get("created_utc")), str(lc[1].get("id"))))

    texts, post_ids = [], []
    dropped: list[tuple[int, dict, Rejected]] = []
    meta = file_meta(path, thread_id=thread)
    doc = {"id": f"reddit:{thread}", "source": "social", "url": None, "title": None}
    if submission is not None:
        line, s = submission
        doc["title"] = s.get("title")
        doc["author"] = s.get("author") if s.get("author") not in DELETED else None
        doc["date"] = _utc(s.get("created_utc"))
        permalink = s.get("permalink")
        doc["url"] = f"https://www.reddit.com{permalink}" if permalink else s.get("url")
        meta.update(subreddit=s.get("subreddit"), score=s.get("score"), line=line)
        selftext = s.get("selftext") or ""
        title = s.get("title") or ""
        body = "" if selftext in DELETED else selftext
        if title in DELETED and not body:
            dropped.append((line, s, Rejected("deleted", "the submission is deleted")))
        else:
            texts.append("\n\n".join(p for p in (title, body) if p.strip()))
            post_ids.append(s.get("id"))
    else:
        doc["url"] = f"https://www.reddit.com/comments/{thread.removeprefix('t3_')}"
        if comments:
            doc["date"] = _utc(min(_num(c.get("created_utc")) for _, c in comments))
            meta["subreddit"] = comments[0][1].get("subreddit")

    # depth first from the submission; replies to missing parents come after, in time order
    stack = list(reversed(children.pop(thread, [])))
    seen = set()
    while stack or children:
        if not stack:
            orphan_parent = min(children, key=lambda p: _num(children[p][0][1].get("created_utc")))
            stack = list(reversed(children.pop(orphan_parent)))
        line, c = stack.pop()
        cid = c.get("id")
        if cid in seen:
            continue
        seen.add(cid)
        body = c.get("body") or ""
        if body in DELETED or not body.strip():
            dropped.append((line, c, Rejected("deleted", f"comment body {body!r}")))
        elif min_score is not None and _num(c.get("score")) < min_score:
            dropped.append((line, c, Rejected("below_min_score", f"score {c.get('score')}")))
        else:
            texts.append(body)
            post_ids.append(cid)
        stack.extend(reversed(children.pop(f"t1_{cid}", [])))

    for line, obj, rej in dropped:
        row = {
            "id": f"reddit:{obj.get('name') or obj.get('id')}",
            "source": "social",
            "text": obj.get("body") or obj.get("selftext") or "",
            "meta": file_meta(path, line=line, thread_id=thread, post_ids=[obj.get("id")]),
        }
        batch.reject(row, rej)
        yield from batch.drain()
    meta["post_ids"] = post_ids
    meta["comments"] = len(post_ids) - (1 if submission is not None and post_ids else 0)
    doc["meta"] = meta
    doc["text"] = "\n\n".join(texts)
    if not doc["text"].strip():
        batch.reject(doc, Rejected("empty_thread", "every post of the thread was dropped"))
    else:
        batch.add(doc)
    yield from batch.drain()


# --- Twitter API v2 -------------------------------------------------------------------------


def read_twitter(
    path: Path,
    *,
    max_line_bytes: int = 64 << 20,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """Conversation documents from Twitter API v2 response pages, one page a line."""
    batch = Batcher(part_rows, part_bytes)
    with spill(scratch_dir) as store:
        for lineno, page in iter_json_lines(path, max_line_bytes):
            base = {"id": f"twitter:{path.name}:{lineno}", "source": "social"}
            base["meta"] = file_meta(path, line=lineno)
            if isinstance(page, Rejected) or not isinstance(page.get("data"), list):
                rej = page if isinstance(page, Rejected) else Rejected("not_a_page", "no data list")
                batch.reject(base, rej)
                yield from batch.drain()
                continue
            users = {u.get("id"): u for u in (page.get("includes") or {}).get("users", [])}
            for tweet in page["data"]:
                if not isinstance(tweet, dict) or not tweet.get("id"):
                    continue
                user = users.get(tweet.get("author_id"), {})
                tweet["_username"] = user.get("username")
                refs = {r.get("type") for r in tweet.get("referenced_tweets") or []}
                if "retweeted" in refs:
                    row = {
                        "id": f"twitter:{tweet['id']}",
                        "source": "social",
                        "text": tweet.get("text", ""),
                        "meta": file_meta(path, line=lineno, post_ids=[tweet["id"]]),
                    }
                    rej = Rejected("retweet", "a retweet repeats another tweet's text")
                    batch.reject(row, rej)
                    yield from batch.drain()
                    continue
                conversation = tweet.get("conversation_id") or tweet["id"]
                store.add(conversation, tweet["id"], lineno, tweet)
        for conversation, posts in store.threads():
            tweets = sorted(posts, key=lambda lt: (lt[1].get("created_at") or "", lt[1]["id"]))
            first = tweets[0][1]
            # the v2 API escapes &, < and > in tweet text
            texts = [
                html.unescape((t.get("note_tweet") or {}).get("text") or t.get("text", ""))
                for _, t in tweets
            ]
            handle = first.get("_username")
            doc = {
                "id": f"twitter:{conversation}",
                "source": "social",
                "text": "\n\n".join(x for x in texts if x.strip()),
                "author": handle,
                "date": _utc(first.get("created_at")),
                "url": f"https://twitter.com/{handle or 'i'}/status/{first['id']}",
                "meta": file_meta(
                    path,
                    line=tweets[0][0],
                    conversation_id=conversation,
                    post_ids=[t["id"] for _, t in tweets],
                    lang=first.get("lang"),
                ),
            }
            if not doc["text"].strip():
                batch.reject(doc, Rejected("empty_thread", "no tweet text"))
            else:
                batch.add(doc)
            yield from batch.drain()
    yield from batch.finish()


# --- Mastodon / ActivityPub -----------------------------------------------------------------


def read_mastodon(
    path: Path,
    *,
    max_bytes: int = 256 << 20,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """Thread documents from an ActivityPub outbox (an OrderedCollection, or a page of one)."""
    batch = Batcher(part_rows, part_bytes)
    base = {"id": f"mastodon:{path.name}", "source": "social", "meta": file_meta(path)}
    try:
        with open_input(path) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise Rejected("too_large", f"over max_bytes {max_bytes}")
        outbox = json.loads(data)
        items = _outbox_items(outbox)
    except Rejected as rej:
        batch.reject(base, rej)
        yield from batch.finish()
        return
    except CompressedInputError as exc:
        batch.reject(base, Rejected("truncated_input", str(exc)))
        yield from batch.finish()
        return
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        batch.reject(base, Rejected("invalid_json", str(exc)))
        yield from batch.finish()
        return

    notes: dict[str, tuple[int, dict]] = {}
    for i, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        obj = item.get("object") if isinstance(item, dict) else None
        row = {"id": f"mastodon:{item.get('id') if kind else i}", "source": "social"}
        row["meta"] = file_meta(path, item=i)
        if kind == "Announce":
            rej = Rejected("boost", f"a boost of {obj}")
        elif kind == "Create" and isinstance(obj, dict) and obj.get("id"):
            notes[obj["id"]] = (i, obj)
            continue
        else:
            rej = Rejected("not_a_post", f"activity type {kind}")
        batch.reject(row, rej)
        yield from batch.drain()

    def root(note_id: str) -> str:
        seen = set()
        while True:
            parent = notes[note_id][1].get("inReplyTo")
            if not parent or parent not in notes or parent in seen:
                return note_id
            seen.add(note_id)
            note_id = parent

    threads: dict[str, list] = {}
    for note_id in notes:
        threads.setdefault(root(note_id), []).append(notes[note_id])
    for root_id in sorted(threads, key=lambda r: notes[r][0]):
        posts = sorted(threads[root_id], key=lambda p: (p[1].get("published") or "", p[0]))
        first = posts[0][1]
        texts = []
        for _, note in posts:
            text = html_to_text(note.get("content") or "")
            if note.get("summary"):  # a content warning precedes the post it hides
                text = f"{note['summary']}\n\n{text}"
            texts.append(text)
        doc = {
            "id": f"mastodon:{root_id}",
            "source": "social",
            "text": "\n\n".join(t for t in texts if t.strip()),
            "url": first.get("url") or root_id,
            "author": first.get("attributedTo"),
            "date": _utc(first.get("published")),
            "meta": file_meta(
                path,
                item=posts[0][0],
                post_ids=[n.get("id") for _, n in posts],
                sensitive=first.get("sensitive") or None,
                language=next(iter(first.get("contentMap") or {}), None),
            ),
        }
        if not doc["text"].strip():
            batch.reject(doc, Rejected("empty_thread", "no text in the thread's notes"))
        else:
            batch.add(doc)
        yield from batch.drain()
    yield from batch.finish()


def _outbox_items(outbox) -> list:
    if not isinstance(outbox, dict):
        raise Rejected("not_an_outbox", "the file is not a JSON object")
    for key in ("orderedItems", "items"):
        if isinstance(outbox.get(key), list):
            return outbox[key]
    first = outbox.get("first")
    if isinstance(first, dict):
        return _outbox_items(first)
    raise Rejected("not_an_outbox", "no orderedItems (a paged outbox must be saved with its pages)")
