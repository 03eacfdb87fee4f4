"""Bounded decompression: a gzip or zstd bomb is one `too_large` rejection, in flat memory.

The bombs (tests/bombs.py) are generated in well under a second each and inflate to gigabytes;
the readers run in a child process whose peak resident memory is measured (VmHWM, reset before
each reader), and must stay far below the size of what the bomb inflates to.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import subprocess
import sys
import tracemalloc
import zipfile

import pyarrow as pa
import pytest
import zstandard

from corpus.compression import CompressedInputError, open_input
from corpus.dataset import Dataset
from corpus.sources.books import read_epub
from corpus.sources.common import Rejected
from corpus.sources.jsonl import read_jsonl
from corpus.sources.stackexchange import scan_rows
from tests.bombs import gzip_bomb, zstd_bomb
from tests.commands import CORPUS, ROOT

MB = 1 << 20
CAP = 8 * MB  # the readers' per-record cap in these tests
GROWTH_LIMIT_MB = 100  # a reader's peak memory over what the process held before it
BOMB_SIZE = {"zstd": 2048 * MB, "gzip": 1024 * MB}  # >= 10 x GROWTH_LIMIT_MB


def test_zstd_decoder_matches_zstandard_on_random_frames(tmp_path):
    """Frames with and without checksums and content sizes, skippable frames, several frames a
    file: what open_input gives equals the data; a file cut inside its first frame is an error."""
    rnd = random.Random(7)
    words = [rnd.randbytes(rnd.randint(1, 8)) for _ in range(50)]
    for trial in range(30):
        frames, expected = [], b""
        for i in range(rnd.randint(1, 4)):
            if i and rnd.random() < 0.3:
                payload = rnd.randbytes(rnd.randint(0, 50))
                magic = (0x184D2A50 + rnd.randint(0, 15)).to_bytes(4, "little")
                frames.append(magic + len(payload).to_bytes(4, "little") + payload)
                continue
            data = b" ".join(rnd.choices(words, k=rnd.randint(0, 100_000)))
            cctx = zstandard.ZstdCompressor(
                level=rnd.choice([1, 3, 9]),
                write_checksum=rnd.random() < 0.5,
                write_content_size=rnd.random() < 0.5,
            )
            frames.append(cctx.compress(data))
            expected += data
        path = tmp_path / f"t{trial}.zst"
        path.write_bytes(b"".join(frames))
        with open_input(path) as f:
            assert f.read() == expected
        path.write_bytes(frames[0][: rnd.randint(1, len(frames[0]) - 1)])
        with pytest.raises(CompressedInputError), open_input(path) as f:
            f.read()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_one_read_of_a_bomb_inflates_about_one_chunk(tmp_path, kind):
    path = tmp_path / f"bomb.{kind}"
    (gzip_bomb if kind == "gzip" else zstd_bomb)(path, b"head ", 1024 * MB, b" tail")
    tracemalloc.start()
    try:
        with open_input(path) as f:
            assert f.read(5) == b"head "
            for _ in range(64):
                assert len(f.read(MB)) == MB
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB, f"{peak / MB:.0f} MB to read 64 MB of a 1 GB bomb a MB at a time"


def test_a_zstd_window_over_the_limit_is_refused_before_decoding(tmp_path):
    """A frame may declare a window of 2 GiB, which the decoder would fill with output: only
    the Reddit reader accepts it (its dumps need it); elsewhere it is refused at the header."""
    path = tmp_path / "long-window.jsonl.zst"
    zstd_bomb(path, b"", 1024 * MB, b"\n", window_log=31)
    results = list(read_jsonl(path))
    rejected = pa.concat_tables([r.rejected for r in results]).to_pylist()
    assert [(r["reason"], "2048 MiB window" in r["error"]) for r in rejected] == [
        ("truncated_input", True)
    ]


# Each reader gets a bomb inside one record, then a good record it must still read.
BOMBS = {
    "jsonl": (b'{"id": "bomb", "text": "', b'"}\n{"id": "after", "text": "still read"}\n'),
    "reddit": (
        b'{"id": "c1", "link_id": "t3_x", "parent_id": "t3_x", "body": "',
        b'"}\n{"id": "s1", "name": "t3_s1", "title": "After", "selftext": "Still read"}\n',
    ),
    "twitter": (
        b'{"data": [{"id": "1", "conversation_id": "1", "text": "',
        b'"}]}\n{"data": [{"id": "2", "conversation_id": "2", "text": "still read"}]}\n',
    ),
    "mastodon": (
        b'{"type": "OrderedCollection", "orderedItems": [{"type": "Create", "object": '
        b'{"id": "https://m.test/1", "content": "',
        b'"}}]}',
    ),
    "book": (b"The Project Gutenberg eBook of Bombs\n\n*** START OF THE PROJECT GUTENBERG", b"\n"),
    "posts": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n  <row Id="1" PostTypeId="1" Body="',
        b'" />\n  <row Id="2" PostTypeId="1" Title="After" Body="&lt;p&gt;Still read&lt;/p&gt;" />'
        b"\n</posts>\n",
    ),
}
# what each reader gives for its bomb file: (rejection reasons, documents kept)
EXPECTED = {
    "jsonl": (["too_large"], 1),
    "reddit": (["too_large"], 1),
    "twitter": (["too_large"], 1),
    "mastodon": (["too_large"], 0),
    "book": (["too_large"], 0),
    "posts": (["too_large"], 1),
    "warc": (["too_large"], 1),
}

PAGE = (
    b"<html><head><title>After</title></head><body><article><h1>After the bomb</h1>"
    + b"<p>This page comes after a record that inflates to a gigabyte, and is still read.</p>" * 4
    + b"</article></body></html>"
)


def warc_record(uri: str, http_head: bytes, body_size: int) -> bytes:
    """A WARC response record's header for an HTTP response of `http_head` + `body_size` bytes."""
    headers = {
        "WARC-Type": "response",
        "WARC-Target-URI": uri,
        "WARC-Date": "2024-01-01T00:00:00Z",
        "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-00000000000{uri[-1]}>",
        "Content-Type": "application/http; msgtype=response",
        "Content-Length": str(len(http_head) + body_size),
    }
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"WARC/1.0\r\n{lines}\r\n".encode() + http_head


