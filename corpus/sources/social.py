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

from corpus.compression import ZSTD_LONG_WINDOW, CompressedInputError, open_input
from corpus.sources.common import (
    Batcher,
    Rejected,
    file_meta,
    parse_date,
    read_lines,
    scratch_db,
)
from corpus.sources.markup import html_to_text
from corpus.stage import StageResult

DELETED = ("[deleted]", "[removed]", "[deleted by user]")


Where = tuple[int, int]  # (the input file's index, the line in it)


class Spill:
    """Posts kept on disk by thread: add() them in any order, then read threads() back."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        db.execute(
            "CREATE TABLE posts "
            "(thread TEXT, seq INTEGER, post_id TEXT, file INTEGER, line INTEGER, row TEXT)"
        )
        self._seq = 0

    def add(self, thread: str, post_id: str, where: Where, row: dict) -> None:
        self._seq += 1
        self.db.execute(
            "INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?)",
            (thread, self._seq, post_id, *where, json.dumps(row)),
        )

    def threads(self) -> Iterator[tuple[str, list[tuple[Where, dict]]]]:
        """(thread key, [(where, post)]) in thread-key order, posts in the order added."""
        self.db.execute("CREATE INDEX by_thread ON posts (thread, seq)")
        current, posts = None, []
        for thread, file, line, raw in self.db.execute(
            "SELECT thread, file, line, row FROM posts ORDER BY thread, seq"
        ):
            if thread != current and posts:
                yield current, posts
                posts = []
            current = thread
            posts.append(((file, line), json.loads(raw)))
        if posts:
            yield current, posts


def _inputs(paths: Path | list[Path], names: list[str] | None) -> tuple[list[Path], list[str]]:
    """The files read together and their names in ids (base names unless given)."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    return paths, list(names) if names is not None else [p.name for p in paths]


def _duplicate(obj: dict, kind: str) -> Rejected:
    return Rejected("duplicate_id", f"{kind} {obj.get('id')} was read before (a file given twice?)")


@contextmanager
def spill(scratch_dir: Path | None):
    with scratch_db(scratch_dir) as db:
        yield Spill(db)


def iter_json_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, dict | Rejected]]:
    """(line number, object or Rejected) for each non-empty line of an NDJSON file."""
    lineno = 0
    with open_input(path, max_window=ZSTD_LONG_WINDOW) as stream:  # as Reddit dumps need
        try:
            for line, size in read_lines(stream, max_line_bytes):
                lineno += 1
                if size > len(line):
                    why = f"line of {size} bytes > max_line_bytes {max_line_bytes}"
                    yield lineno, Rejected("too_large", why, line[:2000].decode("utf-8", "replace"))
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
    paths: Path | list[Path],
    *,
    names: list[str] | None = None,
    min_score: int | None = None,
    max_line_bytes: int = 16 << 20,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """Thread documents from Reddit NDJSON dumps of submissions and/or comments. A thread's
    posts may sit in different files of `paths` (RS_ and RC_ dumps, later months): every file
    is read into one spill store before threads are built."""
    batch = Batcher(part_rows, part_bytes)
    paths, names = _inputs(paths, names)
    with spill(scratch_dir) as store:
        for index, path in enumerate(paths):
            for lineno, obj in iter_json_lines(path, max_line_bytes):
                base = {"id": f"reddit:{names[index]}:{lineno}", "source": "social"}
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
                    why = "neither a submission nor a comment with a link_id"
                    batch.reject(base, Rejected("not_a_post", why))
                    yield from batch.drain()
                    continue
                store.add(thread, post_id, (index, lineno), obj)
        for thread, posts in store.threads():
            yield from _reddit_thread(paths, thread, posts, min_score, batch)
    yield from batch.finish()


def _reddit_thread(paths, thread, posts, min_score, batch: Batcher) -> Iterator[StageResult]:
    submission = None
    comments = []
    dropped: list[tuple[Where, dict, Rejected]] = []
    for where, obj in posts:
        if "title" in obj or (obj.get("name") or "").startswith("t3_"):
            if submission is None:
                submission = (where, obj)
            else:
                dropped.append((where, obj, _duplicate(obj, "submission")))
        else:
            comments.append((where, obj))
    children: dict[str, list] = {}
    for line, c in comments:
        children.setdefault(c.get("parent_id") or thread, []).append((line, c))
    for siblings in children.values():
        siblings.sort(key=lambda lc: (_num(lc[1].get("created_utc")), str(lc[1].get("id"))))

    texts, post_ids = [], []
    first = submission[0] if submission is not None else min(w for w, _ in comments)
    meta = file_meta(paths[first[0]], thread_id=thread)
    doc = {"id": f"reddit:{thread}", "source": "social", "url": None, "title": None}
    if submission is not None:
        (_, line), s = submission
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
            dropped.append((submission[0], s, Rejected("deleted", "the submission is deleted")))
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
        where, c = stack.pop()
        cid = c.get("id")
        if cid in seen:
            dropped.append((where, c, _duplicate(c, "comment")))
            continue
        seen.add(cid)
        body = c.get("body") or ""
        if body in DELETED or not body.strip():
            dropped.append((where, c, Rejected("deleted", f"comment body {body!r}")))
        elif min_score is not None and _num(c.get("score")) < min_score:
            dropped.append((where, c, Rejected("below_min_score", f"score {c.get('score')}")))
        else:
            texts.append(body)
            post_ids.append(cid)
        stack.extend(reversed(children.pop(f"t1_{cid}", [])))

    for (index, line), obj, rej in dropped:
        row = {
            "id": f"reddit:{obj.get('name') or obj.get('id')}",
            "source": "social",
            "text": obj.get("body") or obj.get("selftext") or "",
            "meta": file_meta(paths[index], line=line, thread_id=thread, post_ids=[obj.get("id")]),
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
    paths: Path | list[Path],
    *,
    names: list[str] | None = None,
    max_line_bytes: int = 64 << 20,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """Conversation documents from Twitter API v2 response pages, one page a line; a
    conversation's tweets may sit in different files of `paths`."""
    batch = Batcher(part_rows, part_bytes)
    paths, names = _inputs(paths, names)
    with spill(scratch_dir) as store:
        for index, path in enumerate(paths):
            for row in _twitter_page_rows(path, names[index], max_line_bytes):
                if isinstance(row, tuple):
                    store.add(row[0], row[1]["id"], (index, row[2]), row[1])
                    continue
                batch.reject(*row.pop("_rejected"))
                yield from batch.drain()
        for conversation, posts in store.threads():
            yield from _conversation(paths, conversation, posts, batch)
    yield from batch.finish()


def _twitter_page_rows(path: Path, name: str, max_line_bytes: int) -> Iterator:
    """(conversation, tweet, line) for each tweet of a file, or a dict holding a rejection."""
    for lineno, page in iter_json_lines(path, max_line_bytes):
        base = {"id": f"twitter:{name}:{lineno}", "source": "social"}
        base["meta"] = file_meta(path, line=lineno)
        if isinstance(page, Rejected) or not isinstance(page.get("data"), list):
            rej = page if isinstance(page, Rejected) else Rejected("not_a_page", "no data list")
            yield {"_rejected": (base, rej)}
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
                yield {"_rejected": (row, Rejected("retweet", "a retweet repeats another's text"))}
                continue
            yield tweet.get("conversation_id") or tweet["id"], tweet, lineno


def _conversation(paths, conversation, posts, batch: Batcher) -> Iterator[StageResult]:
    """One conversation's document, its tweets in time order; a tweet read twice is rejected."""
    tweets, seen = [], set()
    for where, tweet in sorted(posts, key=lambda wt: (wt[1].get("created_at") or "", wt[1]["id"])):
        if tweet["id"] in seen:
            row = {"id": f"twitter:{tweet['id']}", "source": "social", "text": tweet.get("text")}
            row["meta"] = file_meta(paths[where[0]], line=where[1], post_ids=[tweet["id"]])
            batch.reject(row, _duplicate(tweet, "tweet"))
            continue
        seen.add(tweet["id"])
        tweets.append((where, tweet))
    first_where, first = tweets[0]
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
            paths[first_where[0]],
            line=first_where[1],
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


# --- Mastodon / ActivityPub -----------------------------------------------------------------


def read_mastodon(
    path: Path,
    *,
    name: str | None = None,
    max_bytes: int = 256 << 20,
    scratch_dir: Path | None = None,
    part_rows: int = 100_000,
    part_bytes: int = 64 << 20,
) -> Iterator[StageResult]:
    """Thread documents from an ActivityPub outbox (an OrderedCollection, or a page of one)."""
    batch = Batcher(part_rows, part_bytes)
    base = {"id": f"mastodon:{name or path.name}", "source": "social", "meta": file_meta(path)}
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
