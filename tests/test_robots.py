"""robots.txt per RFC 9309 and URL escapes, checked by what the local test site was asked for."""

from __future__ import annotations

from collections import Counter

import pytest

from corpus.crawl.crawler import CrawlConfig, crawl
from corpus.crawl.fetch import FetchLimits
from corpus.crawl.robots import Robots, product_token
from corpus.crawl.urls import normalize_url
from pipelines.executors import LocalExecutor
from tests.crawl_site import Site

UA = FetchLimits.user_agent  # product token "corpus-crawler"


def crawl_hub(tmp_path, hub: list[str], **site_options) -> tuple[Counter, dict]:
    """Crawl the site's /hub page and the links on it: (paths the server served, rejected)."""
    config = CrawlConfig(max_depth=1, delay_s=0.0, limits=FetchLimits(allow_private=True))
    with Site(crawl_delay=0, hub=hub, **site_options) as site:
        summary = crawl([site.base + "/hub"], tmp_path / "crawl", config, LocalExecutor(), log=str)
        served = Counter(p for _, p in site.requests)
    return served, summary.rejected


def test_longest_match_wins_whatever_the_order(tmp_path):
    robots = ["User-agent: *", "Allow: /t/docs/", "Disallow: /t/docs/private/"]
    served, rejected = crawl_hub(
        tmp_path, ["/t/docs/a.html", "/t/docs/private/a.html"], robots=robots
    )
    assert served["/t/docs/a.html"] == 1
    assert served["/t/docs/private/a.html"] == 0  # urllib's first match fetched it
    assert rejected == {"robots_disallowed": 1}


def test_wildcard_and_end_anchor_count(tmp_path):
    robots = ["User-agent: *", "Disallow: /*.pdf$", "Disallow: /t/*/tmp/"]
    hub = ["/t/x.pdf", "/t/dir/y.pdf", "/t/x.pdf?v=1", "/t/x.pdf.html", "/t/a/tmp/z", "/t/tmp/z"]
    served, rejected = crawl_hub(tmp_path, hub, robots=robots)
    # `$` anchors at the end of path and query, so a query after ".pdf" escapes the rule
    assert served["/t/x.pdf?v=1"] == 1 and served["/t/x.pdf.html"] == 1
    assert served["/t/x.pdf"] == 0 and served["/t/dir/y.pdf"] == 0
    assert served["/t/a/tmp/z"] == 0 and served["/t/tmp/z"] == 1  # `*` needs its "/" around it
    assert rejected == {"robots_disallowed": 3}


def test_a_group_applies_only_to_its_own_product_token(tmp_path):
    robots = [
        "User-agent: corpus-crawler-evil",  # a longer name: another crawler
        "Disallow: /t/",
        "",
        "User-agent: corpus",  # a prefix of ours: another crawler too
        "Disallow: /t/",
        "",
        "User-agent: Corpus-Crawler/2.0",  # ours, whatever the case and version
        "Disallow: /t/mine",
        "",
        "User-agent: *",  # not ours once our own group exists
        "Disallow: /t/star-only",
    ]
    served, rejected = crawl_hub(tmp_path, ["/t/page", "/t/mine", "/t/star-only"], robots=robots)
    assert served["/t/page"] == 1 and served["/t/star-only"] == 1
    assert served["/t/mine"] == 0
    assert rejected == {"robots_disallowed": 1}


def test_robots_txt_status_decides_per_rfc_9309(tmp_path):
    hub = ["/t/page", "/t/no"]
    rules = ["User-agent: *", "Disallow: /t/no"]
    served, rejected = crawl_hub(tmp_path / "moved", hub, robots=rules, robots_status=301)
    assert served["/moved/robots.txt"] == 1 and served["/t/no"] == 0  # a redirect is followed
    assert served["/t/page"] == 1 and rejected == {"robots_disallowed": 1}
    served, rejected = crawl_hub(tmp_path / "gone", hub, robots=rules, robots_status=404)
    assert served["/t/page"] == served["/t/no"] == 1 and not rejected  # unavailable: allow all
    served, rejected = crawl_hub(tmp_path / "down", hub, robots=rules, robots_status=503)
    assert served == {"/robots.txt": 1}  # unreachable: disallow all, the seed included
    assert rejected == {"robots_disallowed": 1}