def write_bombs(folder, kind: str) -> None:
    bomb = gzip_bomb if kind == "gzip" else zstd_bomb
    size = BOMB_SIZE[kind]
    for name, (head, tail) in BOMBS.items():
        bomb(folder / name, head, size, tail)
    if kind == "gzip":  # WARC is read as gzip members, one a record (warcio reads no zstd)
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>"
        head = warc_record("http://bomb.test/1", http, size + 4)
        bomb(folder / "warc", head, size, b"</p>\r\n\r\n")
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
        after = warc_record("http://bomb.test/2", http, len(PAGE)) + PAGE + b"\r\n\r\n"
        with open(folder / "warc", "ab") as f:
            f.write(gzip.compress(after))


READERS = f"""
import gc, json, sys
from pathlib import Path
from corpus.sources.books import read_text_book
from corpus.sources.html import ExtractOptions
from corpus.sources.jsonl import read_jsonl
from corpus.sources.social import read_mastodon, read_reddit, read_twitter
from corpus.sources.stackexchange import read_posts_xml
from corpus.sources.warc import read_warc

CAP = {CAP}
folder = Path(sys.argv[1])
readers = {{
    "jsonl": lambda p: read_jsonl(p, max_doc_bytes=CAP),
    "reddit": lambda p: read_reddit(p, max_line_bytes=CAP, scratch_dir=folder),
    "twitter": lambda p: read_twitter(p, max_line_bytes=CAP, scratch_dir=folder),
    "mastodon": lambda p: read_mastodon(p, max_bytes=CAP),
    "book": lambda p: read_text_book(p, max_bytes=CAP),
    "posts": lambda p: read_posts_xml(p, max_row_bytes=CAP, scratch_dir=folder),
    "warc": lambda p: read_warc(p, options=ExtractOptions(max_bytes=CAP // 4)),
}}


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # the peak then covers the readers before this one too: a looser bound


report = {{}}
for name in sys.argv[2:]:
    gc.collect()
    reset_peak()
    before = status("VmRSS")
    reasons, kept = [], 0
    for result in readers[name](folder / name):
        reasons += result.rejected.column("reason").to_pylist()
        kept += result.kept.num_rows
    peak = status("VmHWM")
    report[name] = {{"reasons": reasons, "kept": kept, "growth": peak - before, "peak": peak}}
print(json.dumps(report))
"""


