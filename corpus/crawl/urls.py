"""URL normalization, so that one page is one URL and is fetched once; and address checks."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|_ga)$", re.I)
DEFAULT_PORTS = {"http": 80, "https": 443}
# characters left as they are in a path; everything else is percent-encoded once
PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of `url` (resolved against `base`), or None if it is not http(s).

    Lower-case scheme and host, IDNA host, no default port, no fragment, dot segments resolved,
    an empty path as "/", percent-encoding made uniform, tracking parameters dropped and the
    query's parameters sorted.
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
    path = parts.path or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path)
    path = "/" if path in (".", "/", "//") else path.replace("//", "/")
    if trailing and not path.endswith("/"):
        path += "/"
    path = quote(unquote(path), safe=PATH_SAFE.replace("%", ""))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = sorted((k, v) for k, v in query if not TRACKING_PARAMS.match(k))
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


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
