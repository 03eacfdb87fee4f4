"""Web and article extraction: quality against gold text, WARC provenance, and bad input."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from collections import Counter

import pyarrow as pa
import pytest
import trafilatura
import zstandard
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus.sources.html import ExtractOptions
from corpus.sources.warc import read_html_file, read_warc
from samples.scoring import token_f1
from samples.shared_data import SHARED_DATA
from tests.commands import run_corpus

SCRAPINGHUB = SHARED_DATA / "html" / "scrapinghub"
TRAFILATURA = SHARED_DATA / "html" / "trafilatura"
WARC_DIR = SHARED_DATA / "warc"


def collect(results) -> tuple[pa.Table, pa.Table, Counter]:
    results = list(results)
    kept = pa.concat_tables([r.kept for r in results])
    rejected = pa.concat_tables([r.rejected for r in results])
    counters = Counter()
    for r in results:
        counters.update(r.stats)
    return kept, rejected, counters


@pytest.mark.shared_data
def test_article_f1_beats_bare_trafilatura_on_gold_pages():
    gold = json.loads((SCRAPINGHUB / "ground-truth.json").read_text())
    ours, bare = [], []
    for stem, truth in sorted(gold.items()):
        path = SCRAPINGHUB / f"{stem}.html.gz"
        kept, _, _ = collect(read_html_file(path, source="article"))
        assert kept.num_rows == 1, stem
        ours.append(token_f1(kept.column("text")[0].as_py(), truth["articleBody"]))
        bare.append(token_f1(trafilatura.extract(gzip.open(path).read()), truth["articleBody"]))
    mean_ours, mean_bare = sum(ours) / len(ours), sum(bare) / len(bare)
    print(f"mean token F1: ours {mean_ours:.4f}, bare trafilatura.extract {mean_bare:.4f}")
    assert mean_ours >= 0.90
    assert mean_ours >= mean_bare


@pytest.mark.shared_data
def test_boilerplate_snippets_at_least_as_good_as_bare_trafilatura():
    cases = json.loads((TRAFILATURA / "evaldata_subset.json").read_text())
    score = Counter()
    for url, case in cases.items():
        path = TRAFILATURA / case["file"]
        kept, _, _ = collect(read_html_file(path, url=url))
        ours = kept.column("text")[0].as_py() if kept.num_rows else ""
        bare = trafilatura.extract(path.read_bytes(), url=url) or ""
        for name, text in (("ours", ours), ("bare", bare)):
            score[name] += sum(s in text for s in case["with"])
            score[name] += sum(s not in text for s in case["without"])
    print(dict(score))
    assert score["ours"] >= score["bare"]


@pytest.mark.shared_data
def test_article_metadata_lifted_into_columns():
    path = SCRAPINGHUB / "0d46122928b6f468cc4bbc694051d0dbae5702bc75a16dab82a99b58daf150a0.html.gz"
    kept, _, _ = collect(read_html_file(path, source="article"))
    row = kept.to_pylist()[0]
    assert row["title"] == "Nadal keeps Spain alive against Russia in Davis Cup Finals"
    assert row["date"].date().isoformat() == "2019-11-19"
    assert row["source"] == "article"
    assert json.loads(row["meta"])["path"] == str(path)


@pytest.mark.shared_data
def test_warc_documents_point_back_at_their_records():
    path = WARC_DIR / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"
    kept, rejected, counters = collect(read_warc(path))
    assert kept.num_rows + rejected.num_rows == 16  # 16 responses in the file
    assert counters["records_request"] >= 16 and counters["records_metadata"] == 16
    raw = path.read_bytes()
    for row in kept.to_pylist():
        meta = json.loads(row["meta"])
        assert meta["path"] == str(path)
        # the offset is where the record's gzip member starts, as Common Crawl's index gives it
        record = next(iter(ArchiveIterator(io.BytesIO(raw[meta["warc_offset"] :]))))
        assert record.rec_headers.get_header("WARC-Record-ID") == meta["warc_record_id"]
        assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
        # named by URL and payload digest, not by file and offset: stable across crawls
        digest = hashlib.sha1(record.content_stream().read()).hexdigest()[:16]
        assert row["id"] == f"web:{row['url']}#{digest}"


@pytest.mark.shared_data
def test_plain_and_zstd_warcs_give_the_documents_the_gzip_one_gives(tmp_path):
    path = WARC_DIR / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"
    raw = gzip.decompress(path.read_bytes())
    plain, packed = tmp_path / "cc.warc", tmp_path / "cc.warc.zst"
    plain.write_bytes(raw)
    packed.write_bytes(zstandard.ZstdCompressor().compress(raw))
    kept, _, _ = collect(read_warc(path))
    assert kept.num_rows == 15
    for other in (plain, packed):
        got, _, _ = collect(read_warc(other))
        assert got.column("id").to_pylist() == kept.column("id").to_pylist()
        assert got.column("text").to_pylist() == kept.column("text").to_pylist()
        for row in got.to_pylist():  # offsets into the decompressed stream
            offset = json.loads(row["meta"])["warc_offset"]
            assert raw[offset:].startswith(b"WARC/1.0\r\nWARC-Type: response")


@pytest.mark.shared_data
def test_wet_records_are_text_already():
    kept, rejected, _ = collect(read_warc(WARC_DIR / "cc-whirlwind_whirlwind.warc.wet.gz"))
    assert rejected.num_rows == 0 and kept.num_rows == 1
    row = kept.to_pylist()[0]
    assert row["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert "Escopete" in row["text"]
    assert json.loads(row["meta"])["warc_type"] == "conversion"


def write_warc(path, records: list[tuple[str, str, bytes]]) -> None:
    """Write response records (url, content type, body), one gzip member each."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, ctype, body in records:
            headers = [("Content-Type", ctype)] if ctype else []
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), http_headers=http
                )
            )


