"""URL normalization, so that one page is one URL and is fetched once; and address checks."""

from __future__ import annotations

import ipaddress
import posixpath
import re
import string
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|_ga)$", re.I)
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986: an escaped unreserved character is the character itself; an escaped reserved one
# (%2F, %26, %3D, %2B ...) is data, not a delimiter, and names another resource if decoded
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
ESCAPE = re.compile(r"(%[0-9A-Fa-f]{2})")
# characters left as they are (besides unreserved ones); everything else is percent-encoded once
PATH_SAFE = "/:@!$&'()*+,;="
QUERY_SAFE = PATH_SAFE + "?"


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of `url` (resolved against `base`), or None if it is not http(s).

    Lower-case scheme and host, IDNA host, no default port, no fragment, dot segments resolved,
    an empty path as "/", percent-encoding made uniform (unreserved escapes decoded, the others
    kept in upper case), tracking parameters dropped and the query's parameters sorted (a bare
    `?flag` stays bare).
    """
    url = url.strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    netloc = host if ":" not in host else f"[{host}]"
    if port and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = uniform_escapes(parts.path, PATH_SAFE) or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path)
    path = "/" if path in (".", "/", "//") else path.replace("//", "/")
    if trailing and not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, netloc, path, normalize_query(parts.query), ""))


def uniform_escapes(text: str, safe: str) -> str:
    """`text` with unreserved escapes decoded, other escapes in upper case, and every character
    neither unreserved nor in `safe` (a space, a stray %, non-ASCII) percent-encoded once."""
    pieces = ESCAPE.split(text)  # odd indices are the escapes
    for i, piece in enumerate(pieces):
        if i % 2:
            char = chr(int(piece[1:], 16))
            pieces[i] = char if char in UNRESERVED else piece.upper()
        else:
            pieces[i] = quote(piece, safe=safe)
    return "".join(pieces)


def normalize_query(query: str) -> str:
    """The query's parameters, escapes made uniform, sorted, tracking ones dropped; `flag` and
    `flag=` stay as written, since a server may tell them apart."""
    params = []
    for param in query.split("&"):
        if not param:
            continue
        key = param.split("=", 1)[0]
        if TRACKING_PARAMS.match(unquote(key)):
            continue
        params.append(uniform_escapes(param, QUERY_SAFE))
    return "&".join(sorted(params))


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc


def in_domains(url: str, domains: list[str]) -> bool:
    """True if the URL's host is one of `domains` or a subdomain of one."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def is_public_address(ip: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )
