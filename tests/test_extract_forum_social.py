"""Forums (Stack Exchange dumps) and social dumps (Reddit, Twitter v2, Mastodon) into threads."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pyarrow as pa
import pytest
import zstandard

from corpus.sources.social import read_mastodon, read_reddit, read_twitter
from corpus.sources.stackexchange import read_posts_xml
from samples.shared_data import SHARED_DATA

POSTS = SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz"
REDDIT = SHARED_DATA / "social" / "reddit_from_praw_cassette.ndjson.zst"
TWITTER = SHARED_DATA / "social" / "twitter_v2_brexit.jsonl.gz"


def collect(results):
    results = list(results)
    kept = pa.concat_tables([r.kept for r in results]).to_pylist()
    rejected = pa.concat_tables([r.rejected for r in results]).to_pylist()
    for row in kept + rejected:
        row["meta"] = json.loads(row["meta"]) if row["meta"] else {}
    return kept, rejected


@pytest.mark.shared_data
def test_stack_exchange_threads_accepted_answer_first_then_by_score(tmp_path):
    kept, rejected = collect(
        read_posts_xml(POSTS, site="https://datascience.stackexchange.com", scratch_dir=tmp_path)
    )
    rows = [r.attrib for r in ET.fromstring(gzip.open(POSTS).read()).iter("row")]
    questions = {r["Id"]: r for r in rows if r["PostTypeId"] == "1"}
    answers = [r for r in rows if r["PostTypeId"] == "2"]
    assert len(kept) == len(questions)
    assert len(rejected) == len(rows) - len(questions) - len(answers)
    assert {r["reason"] for r in rejected} == {"other_post_type"}
    by_id = {d["meta"]["question_id"]: d for d in kept}
    for qid, q in questions.items():
        doc = by_id[int(qid)]
        mine = [a for a in answers if a["ParentId"] == qid]
        accepted = q.get("AcceptedAnswerId")
        expected = sorted(mine, key=lambda a: (a["Id"] != accepted, -int(a["Score"])))
        assert doc["meta"]["post_ids"] == [int(qid)] + [int(a["Id"]) for a in expected]
        assert doc["meta"]["tags"] == [t for t in q["Tags"].split("|") if t]
        assert doc["meta"]["license"] == q["ContentLicense"]
        assert doc["title"] == q["Title"] and doc["text"].startswith(q["Title"])
        assert doc["url"] == f"https://datascience.stackexchange.com/questions/{qid}"
        assert "<p>" not in doc["text"] and "&lt;" not in doc["text"]
    assert not list(tmp_path.iterdir())  # the spill file is gone


OLD_FORMAT = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" AcceptedAnswerId="3" CreationDate="2010-01-01T10:00:00.000" Score="5" Body="&lt;p&gt;How do I sort a list?&lt;/p&gt;" Title="Sorting" Tags="&lt;python&gt;&lt;sorting&gt;" AnswerCount="2" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2010-01-01T11:00:00.000" Score="9" Body="&lt;p&gt;Use sorted().&lt;/p&gt;" />
  <row Id="3" PostTypeId="2" ParentId="1" CreationDate="2010-01-01T12:00:00.000" Score="2" Body="&lt;p&gt;Call list.sort() in place.&lt;/p&gt;&lt;pre&gt;&lt;code&gt;xs.sort()&#xA;  # done&lt;/code&gt;&lt;/pre&gt;" />
  <row Id="4" PostTypeId="2" ParentId="1" Score="1" Body="broken <row inside" />
  <row Id="5" PostTypeId="1" Score="1" Body="&lt;p&gt;Unclosed row" Title="Oops"
  <row Id="6" PostTypeId="1" Score="1" Body="&bomb;" Title="Entity" />
  <row Id="7" PostTypeId="2" ParentId="99" Score="1" Body="&lt;p&gt;An answer to a missing question&lt;/p&gt;" />
</posts>
"""


def test_older_dump_format_and_bad_rows(tmp_path):
    path = tmp_path / "Posts.xml"
    path.write_text(
        OLD_FORMAT.replace(
            "<posts>",
            '<!DOCTYPE posts [<!ENTITY a "aaaaaaaaaa"><!ENTITY bomb "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<posts>',
        )
    )
    kept, rejected = collect(read_posts_xml(path))
    assert len(kept) == 1
    doc = kept[0]
    assert doc["meta"]["tags"] == ["python", "sorting"] and doc["meta"]["post_ids"] == [1, 3, 2]
    assert (
        doc["text"]
        == "Sorting\n\nHow do I sort a list?\n\nCall list.sort() in place.\n\nxs.sort()\n  # done\n\nUse sorted()."
    )
    reasons = sorted(r["reason"] for r in rejected)
    # row 4 breaks into two fragments at its stray "<"; rows 5 and 6 are one each
    assert reasons == ["malformed_xml_row"] * 4 + ["orphan_answer"]
    assert "aaaaaaaaaa" not in json.dumps(rejected)  # the entity was never expanded


