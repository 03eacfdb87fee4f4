"""The crawler against a real HTTP server on 127.0.0.1 serving a site full of traps."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from collections import Counter

import pyarrow as pa
import pytest
from warcio.archiveiterator import ArchiveIterator

from corpus.crawl.crawler import KILL_ENV, CrawlConfig, crawl, crawl_partition
from corpus.crawl.fetch import FetchLimits, Response
from corpus.crawl.urls import is_public_address, normalize_url
from corpus.crawl.warcfile import scan, unit_bytes
from corpus.sources.common import Rejected
from corpus.sources.warc import iter_gzip_members, read_warc
from pipelines.executors import LocalExecutor
from tests.commands import CORPUS, ROOT
from tests.crawl_site import Site


def outcomes_of(out_dir) -> dict[str, dict]:
    found = {}
    for path in sorted(out_dir.glob("crawl-*.warc.gz")):
        for outcome in scan(path):
            found[outcome["url"]] = outcome
    return found


def test_url_normalization_makes_one_page_one_url():
    same = [
        "HTTP://Example.COM:80/a/./b/../c?b=2&a=1#frag",
        "http://example.com/a/c?a=1&b=2&utm_source=x",
        "http://example.com/a/%63?a=1&b=2",
    ]
    assert {normalize_url(u) for u in same} == {"http://example.com/a/c?a=1&b=2"}
    assert normalize_url("../x", "https://h.org/a/b/") == "https://h.org/a/x"
    assert normalize_url("mailto:a@b.c") is None and normalize_url("javascript:void(0)") is None
    assert normalize_url("http://h.org") == "http://h.org/"
    for ip in (
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "0.0.0.0",
    ):
        assert not is_public_address(ip), ip
    assert is_public_address("93.184.216.34")


def test_crawl_is_polite_and_bounded(tmp_path):
    out = tmp_path / "crawl"
    limits = FetchLimits(read_timeout_s=1.0, max_bytes=1 << 20, allow_private=True)
    config = CrawlConfig(max_pages=100, max_depth=4, delay_s=0.0, backoff_s=0.1, limits=limits)
    with Site(crawl_delay=0.2, slow_s=3.0) as site:
        summary = crawl([site.base + "/"], out, config, LocalExecutor(), log=lambda _: None)
        requests = list(site.requests)
        base = site.base
    paths = Counter(p for _, p in requests)
    found = outcomes_of(out)
    reason = {u.removeprefix(base): o.get("reason") for u, o in found.items()}

    assert paths["/private/secret"] == 0 and reason["/private/secret"] == "robots_disallowed"
    assert reason["/loop/1"] == "redirect_loop" and paths["/loop/1"] == 1 and paths["/loop/2"] == 1
    assert reason["/slow"] == "timeout"
    assert reason["/huge"] == "too_large"
    assert reason["/file.bin"] == "not_html"
    assert reason["/missing"] == "http_status"
    assert reason["/busy"] is None and paths["/busy"] == 2  # a 429, then served
    busy = [t for t, p in requests if p == "/busy"]
    assert busy[1] - busy[0] >= 0.95  # Retry-After: 1 was honoured
    # one page, one fetch: fragments, tracking parameters and dot segments are the same URL
    assert paths["/a"] == 1 and paths["/b"] == 1 and paths["/"] == 1
    # robots.txt's Crawl-delay (0.2 s) spaces every request to the host
    starts = sorted(t for t, _ in requests)
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.18
    # discovery through the robots.txt sitemap and the RSS feed
    assert reason["/from-sitemap"] is None and reason["/article-1"] is None
    # the calendar trap stops at the depth limit: the home page is depth 0
    months = [p for p in paths if p.startswith("/calendar/")]
    assert len(months) == 4 and all(paths[m] == 1 for m in months)
    assert "http://elsewhere.invalid/page" not in found  # off-site links are not followed
    assert summary.handled == len(found)

    # the WARC holds request/response pairs for kept pages only, and extracts cleanly
    kinds = Counter()
    for path in out.glob("crawl-*.warc.gz"):
        for record in ArchiveIterator(io.BytesIO(path.read_bytes())):
            kinds[record.rec_type] += 1
            record.content_stream().read()
    assert kinds["response"] == kinds["request"] == summary.kept
    results = [r for path in sorted(out.glob("crawl-*.warc.gz")) for r in read_warc(path)]
    kept = pa.concat_tables([r.kept for r in results]).to_pylist()
    assert len(kept) == summary.kept
    latin1 = next(d for d in kept if d["url"].endswith("/latin1"))
    assert "Un café crème à la française" in latin1["text"]


def test_private_addresses_are_refused_by_default(tmp_path):
    config = CrawlConfig(max_pages=5, delay_s=0.0)
    with Site() as site:
        summary = crawl(
            [site.base + "/"], tmp_path / "crawl", config, LocalExecutor(), log=lambda _: None
        )
        assert site.requests == []
    assert summary.rejected == {"private_address": 1}
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::1]:9/", "http://10.0.0.1/"):
        summary = crawl([url], tmp_path / "c2", config, LocalExecutor(), log=lambda _: None)
        assert outcomes_of(tmp_path / "c2")[normalize_url(url)]["reason"] == "private_address"


def test_max_pages_bounds_the_crawl(tmp_path):
    limits = FetchLimits(allow_private=True)
    config = CrawlConfig(max_pages=7, max_depth=10, delay_s=0.0, limits=limits)
    with Site(crawl_delay=0, pages=30) as site:
        summary = crawl(
            [site.base + "/"], tmp_path / "crawl", config, LocalExecutor(), log=lambda _: None
        )
        fetched = [p for _, p in site.requests if p != "/robots.txt"]
    assert summary.handled == 7 and len(fetched) <= 8  # 7 URLs (+1 for a 429 retry at most)


@pytest.mark.timeout(300)
def test_killed_crawl_resumes_without_refetching(tmp_path):
    out = tmp_path / "crawl"
    with Site(crawl_delay=0.05, pages=30) as site:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"# the test site\n{site.base}/\n")
        cmd = [
            *CORPUS,
            "crawl",
            "--seeds",
            seeds,
            "--out",
            out,
            "--allow-private",
            "--max-depth",
            "1",
            "--delay",
            "0.05",
            "--timeout",
            "1",
            "--max-page-mb",
            "1",
            "--executor",
            "local",
        ]
        cmd = list(map(str, cmd))
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while site.count("/p/0") + sum(site.count(f"/p/{i}") for i in range(1, 30)) < 10:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before = Counter(p for _, p in site.requests)
        done_before = set(outcomes_of(out))  # also cuts a half-written tail
        assert 5 <= len([u for u in done_before if "/p/" in u]) < 30

        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "resuming" in done.stderr
        after = Counter(p for _, p in site.requests)
        base = site.base
    again = {p for p in before if p.startswith("/p/") and after[p] > before[p]}
    assert all(base + p not in done_before for p in again)  # nothing in the WARC is refetched
    assert len(again) <= 1  # only a page in flight at the kill
    final = outcomes_of(out)
    assert {f"{base}/p/{i}" for i in range(30)} <= set(final)
    for path in out.glob("crawl-*.warc.gz"):  # every file reads cleanly to its end
        for result in read_warc(path):
            assert not set(result.rejected.column("reason").to_pylist()) & {
                "truncated_input",
                "corrupt_input",
                "malformed_record",
            }
    summary = json.loads((out / "_state" / "summary.json").read_text())
    assert summary["resumed_from"] == len(done_before)


def test_crawl_cli_errors_are_one_line(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("ftp://example.com/\n")
    result = subprocess.run(
        [
            *CORPUS,
            "crawl",
            "--seeds",
            str(seeds),
            "--out",
            str(tmp_path / "o"),
            "--executor",
            "local",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "corpus crawl: error: not an http(s) URL: ftp://example.com/"
    result = subprocess.run(
        [*CORPUS, "crawl", "--seeds", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "cannot read seeds file" in result.stderr
    assert "Traceback" not in result.stderr


def unit_ends(path) -> list[int]:
    """Where each URL's records end in a crawl WARC: just after each outcome member."""
    ends, after_outcome = [], False
    with open(path, "rb") as f:
        for offset, data in iter_gzip_members(f, 1 << 30):
            if after_outcome:
                ends.append(offset)
            record = next(ArchiveIterator(io.BytesIO(data)))
            after_outcome = record.rec_type == "metadata"
    return ends + [path.stat().st_size] if after_outcome else ends


