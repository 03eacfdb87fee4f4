"""Extraction and crawling, against bare baselines run side by side.

1. The `extract_web` stage over WARC files of real pages (../shared/data/html, repeated) with the
   local executor and Ray on 1 and 2 workers, against a bare loop of `trafilatura.extract` over the
   same pages in memory, with the same settings (favor_precision, no comments, metadata on).
   Goal (issue 3): overhead <= 10% on one worker, speedup >= 1.8x on two.
2. The crawler against the local test site with politeness off (no delay, 8 requests at once per
   host), against a bare sequential loop of http.client GETs of the same pages.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import io
import os
import tempfile
import time
from pathlib import Path

import trafilatura
from trafilatura.settings import set_date_params
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bench.common import time_stage
from corpus.crawl.crawler import CrawlConfig, crawl
from corpus.crawl.fetch import FetchLimits
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.extract_stages import ExtractWeb
from pipelines.params import parse_params
from pipelines.runner import source_tasks
from samples.shared_data import SHARED_DATA as SHARED


def real_pages() -> list[bytes]:
    pages = []
    for path in sorted((SHARED / "html" / "scrapinghub").glob("*.gz")):
        with gzip.open(path) as f:
            pages.append(f.read())
    pages += [p.read_bytes() for p in sorted((SHARED / "html" / "trafilatura").glob("*.html"))]
    if not pages:
        raise SystemExit("bench extract needs ../shared/data/html")
    return pages


def write_warcs(out: Path, pages: list[bytes], files: int, per_file: int) -> None:
    out.mkdir(parents=True)
    for f in range(files):
        with open(out / f"bench-{f:03d}.warc.gz", "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            for i in range(per_file):
                body = pages[(f * per_file + i) % len(pages)]
                http = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                )
                record = writer.create_warc_record(
                    f"http://bench.test/{f}/{i}",
                    "response",
                    payload=io.BytesIO(body),
                    http_headers=http,
                )
                writer.write_record(record)


def bare(pages: list[bytes], files: int, per_file: int, **options) -> float:
    start = time.perf_counter()
    for n in range(files * per_file):
        trafilatura.extract(pages[n % len(pages)], **options)
    return time.perf_counter() - start


def time_extract(warcs: Path, executor, out: Path) -> float:
    params = parse_params(ExtractWeb.Params, {"paths": [str(warcs / "*.warc.gz")]}, "bench")
    return time_stage(ExtractWeb, params, source_tasks(ExtractWeb(params)), executor, out)


def bench_extract(files: int, per_file: int, repeats: int) -> None:
    pages = real_pages()
    # the stage's settings: dates from the markup, not guessed from the text
    same = {
        "favor_precision": True,
        "include_comments": False,
        "with_metadata": True,
        "date_extraction_params": set_date_params(False),
    }
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        work = Path(tmp)
        write_warcs(work / "warc", pages, files, per_file)
        n = files * per_file
        print(f"extract: {n} real pages ({len(pages)} distinct) in {files} WARC files")
        ray_exec = RayExecutor(workers=2)
        time_extract(work / "warc", ray_exec, work / "warm")
        b, b_default, local_1, ray_1, ray_2 = [], [], [], [], []
        for _ in range(repeats):
            b.append(bare(pages, files, per_file, **same))
            b_default.append(bare(pages, files, per_file))
            local_1.append(time_extract(work / "warc", LocalExecutor(), work / "out"))
            ray_exec.workers = 1
            ray_1.append(time_extract(work / "warc", ray_exec, work / "out"))
            ray_exec.workers = 2
            ray_2.append(time_extract(work / "warc", ray_exec, work / "out"))
        ray_exec.close()
    base, default, local, one, two = map(min, (b, b_default, local_1, ray_1, ray_2))
    print(f"  bare trafilatura.extract, same settings: {base:6.2f} s  {n / base:7.1f} pages/s")
    print(
        f"  bare trafilatura.extract, defaults     : {default:6.2f} s  {n / default:7.1f} pages/s"
    )
    print(f"  stage, local, 1 worker : {local:6.2f} s  {n / local:7.1f} pages/s")
    print(f"  stage, ray,   1 worker : {one:6.2f} s  {n / one:7.1f} pages/s")
    print(f"  stage, ray,   2 workers: {two:6.2f} s  {n / two:7.1f} pages/s")
    print(
        f"  overhead on 1 worker vs bare (same settings): local {local / base - 1:+.1%}, "
        f"ray {one / base - 1:+.1%}   (goal <= +10%)"
    )
    print(f"  speedup on 2 workers vs bare: {base / two:.2f}x   (goal >= 1.8x)")


def bench_crawl(pages: int) -> None:
    from tests.crawl_site import Site

    limits = FetchLimits(allow_private=True)
    config = CrawlConfig(
        max_pages=pages + 10, max_depth=1, delay_s=0.0, per_host_concurrency=8, limits=limits
    )
    with Site(crawl_delay=0, pages=pages) as site, tempfile.TemporaryDirectory() as tmp:
        urls = ["/"] + [f"/p/{i}" for i in range(pages)]
        start = time.perf_counter()
        for path in urls:
            conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
        bare_s = time.perf_counter() - start
        start = time.perf_counter()
        summary = crawl(
            [site.base + "/"], Path(tmp) / "c", config, LocalExecutor(), log=lambda _: None
        )
        ours_s = time.perf_counter() - start
    print(f"crawl: {summary.kept} pages from the local test site, politeness off")
    print(f"  bare sequential http.client GETs: {len(urls) / bare_s:7.1f} pages/s")
    print(
        f"  crawler (WARC written, fsync per page, links parsed): "
        f"{summary.handled / ours_s:7.1f} pages/s ({bare_s / ours_s:.2f}x bare)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--per-file", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--crawl-pages", type=int, default=400)
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    bench_extract(args.files, args.per_file, args.repeats)
    bench_crawl(args.crawl_pages)


if __name__ == "__main__":
    main()