def test_posts_xml_memory_is_flat(tmp_path):
    """Peak Python memory reading 40,000 rows is about that of 4,000 (parts are cut small)."""
    script = """
import sys, tracemalloc
from pathlib import Path
from corpus.sources.stackexchange import read_posts_xml
tracemalloc.start()
n = 0
for r in read_posts_xml(Path(sys.argv[1]), part_rows=500, scratch_dir=Path(sys.argv[2])):
    n += r.kept.num_rows
print(n, tracemalloc.get_traced_memory()[1])
"""
    peaks = {}
    for n in (4000, 40000):
        path = tmp_path / f"Posts{n}.xml"
        with open(path, "w") as f:
            f.write("<posts>\n")
            for i in range(1, n + 1):
                q = i % 2
                f.write(
                    f'  <row Id="{i}" PostTypeId="{1 if q else 2}" '
                    + (f'Title="Question {i}" ' if q else f'ParentId="{i - 1}" ')
                    + f'Score="{i % 7}" Body="&lt;p&gt;Post number {i} says something useful about topic {i % 97}.&lt;/p&gt;" />\n'
                )
            f.write("</posts>\n")
        out = subprocess.run(
            [sys.executable, "-c", script, str(path), str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        docs, peak = map(int, out.stdout.split())
        assert docs == n // 2
        peaks[n] = peak
    print(peaks)
    assert peaks[40000] < 2 * peaks[4000]


@pytest.mark.shared_data
def test_reddit_threads_in_tree_order_deleted_dropped():
    lines = [
        json.loads(line)
        for line in zstandard.ZstdDecompressor()
        .stream_reader(REDDIT.open("rb"))
        .read()
        .splitlines()
    ]
    kept, rejected = collect(read_reddit(REDDIT))
    assert len(kept) == 1
    doc = kept[0]
    deleted = [c for c in lines if c.get("body") in ("[deleted]", "[removed]")]
    assert sorted(r["reason"] for r in rejected) == ["deleted"] * len(deleted)
    ids = doc["meta"]["post_ids"]
    assert ids[0] == "n49rw" and len(ids) == len(lines) - len(deleted)
    assert doc["title"] == "We're back" and doc["url"].startswith(
        "https://www.reddit.com/r/announcements/"
    )
    # tree order: a comment comes after its parent, and a parent's subtree is contiguous
    parent = {c["id"]: c["parent_id"].partition("_")[2] for c in lines if "parent_id" in c}
    pos = {cid: i for i, cid in enumerate(ids)}
    for cid in ids[1:]:
        p = parent[cid]
        if p in pos:
            assert pos[p] < pos[cid]
    text = doc["text"]
    kept_bodies = [c["body"] for c in lines if "body" in c and c not in deleted]
    assert all(b in text for b in kept_bodies[:50])
    assert "[deleted]" not in text.split("\n\n")


@pytest.mark.shared_data
def test_reddit_min_score_and_long_window_zstd(tmp_path):
    raw = zstandard.ZstdDecompressor().stream_reader(REDDIT.open("rb")).read()
    path = tmp_path / "RC_long.zst"
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31, enable_ldm=True)
    with (
        open(path, "wb") as f,
        zstandard.ZstdCompressor(compression_params=params).stream_writer(f) as w,
    ):
        w.write(raw)
    kept, rejected = collect(read_reddit(path, min_score=100))
    lines = [json.loads(x) for x in raw.splitlines()]
    low = [
        c
        for c in lines
        if "body" in c and c["body"] not in ("[deleted]", "[removed]") and int(c["score"]) < 100
    ]
    assert sum(r["reason"] == "below_min_score" for r in rejected) == len(low) > 0
    assert len(kept[0]["meta"]["post_ids"]) == len(lines) - len(rejected)


@pytest.mark.shared_data
def test_twitter_pages_grouped_by_conversation_retweets_dropped():
    page = json.loads(gzip.open(TWITTER).readline())
    kept, rejected = collect(read_twitter(TWITTER))
    retweets = [
        t
        for t in page["data"]
        if any(r["type"] == "retweeted" for r in t.get("referenced_tweets", []))
    ]
    assert [r["reason"] for r in rejected] == ["retweet"] * len(retweets)
    others = [t for t in page["data"] if t not in retweets]
    assert sum(len(d["meta"]["post_ids"]) for d in kept) == len(others)
    assert len(kept) == len({t["conversation_id"] for t in others})
    assert not any("&amp;" in d["text"] for d in kept)
    users = {u["id"]: u["username"] for u in page["includes"]["users"]}
    for d in kept:
        first = next(t for t in others if t["id"] == d["meta"]["post_ids"][0])
        assert d["author"] == users[first["author_id"]]


def test_mastodon_outbox_threads_and_boosts(tmp_path):
    def note(i, reply=None, content="<p>Post {i} about <a href='#'>#tags</a></p>"):
        return {
            "type": "Create",
            "id": f"https://m.test/users/a/statuses/{i}/activity",
            "object": {
                "id": f"https://m.test/users/a/statuses/{i}",
                "type": "Note",
                "url": f"https://m.test/@a/{i}",
                "published": f"2024-01-0{i}T00:00:00Z",
                "attributedTo": "https://m.test/users/a",
                "inReplyTo": f"https://m.test/users/a/statuses/{reply}" if reply else None,
                "content": content.format(i=i),
                "contentMap": {"en": content.format(i=i)},
            },
        }

    outbox = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "OrderedCollection",
        "orderedItems": [
            note(1),
            note(2, reply=1),
            note(3),
            {"type": "Announce", "id": "x", "object": "https://other.test/1"},
            note(4, reply=2),
        ],
    }
    path = tmp_path / "outbox.json"
    path.write_text(json.dumps(outbox))
    kept, rejected = collect(read_mastodon(path))
    assert [r["reason"] for r in rejected] == ["boost"]
    assert [d["meta"]["post_ids"][-1].rsplit("/", 1)[1] for d in kept] == ["4", "3"]
    thread = kept[0]
    assert thread["text"] == "Post 1 about #tags\n\nPost 2 about #tags\n\nPost 4 about #tags"
    assert thread["url"] == "https://m.test/@a/1"