def page_unit(i: int) -> bytes:
    """One kept page's records (request, response, outcome), as the crawler writes them."""
    url = f"http://h.org/{i}"
    body = f"<html><body><p>Page {i}. {'Some words. ' * (40 + 7 * i)}</p></body></html>".encode()
    response = Response(url, 200, "OK", [("Content-Type", "text/html")], body, "127.0.0.1")
    return unit_bytes({"url": url, "depth": 0, "links": [], "outcome": "kept"}, response)


def test_a_torn_record_mid_file_loses_none_after_it(tmp_path):
    units = [page_unit(i) for i in range(5)]
    path = tmp_path / "crawl-000-0000-000.warc.gz"
    with open(path, "wb") as f:
        f.write(units[2])
    with open(path, "rb") as f:  # its request and response whole, without their outcome too
        bounds = [offset for offset, _ in iter_gzip_members(f, 1 << 30)][1:]
    assert len(bounds) == 2
    cuts = sorted({*range(1, len(units[2]), 7), *bounds})
    for cut in cuts:  # the page torn at many points, then more appends
        path.write_bytes(b"".join(units[:2]) + units[2][:cut] + b"".join(units[3:]))
        with open(path, "rb") as f:  # the reader resyncs after the torn part
            good = [d for _, d in iter_gzip_members(f, 1 << 30) if not isinstance(d, Rejected)]
        assert len(good) >= 4 * 3
        urls = [o["url"] for o in scan(path)]  # the crawler keeps every whole URL
        assert urls == [f"http://h.org/{i}" for i in (0, 1, 3, 4)]
        assert path.read_bytes() == b"".join(units[:2] + units[3:])  # and cuts the torn one out
    for cut in range(1, len(units[4]), 7):  # torn at the end: cut back to the last whole URL
        path.write_bytes(b"".join(units[:4]) + units[4][:cut])
        assert len(list(scan(path))) == 4 and path.read_bytes() == b"".join(units[:4])
    path.write_bytes(b"".join(units[:3] + units[1:2] + units[3:]))  # a URL written twice
    assert [o["url"] for o in scan(path)] == [f"http://h.org/{i}" for i in range(5)]
    assert path.read_bytes() == b"".join(units)


