"""The `crawl` stage: the polite crawler as a pipeline stage, writing RUN/<name>/*.warc.gz.

`extract_web` or `extract_article` with `input: crawl` then read its WARC files. A finished
crawl is reused as a whole; a killed one resumes from its WARC files (nothing fetched twice);
a changed config starts the crawl over.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from corpus.crawl.crawler import CrawlConfig, check_seeds, crawl
from corpus.crawl.fetch import FetchLimits
from corpus.errors import CorpusError
from pipelines.stages import FilesStage


@dataclass(frozen=True)
class CrawlParams:
    seeds: list[str]  # start URLs
    max_pages: int = 1000  # URLs handled in all (fetched or refused): the guard against traps
    max_depth: int = 5  # link hops from a seed
    allow_domains: list[str] = field(default_factory=list)  # crawled with their subdomains too,
    # besides the seeds' hosts
    allow_private: bool = False  # private and loopback addresses (your own servers only)
    obey_robots: bool = True  # robots.txt rules; ignore them for your own sites only
    delay_s: float = 1.0  # between requests to one host; robots.txt's Crawl-delay can raise it
    per_host_concurrency: int = 1  # requests in flight to one host
    timeout_s: float = 20.0  # to wait for a read
    max_page_mb: float = 8.0  # a larger response is refused
    user_agent: str = FetchLimits.user_agent  # sent with every request

    def __post_init__(self):
        if not self.seeds:
            raise ValueError("seeds must list at least one URL")
        try:
            check_seeds(self.seeds)
        except CorpusError as exc:
            raise ValueError(str(exc)) from None
        if self.max_pages < 1 or self.max_depth < 0 or self.per_host_concurrency < 1:
            raise ValueError("max_pages and per_host_concurrency must be ≥1, max_depth ≥0")
        if self.delay_s < 0 or self.timeout_s <= 0 or self.max_page_mb <= 0:
            raise ValueError("delay_s must be ≥0, timeout_s and max_page_mb > 0")

    def config(self) -> CrawlConfig:
        limits = FetchLimits(
            read_timeout_s=self.timeout_s,
            connect_timeout_s=min(10.0, self.timeout_s),
            deadline_s=max(60.0, 3 * self.timeout_s),
            max_bytes=int(self.max_page_mb * (1 << 20)),
            allow_private=self.allow_private,
            user_agent=self.user_agent,
        )
        return CrawlConfig(
            max_pages=self.max_pages,
            max_depth=self.max_depth,
            allow_domains=tuple(d.lower().strip(".") for d in self.allow_domains),
            delay_s=self.delay_s,
            per_host_concurrency=self.per_host_concurrency,
            obey_robots=self.obey_robots,
            limits=limits,
        )


class Crawl(FilesStage):
    """Crawl from seed URLs into WARC files: robots.txt, per-host delays, retries, size caps,
    same-site links, a depth and page budget; parallel on the executor by host."""

    Params = CrawlParams

    def make(self, out_dir: Path, executor, log) -> tuple[list[Path], dict]:
        summary = crawl(self.params.seeds, out_dir, self.params.config(), executor, log=log)
        rejected = dict(sorted(summary.rejected.items()))
        not_pages = summary.handled - summary.kept - sum(rejected.values())
        stats = {
            "docs_in": summary.handled,  # URLs
            "docs_out": summary.kept,  # pages in the WARC files
            "docs_rejected": sum(rejected.values()),
            "rejected": rejected,
            "counters": {
                "rounds": summary.rounds,
                "fetched_this_run": summary.fetched_now,
                "resumed_from": summary.resumed_from,
                "redirects_and_feeds": not_pages,
                "warc_files": len(summary.warc_files),
            },
        }
        return [out_dir / name for name in summary.warc_files], stats

    def reset(self, out_dir: Path) -> None:
        for path in out_dir.glob("crawl-*.warc.gz"):
            path.unlink()
        shutil.rmtree(out_dir / "_state", ignore_errors=True)