def test_reserved_escapes_and_bare_flags_reach_the_server_as_written(tmp_path):
    robots = ["User-agent: *", "Disallow: /t/a/b"]
    hub = ["/t/a%2Fb", "/t/a/b", "/t/p%3dq%26r%2bs", "/t/q?flag", "/t/q?x=%26%3D%2B&flag", "/t/%7e"]
    served, rejected = crawl_hub(tmp_path, hub, robots=robots)
    assert served["/t/a%2Fb"] == 1 and served["/t/a/b"] == 0  # one slash escaped: another page
    assert served["/t/p%3Dq%26r%2Bs"] == 1  # kept escaped, hex in upper case
    assert served["/t/q?flag"] == 1 and served["/t/q?flag&x=%26%3D%2B"] == 1
    assert served["/t/~"] == 1  # an unreserved escape is its character
    assert rejected == {"robots_disallowed": 1}


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://h.org/a%2fb", "http://h.org/a%2Fb"),
        ("http://h.org/a%2Fb/../c", "http://h.org/c"),
        ("http://h.org/%41%7e%2D", "http://h.org/A~-"),
        ("http://h.org/caf\u00e9 x", "http://h.org/caf%C3%A9%20x"),
        ("http://h.org/caf%c3%a9", "http://h.org/caf%C3%A9"),
        ("http://h.org/100%", "http://h.org/100%25"),
        ("http://h.org/?flag", "http://h.org/?flag"),
        ("http://h.org/?flag=", "http://h.org/?flag="),
        ("http://h.org/?b=%2b&a=%26&utm_source=x", "http://h.org/?a=%26&b=%2B"),
        ("http://h.org/?q=a+b", "http://h.org/?q=a+b"),
        ("http://h.org/?", "http://h.org/"),
    ],
)
def test_normalization_keeps_reserved_escapes(url, normal):
    assert normalize_url(url) == normal


def test_crawl_delay_and_sitemaps_come_from_our_group():
    assert product_token(UA) == "corpus-crawler"
    assert Robots(["User-agent: *", "Crawl-delay: 0.5"], UA).crawl_delay == 0.5
    lines = ["User-agent: corpus", "Crawl-delay: 3", "", "User-agent: *", "Crawl-delay: 1"]
    assert Robots(lines, UA).crawl_delay == 1  # `corpus` is not our token
    lines = ["User-agent: corpus-crawler", "Crawl-delay: 3", "", "User-agent: *", "Crawl-delay: 1"]
    assert Robots(lines, UA).crawl_delay == 3
    lines = ["Sitemap: http://h.org/s.xml", "User-agent: other", "Disallow: /"]
    robots = Robots(lines, UA)
    assert robots.sitemaps == ["http://h.org/s.xml"] and robots.allowed("http://h.org/x")


@pytest.mark.parametrize(
    ("group", "ours"),
    [
        ("User-agent: corpus-crawler", True),
        ("user-agent: CORPUS-CRAWLER/9 # us", True),
        ("User agent: corpus-crawler", True),
        ("User-agent corpus-crawler", True),
        ("User-agent: corpus", False),
        ("User-agent corpus", False),
        ("User-agent: corpus-crawler-evil", False),
        ("User-agent: corpus*", False),
        ("User-agent: bot", False),
    ],
)
def test_a_group_is_ours_only_by_exact_product_token(group, ours):
    robots = Robots([group, "Disallow: /a", "", "User-agent: *", "Disallow: /star"], UA)
    assert robots.allowed("http://h.org/a") is not ours
    assert robots.allowed("http://h.org/star") is ours