@pytest.mark.parametrize("kind", ["zstd", "gzip"])
def test_every_reader_rejects_a_bomb_as_too_large_in_flat_memory(tmp_path, kind):
    write_bombs(tmp_path, kind)
    names = [n for n in EXPECTED if (tmp_path / n).exists()]
    child = subprocess.run(
        [sys.executable, "-c", READERS, str(tmp_path), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    for name in names:
        got = report[name]
        assert (got["reasons"], got["kept"]) == EXPECTED[name], name
        growth_mb = got["growth"] / MB
        assert growth_mb < GROWTH_LIMIT_MB, f"{name}: {growth_mb:.0f} MB for a {kind} bomb"
        assert got["peak"] < 500 * MB, f"{name}: peak RSS {got['peak'] / MB:.0f} MB"


def test_extract_social_rejects_a_6gb_reddit_line_and_reads_on(tmp_path):
    """The issue's case: one NDJSON line of 6 GB in a 200 KB zstd file, through the CLI."""
    bomb = tmp_path / "RC_bomb.ndjson.zst"
    head, tail = BOMBS["reddit"]
    size = zstd_bomb(bomb, head, 6 << 30, tail)
    assert bomb.stat().st_size < 300_000 and size > 6e9
    garbage = tmp_path / "garbage.ndjson.zst"  # a first line of 6 GB that is no known format
    zstd_bomb(garbage, b"", 6 << 30, b"\n")
    out = tmp_path / "out"
    measure = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    args = ["extract", "social", bomb, garbage, "--out", out, "--executor", "local"]
    child = subprocess.run(
        [sys.executable, "-c", measure, *CORPUS, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr
    peak_mb = int(child.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux
    assert peak_mb < 500, f"peak RSS {peak_mb:.0f} MB reading a 6 GB line"
    kept = Dataset(out).read_all().to_pylist()
    assert [d["title"] for d in kept] == ["After"]
    rejected = Dataset(out / "_rejected").read_all().to_pylist()
    reasons = {json.loads(r["meta"])["path"].rsplit("/", 1)[1]: r["reason"] for r in rejected}
    assert reasons == {bomb.name: "too_large", garbage.name: "unsupported_format"}


def test_epub_member_larger_than_its_directory_says_is_not_inflated(tmp_path):
    """A zip's sizes can lie: a member claiming 1 KB is read no further than that."""
    path = tmp_path / "liar.epub"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml", b" " * (64 * MB))
        info = z.getinfo("META-INF/container.xml")
    data = bytearray(path.read_bytes())
    for at in (info.header_offset + 22, data.rindex(b"PK\x01\x02") + 24):  # local, central
        data[at : at + 4] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        results = list(read_epub(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.rejected.column("reason").to_pylist() for r in results] == [["truncated_input"]]
    assert peak < 4 * MB, f"{peak / MB:.0f} MB for a member declared as 1 KB"


def reference_rows(data: bytes) -> list[tuple[int, bytes]]:
    """Every row of a well-formed Posts.xml and its offset, the obvious (whole-file) way."""
    from corpus.sources.stackexchange import ROW

    return [(m.start(), m.group(0)) for m in ROW.finditer(data)]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_scan_rows_gives_every_row_and_offset_whatever_the_chunk_size(monkeypatch, chunk):
    import corpus.sources.stackexchange as stackexchange

    rnd = random.Random(chunk)
    rows = [
        f'<row Id="{i}" PostTypeId="1" Body="{"&lt;p&gt;x " * rnd.randint(0, 40)}" />'.encode()
        for i in range(300)
    ]
    data = b'<?xml version="1.0"?>\n<!-- a <row> in a comment -->\n<posts>\n'
    data += b"".join(b"  " + r + b"\n" for r in rows) + b"</posts>\n"
    monkeypatch.setattr(stackexchange, "CHUNK", chunk)
    got = list(scan_rows(io.BytesIO(data), 1 << 20))
    assert got == [(o, r) for o, r in reference_rows(data) if o > data.index(b"<posts>")]


def test_scan_rows_skips_a_tag_that_never_ends_as_too_large():
    data = b"<posts><!-- " + b"a" * (3 * MB) + b' --><row Id="1" />\n</posts>'
    got = list(scan_rows(io.BytesIO(data), MB))
    assert isinstance(got[0][1], Rejected) and got[0][1].reason == "too_large"
    assert got[-1] == (data.index(b"<row"), b'<row Id="1" />')
