"""`corpus crawl`: the polite crawler from seed URLs into gzip WARC files, its options made from
the crawl stage's Params. It runs the crawler itself rather than through `run_standalone`: a
crawl keeps no commit records, it resumes from the WARC files it wrote."""

from __future__ import annotations

from pathlib import Path

from corpus.crawl.crawler import check_seeds, crawl, read_seeds
from pipelines.cli.command import executor_options, log
from pipelines.cli.stage_flags import Flag, StageFlags
from pipelines.crawl_stage import CrawlParams
from pipelines.executors import make_executor

CRAWL = StageFlags(
    CrawlParams,
    {
        "delay_s": Flag("--delay", metavar="SECONDS"),
        "timeout_s": Flag("--timeout", metavar="SECONDS"),
        "allow_domains": Flag("--allow-domain", metavar="DOMAIN"),
        "obey_robots": Flag("--ignore-robots", negate=True),
    },
    omit=("seeds",),
)


def add_crawl_parser(sub) -> None:
    p = sub.add_parser("crawl", help="crawl from seed URLs into gzip WARC files, politely")
    p.add_argument("--seeds", required=True, metavar="FILE", help="seed URLs, one a line")
    p.add_argument("--out", required=True, metavar="DIR", help="e.g. RUN/crawl")
    CRAWL.add_to(p)
    executor_options(p)
    p.set_defaults(run=cmd_crawl)


def cmd_crawl(args) -> int:
    seeds = check_seeds(read_seeds(Path(args.seeds)))  # a bad seed is bad input: exit 1
    config = CRAWL.parse(args, "corpus crawl", seeds=seeds).config()
    executor = make_executor(args.executor, args.address, args.workers, args.task_memory)
    try:
        summary = crawl(seeds, Path(args.out), config, executor, log=log)
    finally:
        executor.close()
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary.rejected.items()))
    log(
        f"[crawl] {summary.handled} URLs ({summary.fetched_now} this run), {summary.kept} pages "
        f"kept in {len(summary.warc_files)} WARC files"
        + (f"; not kept: {rejected}" if rejected else "")
    )
    return 0