def test_a_partition_run_again_fetches_and_writes_nothing_twice(tmp_path):
    config = CrawlConfig(delay_s=0.0, limits=FetchLimits(allow_private=True))
    hub = [f"/t/{i}" for i in range(6)]
    warc, state = tmp_path / "crawl-000-0000-000.warc.gz", tmp_path / "_state"
    with Site(crawl_delay=0, hub=hub) as site:
        urls = [[site.base + p, 1] for p in hub]
        first = crawl_partition(config, str(warc), str(state), urls)
        written = warc.read_bytes()
        served = len(site.requests)
        assert crawl_partition(config, str(warc), str(state), urls) == first  # done: a no-op
        assert warc.read_bytes() == written and len(site.requests) == served
        # as if the worker died halfway through writing its 3rd URL: the retry fetches what
        # the file lacks, following robots.txt's Sitemap line again (this task read it first)
        with open(warc, "r+b") as f:
            ends = unit_ends(warc)
            f.truncate((ends[1] + ends[2]) // 2)
        before = Counter(p for _, p in site.requests)
        again = crawl_partition(config, str(warc), str(state), urls)
        fetched_again = Counter(p for _, p in site.requests) - before
        base = site.base
    expected = [base + p for p in hub] + [base + "/sitemap.xml"]
    assert [o["url"] for o in first] == expected
    assert [o["url"] for o in again] == expected
    assert [o["url"] for o in scan(warc)] == expected
    assert before == {"/robots.txt": 1, "/sitemap.xml": 1} | {p: 1 for p in hub}
    assert fetched_again == {p: 1 for p in ("/t/2", "/t/3", "/t/4", "/t/5", "/sitemap.xml")}


@pytest.mark.timeout(300)
def test_crawl_worker_killed_mid_write_is_retried_by_ray_without_duplicates(tmp_path):
    out = tmp_path / "crawl"
    marker = tmp_path / "killed"
    hub = [f"/t/{i}" for i in range(12)]
    with Site(hub=hub, robots=["User-agent: *", "Disallow: /private/"]) as site:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{site.base}/hub\n")
        cmd = [*CORPUS, "crawl", "--seeds", seeds, "--out", out, "--allow-private"]
        cmd += ["--max-depth", "1", "--delay", "0", "--executor", "ray", "--workers", "2"]
        # round 0 fetches /hub; round 1's task dies writing its 5th page, and Ray retries it
        env = {**os.environ, KILL_ENV: f"5:{marker}", "RAY_USAGE_STATS_ENABLED": "0"}
        done = subprocess.run(
            list(map(str, cmd)), cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr
        paths = Counter(p for _, p in site.requests)
    assert marker.exists()  # the worker did die
    round_1 = sorted(["/", *hub])  # the pages link home; a round goes in URL order
    torn = round_1[4]
    assert paths == {"/robots.txt": 1, "/hub": 1} | {p: 1 + (p == torn) for p in round_1}
    assert len(list(out.glob("crawl-*.warc.gz"))) == 2  # one file a round: the retry appended
    kinds, urls = Counter(), Counter()
    for path in out.glob("crawl-*.warc.gz"):
        for record in ArchiveIterator(io.BytesIO(path.read_bytes())):
            kinds[record.rec_type] += 1
            urls[(record.rec_type, record.rec_headers.get_header("WARC-Target-URI"))] += 1
            record.content_stream().read()
        for result in read_warc(path):
            assert result.rejected.num_rows == 0
    pages = 2 + len(hub)  # /hub, / and the hub's pages, all kept
    assert kinds == {"request": pages, "response": pages, "metadata": pages}
    assert set(urls.values()) == {1}  # every URL once, in each kind of record
    summary = json.loads((out / "_state" / "summary.json").read_text())
    assert summary["handled"] == summary["kept"] == pages