def test_bad_ndjson_lines_are_rejected_by_name(tmp_path):
    path = tmp_path / "RS.ndjson.gz"
    good = json.dumps(
        {"id": "a1", "name": "t3_a1", "title": "Hello", "selftext": "World", "created_utc": 1}
    )
    with gzip.open(path, "wb") as f:
        f.write(good.encode() + b"\n{not json\n[1, 2]\n\xff\xfe bad utf8\n")
    kept, rejected = collect(read_reddit(path))
    assert kept[0]["text"] == "Hello\n\nWorld"
    assert sorted(r["reason"] for r in rejected) == [
        "invalid_json",
        "invalid_utf8",
        "not_an_object",
    ]
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(path.read_bytes()[:-12])
    kept, rejected = collect(read_reddit(cut))
    assert "truncated_input" in [r["reason"] for r in rejected]


@pytest.mark.shared_data
def test_a_big_plain_posts_xml_is_read_as_ranges_that_give_what_one_reader_gives(tmp_path):
    """3 MB of real rows (copies with new ids) extracted with 1 MB parts: byte ranges read by
    several tasks, their posts shuffled to thread tasks. A late answer to the first question
    sits in the last range, an unclosed row spans lines across a range's start, and an answer
    has no question: the threads, their order and the rejections are one reader's."""
    from corpus.dataset import Dataset
    from pipelines.inputs import InputFile, line_ranges
    from samples.posts_xml import real_rows, write_repeated_posts_xml
    from tests.commands import run_corpus

    path = tmp_path / "site" / "Posts.xml"
    path.parent.mkdir()
    write_repeated_posts_xml(path, real_rows(), 3)
    data = path.read_bytes()
    at = data.rfind(b"\n  <row", 0, (1 << 20) - 2000) + 1  # a line start just before 1 MiB
    unclosed = b'  <row Id="88000001" PostTypeId="1" Body="never closed\n' + b"more\n" * 800
    late = (
        b'  <row Id="99000001" PostTypeId="2" ParentId="6" Score="500" '
        b'Body="&lt;p&gt;A late answer, years after the question.&lt;/p&gt;" />\n'
        b'  <row Id="99000002" PostTypeId="2" ParentId="98999999" Score="1" '
        b'Body="&lt;p&gt;An answer whose question is gone.&lt;/p&gt;" />\n'
    )
    data = data[:at] + unclosed + data[at:].replace(b"</posts>", late + b"</posts>")
    path.write_bytes(data)
    ranges = line_ranges(InputFile(path, "Posts.xml"), 1 << 20)
    n = len(ranges)
    assert n >= 3 and at < ranges[1].start < at + len(unclosed)

    out = tmp_path / "out"
    args = ("extract", "forum", path, "--out", out, "--set", "part_mb=1", "--executor", "local")
    r = run_corpus(*args)
    assert r.returncode == 0, r.stderr
    assert f"[extract read] {n} of {n} parts to do" in r.stderr
    assert f"[extract threads] {n} of {n} parts to do" in r.stderr
    kept, rejected = Dataset(out).read_all(), Dataset(out / "_rejected").read_all()
    one = list(read_posts_xml(path, name="Posts.xml"))
    one_kept = pa.concat_tables([b.kept for b in one])
    one_rejected = pa.concat_tables([b.rejected for b in one])
    assert kept.num_rows > 1000
    assert kept.equals(one_kept)  # the same threads, in the same order, field for field
    assert rejected.sort_by("id").equals(one_rejected.sort_by("id"))
    reasons = set(rejected.column("reason").to_pylist())
    assert {"malformed_xml_row", "orphan_answer", "other_post_type"} <= reasons
    first = json.loads(
        kept.filter(pa.compute.equal(kept["id"], "se:Posts.xml:6"))["meta"][0].as_py()
    )
    assert 99000001 in first["post_ids"]  # its answer from the last range

    again = run_corpus(*args)
    assert again.returncode == 0, again.stderr
    assert f"[extract] {n} parts ({n} reused)" in again.stderr


