"""One HTTP GET with every limit a crawler needs: address check, timeouts, size cap, deadline.

The host name is resolved once and the connection goes to that address, so the address that was
checked is the address that is fetched (no DNS rebinding). A watchdog closes the socket at the
overall deadline, so a server that drips bytes or sends endless headers cannot hold a worker.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from corpus.crawl.urls import DEFAULT_PORTS, is_public_address


class FetchError(Exception):
    """A fetch that produced no usable response; `reason` names why (a counted rejection)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    deadline_s: float = 60.0  # the whole request, headers and body
    max_bytes: int = 8 << 20  # body as received; a larger one is refused
    allow_private: bool = False
    user_agent: str = "corpus-crawler/0.1 (+https://github.com/corpus)"


@dataclass
class Response:
    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes  # as sent (Content-Encoding not undone; chunking undone)
    ip: str
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def decoded_body(self, max_bytes: int) -> bytes:
        """The body with gzip/deflate undone, refusing more than `max_bytes` (a bomb)."""
        encoding = (self.header("Content-Encoding") or "").lower().strip()
        if encoding in ("", "identity"):
            return self.body
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise FetchError("unsupported_encoding", encoding)
        decoder = zlib.decompressobj(47 if "gzip" in encoding else 15)
        try:
            out = decoder.decompress(self.body, max_bytes + 1)
        except zlib.error as exc:
            raise FetchError("bad_encoding", str(exc)) from None
        if len(out) > max_bytes:
            raise FetchError("too_large", f"decompresses to over {max_bytes} bytes")
        return out


def resolve(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError("dns_error", f"{host}: {exc}") from None
    ip = infos[0][4][0]
    if not allow_private and not is_public_address(ip):
        raise FetchError("private_address", f"{host} resolves to {ip}")
    return ip


def fetch(url: str, limits: FetchLimits) -> Response:
    """GET `url` once (no redirects followed); raises FetchError when no response comes."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    ip = resolve(host, port, limits.allow_private)
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=limits.connect_timeout_s, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=limits.connect_timeout_s)

    def connect_pinned(address, timeout=None, source_address=None):
        return socket.create_connection((ip, port), timeout, source_address)

    conn._create_connection = connect_pinned  # connect to the checked address, keep Host/SNI
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request_headers = [
        ("Host", parts.netloc),
        ("User-Agent", limits.user_agent),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"),
        ("Accept-Encoding", "gzip"),
        ("Connection", "close"),
    ]
    expired = threading.Event()
    opened: list[socket.socket] = []  # the connection's socket: the response keeps using it
    # after `getresponse` detaches it from `conn` (Connection: close), so keep our own handle

    def kill():
        expired.set()
        for sock in opened or ([conn.sock] if conn.sock is not None else []):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(limits.deadline_s, kill)
    watchdog.daemon = True
    start = time.monotonic()
    watchdog.start()
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for k, v in request_headers:
            conn.putheader(k, v)
        conn.endheaders()
        opened.append(conn.sock)
        conn.sock.settimeout(limits.read_timeout_s)
        resp = conn.getresponse()
        declared = resp.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise FetchError("too_large", f"Content-Length {declared} > {limits.max_bytes}")
        chunks, size = [], 0
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > limits.max_bytes:
                raise FetchError("too_large", f"body over {limits.max_bytes} bytes")
            if expired.is_set() or time.monotonic() - start > limits.deadline_s:
                raise FetchError("deadline", f"over {limits.deadline_s:g} s")  # a drip
            chunks.append(chunk)
        if expired.is_set():
            raise FetchError("deadline", f"over {limits.deadline_s:g} s")
        if declared and declared.isdigit() and size < int(declared):
            raise FetchError("incomplete_body", f"{size} of {declared} bytes")
        return Response(
            url=url,
            status=resp.status,
            reason=resp.reason or "",
            headers=[(k, v) for k, v in resp.getheaders() if k.lower() != "transfer-encoding"],
            body=b"".join(chunks),
            ip=ip,
            request_headers=request_headers,
            elapsed_s=time.monotonic() - start,
        )
    except FetchError:
        raise
    except TimeoutError as exc:
        raise FetchError("timeout", str(exc) or "read timed out") from None
    except http.client.IncompleteRead as exc:
        raise FetchError("incomplete_body", str(exc)) from None
    except (http.client.HTTPException, ValueError) as exc:
        if expired.is_set():
            raise FetchError("deadline", f"over {limits.deadline_s:g} s") from None
        raise FetchError("bad_response", f"{type(exc).__name__}: {exc}"[:300]) from None
    except ssl.SSLError as exc:
        raise FetchError("tls_error", str(exc)) from None
    except OSError as exc:
        if expired.is_set():
            raise FetchError("deadline", f"over {limits.deadline_s:g} s") from None
        raise FetchError("connection_error", f"{type(exc).__name__}: {exc}") from None
    finally:
        watchdog.cancel()
        conn.close()
