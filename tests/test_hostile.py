"""The crawler against a hostile server on 127.0.0.1: it drips bytes, sends endless headers, lies
about Content-Length, redirects forever, and serves a gzip bomb. Each
is bounded by a limit and logged with its reason, the crawl goes on, and the good page is kept."""

from __future__ import annotations

import gzip
import socketserver
import threading
import time

from corpus.crawl.crawler import CrawlConfig, crawl
from corpus.crawl.fetch import FetchLimits
from pipelines.executors import LocalExecutor
from tests.test_crawl import outcomes_of

BOMB = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MB of zeros in about 64 KB

INDEX = (
    b"<html><body><p>A good page among bad ones, with enough words to keep.</p>"
    b'<a href="/drip">d</a> <a href="/headers">h</a> <a href="/short">s</a> '
    b'<a href="/redirect/0">r</a> <a href="/bomb">b</a> <a href="/good">g</a> '
    b'<a href="/hugeline">l</a> <a href="http://10.1.2.3/private">p</a></body></html>'
)
GOOD = (
    b"<html><body><article><p>"
    + b"Plain and decent text of a page. " * 40
    + b"</p></article></body></html>"
)


def head(status: str, headers: list[str], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: text/html", "Connection: close", *headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Hostile(socketserver.BaseRequestHandler):
    def handle(self):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ")[1].decode()
        send = self.request.sendall
        try:
            if path == "/robots.txt":
                send(head("404 Not Found", [], 0))
            elif path == "/":
                send(head("200 OK", [], len(INDEX)) + INDEX)
            elif path == "/good":
                send(head("200 OK", [], len(GOOD)) + GOOD)
            elif path == "/drip":  # one byte a second, forever
                send(head("200 OK", [], 5000))  # within the size cap: only time stops it
                for _ in range(120):
                    send(b"<")
                    time.sleep(1.0)
            elif path == "/headers":  # headers that never end
                send(b"HTTP/1.1 200 OK\r\n")
                for i in range(100_000):
                    send(f"X-Filler-{i}: {'x' * 50}\r\n".encode())
            elif path == "/hugeline":  # one header line of 1 MB
                send(b"HTTP/1.1 200 OK\r\nX-Big: " + b"y" * (1 << 20) + b"\r\n\r\n")
            elif path == "/short":  # promises 100,000 bytes, sends 50, closes
                send(head("200 OK", [], 100_000) + b"<html><body>cut off</body></html>"[:50])
            elif path.startswith("/redirect/"):  # a new URL each time, forever
                n = int(path.rsplit("/", 1)[1])
                send(head("302 Found", [f"Location: /redirect/{n + 1}"], 0))
            elif path == "/bomb":
                send(head("200 OK", ["Content-Encoding: gzip"], len(BOMB)) + BOMB)
            else:
                send(head("404 Not Found", [], 0))
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


def test_hostile_server_is_bounded_and_the_crawl_goes_on(tmp_path):
    server = Server(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    # loopback must be allowed to reach this server; refusing private addresses is tested in
    # test_crawl.py (test_private_addresses_are_refused_by_default)
    limits = FetchLimits(read_timeout_s=2.0, connect_timeout_s=2.0, deadline_s=4.0,
                         max_bytes=1 << 20, allow_private=True)  # fmt: skip
    config = CrawlConfig(max_pages=50, max_depth=30, delay_s=0.0, backoff_s=0.1, max_retries=0,
                         limits=limits, obey_robots=True)  # fmt: skip
    lines: list[str] = []
    started = time.monotonic()
    try:
        summary = crawl([base + "/"], tmp_path / "crawl", config, LocalExecutor(), log=lines.append)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    found = outcomes_of(tmp_path / "crawl")
    reason = {url.removeprefix(base): o.get("reason") for url, o in found.items()}
    print(f"\nhostile crawl: {elapsed:.1f} s; reasons {reason}")
    assert reason["/"] is None and reason["/good"] is None  # the good pages are kept
    assert reason["/drip"] in ("deadline", "timeout")
    assert reason["/headers"] in ("bad_response", "deadline")
    assert reason["/hugeline"] in ("bad_response", "deadline")
    assert reason["/short"] == "incomplete_body"
    assert reason["/redirect/0"] == "too_many_redirects"
    assert reason["/bomb"] == "too_large"
    assert summary.kept == 2
    assert elapsed < 60  # every hostile page was cut off by a limit