PAGE = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "<p>{body} This paragraph is long enough to count as the main text of a page.</p>" * 3
    + "</article></body></html>"
)


def test_charset_detection_and_non_html_are_handled(tmp_path):
    latin1 = PAGE.format(title="Café", body="Les élèves mangèrent une crème brûlée à Noël.")
    utf8_meta = PAGE.format(title="Straße", body="Grüße aus München, schöne Grüße.").replace(
        "<head>", '<head><meta charset="utf-8">'
    )
    path = tmp_path / "mixed.warc.gz"
    write_warc(
        path,
        [
            ("http://a.test/latin1", "text/html", latin1.encode("latin-1")),  # no charset given
            ("http://a.test/utf8", "text/html", utf8_meta.encode("utf-8")),
            ("http://a.test/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(500)),
            ("http://a.test/data.json", "application/json", b'{"a": 1}'),
        ],
    )
    kept, rejected, _ = collect(read_warc(path))
    texts = dict(zip(kept.column("url").to_pylist(), kept.column("text").to_pylist(), strict=True))
    assert "crème brûlée à Noël" in texts["http://a.test/latin1"]
    assert "Grüße aus München" in texts["http://a.test/utf8"]
    assert sorted(rejected.column("reason").to_pylist()) == ["not_html", "not_html"]


def test_corrupt_and_truncated_warcs_are_rejected_by_name_and_reading_goes_on(tmp_path):
    pages = [
        (f"http://a.test/{i}", "text/html", PAGE.format(title=f"T{i}", body="Words " * 20).encode())
        for i in range(4)
    ]
    good = tmp_path / "good.warc.gz"
    write_warc(good, pages)
    data = good.read_bytes()
    starts = [m.start() for m in re.finditer(rb"\x1f\x8b\x08", data)]
    assert len(starts) == 4
    # flip bytes inside the second record's compressed body
    bad = bytearray(data)
    for i in range(starts[1] + 40, starts[1] + 80):
        bad[i] ^= 0xFF
    corrupt = tmp_path / "corrupt.warc.gz"
    corrupt.write_bytes(bytes(bad))
    kept, rejected, _ = collect(read_warc(corrupt))
    assert sorted(kept.column("url").to_pylist()) == [
        "http://a.test/0",
        "http://a.test/2",
        "http://a.test/3",
    ]
    assert rejected.column("reason").to_pylist() == ["corrupt_input"]

    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(data[: starts[3] + 100])
    kept, rejected, _ = collect(read_warc(truncated))
    assert kept.num_rows == 3
    assert rejected.column("reason").to_pylist() == ["truncated_input"]

    garbage = tmp_path / "garbage.warc.gz"
    with gzip.open(garbage, "wb") as f:
        f.write(b"this is not a WARC record\r\n\r\n")
    kept, rejected, _ = collect(read_warc(garbage))
    assert kept.num_rows == 0 and rejected.column("reason").to_pylist() == ["malformed_record"]


def test_page_limits_reject_by_name(tmp_path):
    huge = PAGE.format(title="Big", body="word " * 300_000)
    path = tmp_path / "limits.warc.gz"
    write_warc(path, [("http://a.test/huge", "text/html", huge.encode())])
    _, rejected, _ = collect(read_warc(path, options=ExtractOptions(max_bytes=1 << 20)))
    assert rejected.column("reason").to_pylist() == ["too_large"]
    _, rejected, _ = collect(read_warc(path, options=ExtractOptions(time_limit_s=0.01)))
    assert rejected.column("reason").to_pylist() == ["extract_timeout"]
    kept, _, _ = collect(read_warc(path, options=ExtractOptions(time_limit_s=60)))
    assert kept.num_rows == 1


def test_a_page_over_the_time_limit_is_retried_once_with_a_longer_limit(tmp_path):
    page = PAGE.format(title="Slow", body="word " * 20_000)  # far more than 1 ms to extract
    path = tmp_path / "slow.warc.gz"
    write_warc(path, [("http://a.test/slow", "text/html", page.encode())])
    slow = ExtractOptions(time_limit_s=0.001, retry_time_limit_s=60)
    kept, rejected, counters = collect(read_warc(path, options=slow))
    unhurried, _, _ = collect(read_warc(path, options=ExtractOptions(time_limit_s=60)))
    assert kept.num_rows == 1 and rejected.num_rows == 0
    assert kept.column("text").to_pylist() == unhurried.column("text").to_pylist()
    assert counters["extract_timeout_retried"] == counters["extract_timeout_recovered"] == 1
    hangs = ExtractOptions(time_limit_s=0.001, retry_time_limit_s=0.002)
    kept, rejected, counters = collect(read_warc(path, options=hangs))
    assert kept.num_rows == 0 and rejected.column("reason").to_pylist() == ["extract_timeout"]
    assert counters["extract_timeout_retried"] == 1 and "extract_timeout_recovered" not in counters


def test_the_run_report_counts_retried_timeouts(tmp_path):
    page = PAGE.format(title="Slow", body="word " * 20_000)
    write_warc(tmp_path / "slow.warc.gz", [("http://a.test/slow", "text/html", page.encode())])
    config = tmp_path / "web.yaml"
    config.write_text(
        f"""
name: web
stages:
  - stage: extract_web
    name: web
    paths: ["{tmp_path}/slow.warc.gz"]
    time_limit_s: 0.001  # and 4 ms for the retry: this page needs far more
"""
    )
    run = tmp_path / "run"
    proc = run_corpus("run", config, "--run-dir", run, "--executor", "local")
    assert proc.returncode == 0, proc.stderr
    stage = json.loads((run / "report" / "report.json").read_text())["stages"][0]
    assert stage["docs_out"] == 0 and stage["rejected"] == {"extract_timeout": 1}
    assert stage["counters"]["extract_timeout_retried"] == 1
    assert "extract_timeout 1; timeouts retried 1, recovered 0" in proc.stderr
