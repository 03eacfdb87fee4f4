"""PII redaction: email addresses, IPv4 and IPv6 addresses and phone numbers become placeholders.

Each candidate found by a pattern is checked before it is replaced: an IP address must parse
(`ipaddress`), and a phone number must have 10 to 15 digits (8 with a leading +), be written with
phone-like separators, and not look like a date, a version, an ISBN or a plain long number.
Everything else in the text is left exactly as it was. Counts per kind go into the stats.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import numpy as np

from filters.rules import Scored
from filters.spec import FilterSpec

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?![\w:])"
)
PHONE_RE = re.compile(
    r"(?<![\w+.-])"
    r"(?:\+\d{1,3}[ .-]?)?"  # country code
    r"(?:\(\d{1,4}\)[ .-]?)?"  # area code in brackets
    r"\d{1,4}(?:[ .-]\d{2,8}){1,4}"
    r"(?![\w-]|\.\d)"
)
ISBN_BEFORE_RE = re.compile(r"(?:ISBN|ISSN|DOI|doi)[\s:-]*(?:1[03])?[\s:-]*$")
# a date (maybe followed by a time): 2019-04-09, 2019-04-09 20:10, 09.04.2019
DATE_LIKE_RE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}(?!\d)|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


@dataclass(frozen=True)
class PiiParams:
    email: str | None = "<EMAIL>"  # the placeholder, or None to leave that kind alone
    ip_address: str | None = "<IP_ADDRESS>"
    phone: str | None = "<PHONE>"
    keep_private_ips: bool = False  # also replace 10.x, 192.168.x, 127.x, ... (default) or not


def _valid_ip(candidate: str, keep_private: bool) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if address.version == 6 and not any(c.isdigit() for c in candidate):
        return False  # "a::b", "dead::beef": C++ scopes and words, rarely addresses
    if keep_private and (address.is_private or address.is_loopback):
        return False
    return not address.is_unspecified


def _phone(match: re.Match, text: str) -> bool:
    candidate = match.group(0)
    digits = sum(c.isdigit() for c in candidate)
    international = candidate.startswith("+")
    if not (8 if international else 10) <= digits <= 15:
        return False
    if DATE_LIKE_RE.match(candidate):
        return False
    if ISBN_BEFORE_RE.search(text[max(0, match.start() - 12) : match.start()]):
        return False
    separators = {c for c in candidate if c in " .-"}
    if "." in separators and not international and len(separators) == 1:
        # 1.2.3.4-like dotted numbers are versions or addresses unless grouped like a phone
        groups = candidate.split(".")
        if not (len(groups) in (3, 4) and all(2 <= len(g) <= 4 for g in groups)):
            return False
    groups = candidate.split(" ")
    # "12 345 678 901" is a number written with thousands spaces, not a phone number
    thousands = len(groups) > 2 and all(len(g) == 3 and g.isdigit() for g in groups[1:])
    return international or "(" in candidate or not thousands


def redact(text: str, p: PiiParams) -> tuple[str, dict[str, int]]:
    """`text` with PII replaced, and how many of each kind were replaced."""
    counts = {"email": 0, "ip_address": 0, "phone": 0}

    def sub(pattern: re.Pattern, kind: str, placeholder: str, check) -> None:
        nonlocal text
        pieces, last = [], 0
        for m in pattern.finditer(text):
            if check(m):
                pieces.append(text[last : m.start()])
                pieces.append(placeholder)
                last = m.end()
                counts[kind] += 1
        if pieces:
            pieces.append(text[last:])
            text = "".join(pieces)

    if p.email is not None and "@" in text:
        sub(EMAIL_RE, "email", p.email, lambda m: True)
    if p.ip_address is not None:
        if "." in text:
            sub(
                IPV4_RE,
                "ip_address",
                p.ip_address,
                lambda m: _valid_ip(m.group(0), p.keep_private_ips),
            )
        if "::" in text or text.count(":") >= 7:
            sub(
                IPV6_RE,
                "ip_address",
                p.ip_address,
                lambda m: _valid_ip(m.group(0), p.keep_private_ips),
            )
    if p.phone is not None:
        source = text
        sub(PHONE_RE, "phone", p.phone, lambda m: _phone(m, source))
    return text, counts


def pii(texts: list[str], p: PiiParams) -> Scored:
    n = len(texts)
    out, totals = [], {"email": 0, "ip_address": 0, "phone": 0}
    replaced = np.zeros(n, dtype=np.int64)
    for i, text in enumerate(texts):
        new, counts = redact(text, p)
        out.append(new)
        replaced[i] = sum(counts.values())
        for kind, c in counts.items():
            totals[kind] += c
    return Scored(
        columns={"pii_replaced": replaced},
        reasons=[None] * n,
        texts=out,
        stats={k: v for k, v in totals.items() if v},
    )


# off by default, as redaction rewrites the text of every document, rejected ones too, so that
# no report excerpt shows an address
PII = FilterSpec("pii", PiiParams, pii, on_by_default=False, takes="texts", rewrites_rejected=True)
