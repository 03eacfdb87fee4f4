"""A Stack Exchange dump, `Posts.xml`: questions, accepted and other answers."""

from __future__ import annotations

import gzip
import html
import re
from datetime import timedelta
from pathlib import Path

from corpus.sources.stackexchange import ROW
from samples.reproducible import EPOCH, write_if_changed
from samples.shared_data import SHARED_DATA
from samples.topics import blocks_html, slug, topic_blocks, topic_title

POSTS = SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz"  # a real dump of 624 rows
IDS = re.compile(rb'( (?:Id|ParentId|AcceptedAnswerId)=")(\d+)"')
MB = 1 << 20


def real_rows() -> list[bytes]:
    """The rows of the real dump in ../shared/data."""
    with gzip.open(POSTS) as f:
        return [m.group(0) for m in ROW.finditer(f.read())]


def write_repeated_posts_xml(path: Path, rows: list[bytes], size_mb: float) -> float:
    """Write copies of `rows` with shifted ids (Id, ParentId and AcceptedAnswerId together, so
    every copy is a set of whole threads) until `size_mb` is reached; return its size in MB."""
    step = 1 + max(int(m.group(2)) for row in rows for m in IDS.finditer(row))
    written, copy = 0, 0
    with open(path, "wb") as f:
        f.write(b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
        while written < size_mb * MB:
            data = b"".join(b"  %s\n" % shift_ids(row, copy * step) for row in rows)
            f.write(data)
            written += len(data)
            copy += 1
        f.write(b"</posts>\n")
    return path.stat().st_size / MB


def shift_ids(row: bytes, shift: int) -> bytes:
    return IDS.sub(lambda m: b'%s%d"' % (m.group(1), int(m.group(2)) + shift), row)


def write_posts_xml(path: Path, topics: list) -> Path:
    """Each topic as a question (its first paragraph), an accepted answer (the rest) and a
    short second answer."""
    rows = []
    post_id = 1
    for i, (name, text) in enumerate(topics):
        blocks = topic_blocks(text)
        title = f"How does {topic_title(text)} work in Python?"
        question = (
            f"<p>I am reading about {html.escape(topic_title(text))} and I do not understand "
            f"the details. What exactly happens, and are there pitfalls I should know about?</p>"
        )
        created = EPOCH + timedelta(days=i, hours=3)
        qid, accepted, other = post_id, post_id + 1, post_id + 2
        post_id += 3
        rows.append(
            {
                "Id": qid, "PostTypeId": 1, "AcceptedAnswerId": accepted,
                "CreationDate": created.strftime("%Y-%m-%dT%H:%M:%S.000"), "Score": 5 + i,
                "Body": question, "Title": title, "Tags": f"<python><{slug(name)}>",
                "AnswerCount": 2, "ContentLicense": "CC BY-SA 4.0", "OwnerUserId": 100 + i,
            }
        )  # fmt: skip
        answer = "<p>The reference explains it well. In short:</p>" + blocks_html(blocks)
        rows.append(
            {
                "Id": accepted, "PostTypeId": 2, "ParentId": qid, "Score": 12 + i,
                "CreationDate": (created + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000"),
                "Body": answer, "ContentLicense": "CC BY-SA 4.0", "OwnerUserId": 200 + i,
            }
        )  # fmt: skip
        rows.append(
            {
                "Id": other, "PostTypeId": 2, "ParentId": qid, "Score": 1,
                "CreationDate": (created + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.000"),
                "Body": "<p>Also try it in the interactive interpreter and read the error "
                "messages: they usually tell you which rule you broke.</p>",
                "ContentLicense": "CC BY-SA 4.0", "OwnerUserId": 300 + i,
            }
        )  # fmt: skip
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<posts>"]
    for row in rows:
        attrs = " ".join(f'{k}="{html.escape(str(v), quote=True)}"' for k, v in row.items())
        lines.append(f"  <row {attrs} />")
    lines.append("</posts>")
    return write_if_changed(path, ("\r\n".join(lines) + "\r\n").encode())
