"""A generated web site on 127.0.0.1 for crawler tests and benchmarks, with the traps crawlers meet.

robots.txt rules (a disallowed folder, a Crawl-delay, a Sitemap line), a redirect loop, a 429 with
Retry-After, a slow page, a huge page, a binary file, a Latin-1 page without a charset, an infinite
calendar, an RSS feed, and duplicate links (fragments, tracking parameters). It counts and times
every request it serves, by its request target as sent (escapes and query included).

For robots.txt tests, `robots` replaces its lines and `robots_status` its answer (a 3xx
redirects to /moved/robots.txt, which serves the lines); `/hub` links to `hub`, and every path
under /t/ is a plain page.
"""

from __future__ import annotations

import threading
import time

from samples.site_server import LocalServer

PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<nav><a href="/">Home</a></nav><article><h1>{title}</h1>
<p>{body}</p><p>This page belongs to a generated site that tests a crawler's manners.</p>
</article>{links}</body></html>"""


def page(title: str, links: list[str] = (), body: str = "Plain words about nothing.") -> bytes:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return PAGE.format(title=title, body=body, links=anchors).encode()


class Site(LocalServer):
    def __init__(
        self,
        crawl_delay: float = 0.2,
        slow_s: float = 3.0,
        pages: int = 0,
        robots: list[str] | None = None,
        robots_status: int = 200,
        hub: list[str] = (),
    ):
        self.crawl_delay = crawl_delay
        self.robots = robots
        self.robots_status = robots_status
        self.hub = list(hub)
        self.slow_s = slow_s
        self.extra_pages = pages  # /p/0 .. /p/N-1, a plain site for resume and speed tests
        self.requests: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.busy_served = 0
        super().__init__()

    def route(self, path: str):
        with self.lock:
            self.requests.append((time.monotonic(), path))
        return self.routes(path)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(p == path for _, p in self.requests)

    def routes(self, path: str):
        """(status, headers, body) for a path."""
        html = [("Content-Type", "text/html; charset=utf-8")]
        text = [("Content-Type", "text/plain")]
        if path == "/robots.txt" and 300 <= self.robots_status < 400:
            return self.robots_status, [("Location", "/moved/robots.txt"), *text], b""
        if path == "/robots.txt" and self.robots_status != 200:
            return self.robots_status, text, b"no robots.txt here"
        if path in ("/robots.txt", "/moved/robots.txt"):
            lines = self.robots
            if lines is None:
                lines = ["User-agent: *", "Disallow: /private/", f"Crawl-delay: {self.crawl_delay}"]
                lines.append(f"Sitemap: {self.base}/sitemap.xml")
            return 200, text, "\n".join(lines).encode()
        if path == "/hub":
            return 200, html, page("Hub", self.hub)
        if path.startswith("/t/"):
            return 200, html, page(f"Target {path}", body=f"The page at {path}.")
        if path == "/":
            links = [
                "/a", "/a#section", "/a?utm_source=news", "./b", "/b/../a", "/private/secret",
                "/loop/1", "/busy", "/slow", "/huge", "/file.bin", "/latin1",
                "/calendar/2024/01", "/feed.xml", "http://elsewhere.invalid/page",
                "mailto:someone@example.com", "/missing",
            ]  # fmt: skip
            links += [f"/p/{i}" for i in range(self.extra_pages)]
            return 200, html, page("Home", links)
        if path in ("/a", "/b"):
            return 200, html, page(f"Page {path}", ["/", "/a", "/b"], body=f"Text of {path}.")
        if path.startswith("/p/"):
            return 200, html, page(f"Plain {path}", ["/"], body=f"Plain page {path}. " * 20)
        if path == "/private/secret":
            return 200, html, page("Secret", body="robots.txt forbids this page")
        if path == "/loop/1":
            return 302, [("Location", "/loop/2")], b""
        if path == "/loop/2":
            return 302, [("Location", "/loop/1")], b""
        if path == "/busy":
            with self.lock:
                self.busy_served += 1
                first = self.busy_served == 1
            if first:
                return 429, [("Retry-After", "1"), ("Content-Type", "text/plain")], b"slow down"
            return 200, html, page("Busy", body="served after waiting as asked")
        if path == "/slow":
            time.sleep(self.slow_s)
            return 200, html, page("Slow")
        if path == "/huge":
            return 200, html, page("Huge", body="huge " * 600_000)  # 3 MB
        if path == "/file.bin":
            return 200, [("Content-Type", "application/octet-stream")], bytes(range(256)) * 40
        if path == "/latin1":
            body = page("Crème", body="Un café crème à la française, s'il vous plaît.")
            return 200, [("Content-Type", "text/html")], body.decode().encode("latin-1")
        if path.startswith("/calendar/"):
            _, _, year, month = path.split("/")
            y, m = int(year), int(month)
            nxt = f"/calendar/{y + (m == 12)}/{m % 12 + 1:02d}"
            return 200, html, page(f"Calendar {y}-{m:02d}", [nxt], body="No events this month.")
        if path == "/feed.xml":
            rss = (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
                f"<link>{self.base}/</link>"
                f"<item><title>One</title><link>{self.base}/article-1</link></item>"
                "</channel></rss>"
            )
            return 200, [("Content-Type", "application/rss+xml")], rss.encode()
        if path == "/sitemap.xml":
            xml = (
                '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{self.base}/from-sitemap</loc></url></urlset>"
            )
            return 200, [("Content-Type", "application/xml")], xml.encode()
        if path in ("/article-1", "/from-sitemap"):
            return 200, html, page(f"Found {path}", body="Discovered through a feed or sitemap.")
        return 404, [("Content-Type", "text/plain")], b"not found"