def test_rows_scanned_as_two_ranges_are_the_rows_of_one_scan(monkeypatch):
    """Cut anywhere, the two ranges' rows (and rejections, with their reasons) are one scan's:
    a row over the size limit is rejected whether or not it fit in the scanner's buffer, and
    a row that crosses the cut is read whole by the range it begins in."""
    import io

    import corpus.sources.stackexchange as se

    monkeypatch.setattr(se, "CHUNK", 50)  # buffer refills at every alignment
    data = (
        b'<?xml version="1.0"?>\n<posts>\n  <row Id="1" PostTypeId="1" Body="a" />\n'
        b'  <row Id="2" PostTypeId="2" ParentId="1" Body="' + b"x" * 30 + b'" />\n'
        b'  <row Id="3" PostTypeId="1" Body="never closed\n  <row Id="4" Body="b" />\n'
        b'  <!-- a comment -->\n  <row Id="5" PostTypeId="5" Body="c" />\n</posts>\n'
    )

    def rows(start, end):
        out = []
        for offset, row in se.scan_rows(io.BytesIO(data[start:]), 60, start, end):
            out.append((offset, row.reason if isinstance(row, se.Rejected) else row))
        return out

    one = rows(0, None)
    assert [r[1] if isinstance(r[1], str) else r[1][:12] for r in one] == [
        b'<row Id="1" ',
        "too_large",
        "malformed_xml_row",
        b'<row Id="4" ',
        b'<row Id="5" ',
    ]
    for cut in range(1, len(data)):
        assert rows(0, cut) + rows(cut, None) == one, cut


@pytest.mark.shared_data
def test_a_range_with_no_posts_in_it(tmp_path):
    """A megabyte of tag wikis in the middle of a split Posts.xml: its range sends no post to
    the thread tasks, and every wiki is rejected by name."""
    from corpus.dataset import Dataset
    from samples.posts_xml import real_rows, write_repeated_posts_xml
    from tests.commands import run_corpus

    path = tmp_path / "Posts.xml"
    write_repeated_posts_xml(path, real_rows(), 1)
    data = path.read_bytes()
    wiki = (
        b'  <row Id="%d" PostTypeId="5" Body="&lt;p&gt;' + b"wiki text " * 50 + b'&lt;/p&gt;" />\n'
    )
    block = b"".join(wiki % (90_000_000 + i) for i in range(2400))
    at = data.rfind(b"\n  <row", 0, len(data) // 2) + 1
    path.write_bytes(data[:at] + block + data[at:])
    out = tmp_path / "out"
    r = run_corpus(
        "extract", "forum", path, "--out", out, "--set", "part_mb=1", "--executor", "local"
    )
    assert r.returncode == 0, r.stderr
    one = list(read_posts_xml(path, name="Posts.xml"))
    assert Dataset(out).read_all().equals(pa.concat_tables([b.kept for b in one]))
    rejected = Dataset(out / "_rejected").read_all().column("reason").to_pylist()
    assert rejected.count("other_post_type") >= 2400
