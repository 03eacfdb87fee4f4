"""A polite, resumable crawler writing WARC, parallel on Ray by partitioning the frontier by host.

The driver keeps the frontier and runs the crawl in rounds. Each round hands every partition of
hosts its share of pending URLs as one task (`crawl_partition`); a task fetches its hosts side by
side (one pacing clock per host: the configured delay or robots.txt's Crawl-delay, whichever is
longer, and at most `per_host_concurrency` requests at once) and appends each URL's records to its
own WARC file. The driver then adds the links found, within the allowed domains, depth and page
budget, and starts the next round. On a restart, the WARC files say what is done (see
`corpus.crawl.warcfile`), so nothing is fetched twice; a task run again (Ray retries one whose
worker died) reads its own WARC file first, in the same way.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import lxml.etree as etree
import lxml.html

from corpus.crawl.fetch import FetchError, FetchLimits, Response, fetch
from corpus.crawl.robots import Robots
from corpus.crawl.urls import host_of, in_domains, normalize_url
from corpus.crawl.warcfile import append_unit, scan, unit_bytes
from corpus.errors import CorpusError
from corpus.sources.common import decode_bytes
from corpus.sources.html import HTML_TYPES
from corpus.sources.markup import safe_xml_parser

FEED_TYPES = (
    "application/xml",
    "text/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/x-sitemap+xml",
)
RETRY_STATUSES = {429, 500, 502, 503, 504}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
ROBOTS_REDIRECTS = 5  # RFC 9309 §2.3.1.2: follow at least five, then robots.txt is unavailable
# fault injection for the retry test, unset in production: "N:MARKER" makes the worker writing
# a WARC file's Nth URL write half of it and die, once (it creates the file MARKER)
KILL_ENV = "CORPUS_CRAWL_TEST_KILL_AT"


@dataclass(frozen=True)
class CrawlConfig:
    max_pages: int = 1000  # URLs handled in all (fetched or refused), the trap guard
    max_depth: int = 5  # link hops from a seed
    allow_domains: tuple[str, ...] = ()  # besides the seeds' hosts (subdomains included)
    delay_s: float = 1.0  # between requests to one host; robots.txt's Crawl-delay can raise it
    max_crawl_delay_s: float = 30.0  # a larger Crawl-delay is capped here
    per_host_concurrency: int = 1
    threads: int = 8  # hosts fetched side by side in one task
    max_redirects: int = 5
    max_retries: int = 3  # on 429, 5xx and connection errors
    backoff_s: float = 1.0  # first retry wait without Retry-After; doubles each time
    max_retry_after_s: float = 60.0  # a longer Retry-After gives up on the URL
    obey_robots: bool = True
    limits: FetchLimits = field(default_factory=FetchLimits)

    def __post_init__(self):
        if self.max_pages < 1 or self.max_depth < 0 or self.per_host_concurrency < 1:
            raise ValueError("max_pages and per_host_concurrency must be ≥1, max_depth ≥0")


# --- one partition's task -------------------------------------------------------------------


class _Host:
    """One host's robots rules and pacing clock, shared by the threads fetching from it."""

    def __init__(self, name: str, config: CrawlConfig, cache_dir: Path, task: str):
        self.name, self.config, self.cache_dir = name, config, cache_dir
        self.task = task  # the WARC file's name: who fetched robots.txt follows its Sitemap lines
        self.key = hashlib.sha1(name.encode()).hexdigest()  # names its files in the cache folder
        self.lock = threading.Lock()
        self.next_start = 0.0
        self.rule = "allow_all"  # or "disallow_all", or "parsed" (then `robots` holds the rules)
        self.robots: Robots | None = None
        self.delay = config.delay_s
        self.sitemaps: list[str] = []

    def load_robots(self, scheme: str) -> None:
        """This host's rules: from the crawl's cache, or fetched once and cached."""
        cache = self.cache_dir / f"{self.key}.json"
        try:
            cached = json.loads(cache.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            cached = None
        fresh = False
        if not self.config.obey_robots:
            cached = {"rule": "allow_all"}
        elif cached is None:
            fresh = True
            cached = {**self._fetch_robots(f"{scheme}://{self.name}/robots.txt"), "by": self.task}
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{threading.get_ident()}")
            tmp.write_text(json.dumps(cached))
            tmp.replace(cache)
        self.rule = cached["rule"]
        if self.rule == "parsed":
            self.robots = Robots(cached["lines"], self.config.limits.user_agent)
            if crawl_delay := self.robots.crawl_delay:
                self.delay = max(self.delay, min(crawl_delay, self.config.max_crawl_delay_s))
            if cached.get("by") == self.task:  # followed once, or again by a retry of this task
                self.sitemaps = self.robots.sitemaps
        if fresh:  # the robots.txt request itself counts against the host's delay
            self.next_start = max(self.next_start, time.monotonic() + self.delay)
        try:  # the host's clock from an earlier round: its next request may not come sooner
            resume_at = float((self.cache_dir / f"{self.key}.clock").read_text())
            self.next_start = max(self.next_start, time.monotonic() + resume_at - time.time())
        except (FileNotFoundError, ValueError):
            pass

    def save_clock(self) -> None:
        wall = time.time() + max(0.0, self.next_start - time.monotonic())
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        (self.cache_dir / f"{self.key}.clock").write_text(repr(wall))

    def _fetch_robots(self, url: str) -> dict:
        """The rule RFC 9309 §2.3.1 gives for what fetching robots.txt returns."""
        for hop in range(ROBOTS_REDIRECTS + 1):
            self.pace()
            try:
                resp = fetch(url, self.config.limits)
            except FetchError as exc:
                if exc.reason == "private_address" and hop == 0:
                    return {"rule": "allow_all"}  # the page fetch will be refused with the reason
                return {"rule": "disallow_all", "why": exc.reason}  # unreachable: do not crawl
            if resp.status in REDIRECT_STATUSES and resp.header("Location"):
                url = normalize_url(resp.header("Location"), url) or ""
                if not url:
                    return {"rule": "allow_all", "why": "redirect to a non-http(s) URL"}
                continue
            # a 429 asks us to slow down, not that there are no rules: unreachable, as Google has it
            if resp.status >= 500 or resp.status == 429:
                return {"rule": "disallow_all", "why": f"HTTP {resp.status}"}
            if resp.status >= 300:
                return {"rule": "allow_all", "why": f"HTTP {resp.status}"}  # unavailable
            try:
                body = resp.decoded_body(1 << 20)
            except FetchError as exc:
                return {"rule": "disallow_all", "why": exc.reason}  # unreadable: do not crawl
            text, _ = decode_bytes(body)
            return {"rule": "parsed", "lines": text.splitlines()}
        return {"rule": "allow_all", "why": f"over {ROBOTS_REDIRECTS} redirects"}

    def allowed(self, url: str) -> bool:
        if self.rule == "disallow_all":
            return False
        return self.robots is None or self.robots.allowed(url)

    def pace(self) -> None:
        """Wait for this host's next slot (monotonic clock), then book the one after."""
        with self.lock:
            now = time.monotonic()
            wait = self.next_start - now
            self.next_start = max(now, self.next_start) + self.delay
        if wait > 0:
            time.sleep(wait)


def crawl_partition(config: CrawlConfig, warc_path: str, state_dir: str, urls: list) -> list[dict]:
    """Fetch `urls` ([url, depth] pairs, hosts of one partition) into `warc_path`; outcomes.

    Safe to run twice: the URLs `warc_path` already holds (from a run of this task whose worker
    died) are not fetched again, its torn tail is cut off first, and their outcomes are returned
    with the new ones.
    """
    warc = Path(warc_path)
    outcomes: list[dict] = list(scan(warc)) if warc.exists() else []
    done = {o["url"] for o in outcomes}
    cache_dir = Path(state_dir) / "robots"
    by_host: dict[str, deque] = {}
    for url, depth in urls:
        if url not in done:
            by_host.setdefault(host_of(url), deque()).append((url, depth))
    write_lock = threading.Lock()

    def work_host(host: _Host, queue: deque):
        while True:
            with host.lock:
                if not queue:
                    return
                url, depth = queue.popleft()
            outcome, response = _handle(url, depth, host, config)
            data = unit_bytes(outcome, response)
            with write_lock:
                _die_mid_write_if_asked(warc, data, len(outcomes) + 1)
                append_unit(warc, data)
                outcomes.append(outcome)

    hosts = {}
    for name, queue in by_host.items():
        host = hosts[name] = _Host(name, config, cache_dir, warc.name)
        host.load_robots(urlsplit(queue[0][0]).scheme)
        queued = {u for u, _ in queue}  # with `done`: a sitemap URL is queued once at most
        for sitemap in host.sitemaps:
            u = normalize_url(sitemap)
            if u and host_of(u) == name and u not in queued and u not in done:
                queued.add(u)
                queue.append((u, 0))
    jobs = [(hosts[n], q) for n, q in by_host.items() for _ in range(config.per_host_concurrency)]
    with ThreadPoolExecutor(max_workers=max(1, min(config.threads, len(jobs)))) as pool:
        for future in [pool.submit(work_host, h, q) for h, q in jobs]:
            future.result()
    for host in hosts.values():
        host.save_clock()
    return outcomes


def _die_mid_write_if_asked(warc: Path, data: bytes, unit_no: int) -> None:
    """The fault KILL_ENV asks for, for tests: half of this URL's records written, then exit."""
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    at, marker = spec.split(":", 1)
    if unit_no != int(at):
        return
    try:
        open(marker, "x").close()  # once: the retry finds the marker
    except FileExistsError:
        return
    with open(warc, "ab") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
    os._exit(1)


def _handle(url: str, depth: int, host: _Host, config: CrawlConfig) -> tuple[dict, Response | None]:
    """Fetch one URL (following same-host redirects): its outcome record and kept response."""
    outcome = {"url": url, "depth": depth, "links": [], "time": round(time.time(), 3)}
    chain = [url]
    current = url
    try:
        while True:
            if not host.allowed(current):
                raise FetchError("robots_disallowed", current)
            resp = _fetch_with_retries(current, host, config)
            outcome["status"] = resp.status
            if resp.status in REDIRECT_STATUSES:
                target = normalize_url(resp.header("Location") or "", current)
                if target is None:
                    raise FetchError("bad_redirect", resp.header("Location") or "no Location")
                if target in chain:
                    raise FetchError("redirect_loop", " -> ".join(chain + [target]))
                if len(chain) > config.max_redirects:
                    raise FetchError("too_many_redirects", f"over {config.max_redirects}")
                chain.append(target)
                if host_of(target) != host.name:  # another host's queue handles it
                    outcome["links"] = [target]
                    outcome["redirected_to"] = target
                    outcome["outcome"] = "redirect"
                    return outcome, None
                current = target
                continue
            break
        outcome["final_url"] = current
        if len(chain) > 1:
            outcome["redirect_chain"] = chain
        if not 200 <= resp.status < 300:
            raise FetchError("http_status", f"HTTP {resp.status}")
        ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        body = resp.decoded_body(config.limits.max_bytes)
        if ctype in FEED_TYPES or (not ctype and body.lstrip()[:5] == b"<?xml"):
            outcome["links"] = feed_links(body, current)
            outcome["outcome"] = "feed"
            return outcome, None
        if ctype and ctype not in HTML_TYPES:
            raise FetchError("not_html", f"Content-Type {ctype}")
        outcome["links"] = html_links(body, current, resp.header("Content-Type"))
        outcome["outcome"] = "kept"
        return outcome, resp
    except FetchError as exc:
        outcome["outcome"] = "rejected"
        outcome["reason"] = exc.reason
        outcome["error"] = exc.detail[:500]
        if len(chain) > 1:
            outcome["redirect_chain"] = chain
        return outcome, None


def _fetch_with_retries(url: str, host: _Host, config: CrawlConfig) -> Response:
    attempt = 0
    while True:
        host.pace()
        try:
            resp = fetch(url, config.limits)
        except FetchError as exc:
            if exc.reason != "connection_error" or attempt >= config.max_retries:
                raise
            wait = config.backoff_s * 2**attempt
        else:
            if resp.status not in RETRY_STATUSES:
                return resp
            if attempt >= config.max_retries:
                raise FetchError("http_status", f"HTTP {resp.status} after {attempt} retries")
            wait = retry_after(resp.header("Retry-After"))
            if wait is None:
                wait = config.backoff_s * 2**attempt
            elif wait > config.max_retry_after_s:
                raise FetchError("retry_after_too_long", f"Retry-After {wait:g} s")
        attempt += 1
        with host.lock:  # the whole host waits, not just this thread
            host.next_start = max(host.next_start, time.monotonic() + wait)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def html_links(body: bytes, base: str, content_type: str | None) -> list[str]:
    """Followable links of a page: <a href>, resolved and normalized; nofollow honoured."""
    text, _ = decode_bytes(body, content_type, html=True)
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return []
    robots_meta = " ".join(doc.xpath("//meta[@name='robots' or @name='ROBOTS']/@content")).lower()
    if "nofollow" in robots_meta:
        return []
    base_href = doc.xpath("//base/@href")
    base = normalize_url(base_href[0], base) or base if base_href else base
    links, seen = [], set()
    for a in doc.xpath("//a[@href]"):
        if "nofollow" in (a.get("rel") or "").lower():
            continue
        url = normalize_url(a.get("href"), base)
        if url and url not in seen:
            seen.add(url)
            links.append(url)
    return links


def feed_links(body: bytes, base: str) -> list[str]:
    """Article URLs from a sitemap (or sitemap index), an RSS feed or an Atom feed."""
    try:
        root = etree.fromstring(body, safe_xml_parser(recover=True))
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    found = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "loc" or (tag == "link" and el.text and el.text.strip()):
            found.append(el.text.strip())
        elif tag == "link" and el.get("href") and el.get("rel", "alternate") == "alternate":
            found.append(el.get("href"))
    links = []
    for raw in found:
        url = normalize_url(raw, base)
        if url and url not in links:
            links.append(url)
    return links


# --- the driver -----------------------------------------------------------------------------


@dataclass
class CrawlSummary:
    handled: int = 0  # URLs with an outcome, in all runs
    fetched_now: int = 0  # URLs handled in this run
    kept: int = 0
    rejected: dict = field(default_factory=dict)
    resumed_from: int = 0  # outcomes found in the WARC files at the start
    rounds: int = 0
    warc_files: list = field(default_factory=list)


def crawl(
    seeds: list[str],
    out_dir: Path,
    config: CrawlConfig,
    executor,
    log: Callable[[str], None] = print,
) -> CrawlSummary:
    """Crawl from `seeds` into `out_dir/*.warc.gz`, resuming what the folder already holds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state_dir = out_dir / "_state"
    state_dir.mkdir(exist_ok=True)
    starts = check_seeds(seeds)
    domains = sorted({urlsplit(s).hostname for s in starts} | set(config.allow_domains))

    summary = CrawlSummary()
    done: set[str] = set()
    pending: dict[str, int] = {}

    def record(outcome: dict) -> None:
        summary.handled += 1
        done.add(outcome["url"])
        if outcome.get("final_url"):
            done.add(outcome["final_url"])
        if outcome.get("outcome") == "kept":
            summary.kept += 1
        elif outcome.get("reason"):
            summary.rejected[outcome["reason"]] = summary.rejected.get(outcome["reason"], 0) + 1
        pending.pop(outcome["url"], None)
        next_depth = outcome["depth"] + (0 if outcome.get("outcome") == "redirect" else 1)
        if outcome.get("outcome") == "feed":
            next_depth = outcome["depth"]  # a feed's articles are as near as the feed
        if next_depth > config.max_depth:
            return
        for link in outcome.get("links", []):
            if link in done or link in pending or not in_domains(link, domains):
                continue
            pending[link] = next_depth

    warcs = sorted(out_dir.glob("crawl-*.warc.gz"))
    for path in warcs:
        for outcome in scan(path):
            record(outcome)
    summary.resumed_from = summary.handled
    for url in starts:
        if url not in done and url not in pending:
            pending[url] = 0
    attempt = len({p.name.split("-")[1] for p in warcs})
    if summary.resumed_from:
        log(f"[crawl] resuming: {summary.resumed_from} URLs already in {len(warcs)} WARC files")

    partitions = max(1, getattr(executor, "workers", 1))
    round_no = 0
    while pending and summary.handled < config.max_pages:
        budget = config.max_pages - summary.handled
        batch = sorted(pending.items(), key=lambda kv: (kv[1], kv[0]))[:budget]
        shares: dict[int, list] = {}
        for url, depth in batch:
            part = int(hashlib.sha1(host_of(url).encode()).hexdigest(), 16) % partitions
            shares.setdefault(part, []).append([url, depth])
        calls = []
        for part, urls in sorted(shares.items()):
            name = f"crawl-{attempt:03d}-{round_no:04d}-{part:03d}.warc.gz"
            calls.append((config, str(out_dir / name), str(state_dir), urls))
        for outcomes in executor.map_unordered(crawl_partition, calls):
            for outcome in outcomes:
                record(outcome)
                summary.fetched_now += 1
        for url, _ in batch:  # a URL a task could not handle is not retried forever
            pending.pop(url, None)
        round_no += 1
        summary.rounds += 1
        log(
            f"[crawl] round {round_no}: {summary.handled} URLs handled, {summary.kept} pages kept, "
            f"{len(pending)} pending"
        )
    summary.warc_files = [p.name for p in sorted(out_dir.glob("crawl-*.warc.gz"))]
    (state_dir / "summary.json").write_text(json.dumps(asdict(summary), indent=1, sort_keys=True))
    return summary


def check_seeds(seeds: list[str]) -> list[str]:
    """The seeds normalized; one that is not an http(s) URL is a one-line error."""
    starts = [normalize_url(s) for s in seeds]
    bad = [s for s, n in zip(seeds, starts, strict=True) if n is None]
    if bad:
        raise CorpusError(f"not an http(s) URL: {bad[0]}")
    return starts


def read_seeds(path: Path) -> list[str]:
    """Seed URLs, one a line; blank lines and # comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read seeds file {path}: {exc}") from None
    seeds = [re.sub(r"\s+#.*$", "", line).strip() for line in lines]
    seeds = [s for s in seeds if s and not s.startswith("#")]
    if not seeds:
        raise CorpusError(f"no seed URLs in {path}")
    return seeds
