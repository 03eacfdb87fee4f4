"""`DemoSite` serves the sample site on 127.0.0.1 for the demo's crawl, on `LocalServer`: a small
threaded HTTP server answering GET through a route function, which the crawler tests' own site
builds on too (the demo cannot import the tests, so the server lives here)."""

from __future__ import annotations

import contextlib
import posixpath
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from samples.site import BASE

TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/rss+xml", ".txt": "text/plain"}
REDIRECTS = {"/old-docs": "/docs/"}


class LocalServer:
    """A threaded HTTP/1.1 server answering GET with `self.route(path)`; `with Server(...) as
    s:` starts it and stops it, and `s.base` is its address (port 0: a free one)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self.server = ThreadingHTTPServer((host, port), route_handler(self.route))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def route(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for a path."""
        raise NotImplementedError


class DemoSite(LocalServer):
    """Serves the generated site folder on 127.0.0.1, with a redirect and 404s."""

    def __init__(self, root: str | Path, port: int = 0, host: str = "127.0.0.1"):
        self.root = Path(root).resolve()
        super().__init__(port, host)

    def route(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        path = path.split("?", 1)[0].split("#", 1)[0]
        if path in REDIRECTS:
            return 301, [("Location", REDIRECTS[path])], b""
        rel = posixpath.normpath(path).lstrip("/")
        target = (self.root / rel).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.root) or not target.is_file():
            return 404, [("Content-Type", "text/plain")], b"not found"
        data = target.read_bytes().replace(BASE.encode(), self.base.encode())
        ctype = TYPES.get(target.suffix, "application/octet-stream")
        if target.name == "sitemap.xml":
            ctype = "application/xml"
        return 200, [("Content-Type", ctype)], data


def route_handler(route) -> type[BaseHTTPRequestHandler]:
    """A quiet HTTP/1.1 GET handler answering each path with `route(path)`, which returns
    (status, headers, body)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            status, headers, body = route(self.path)
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler
