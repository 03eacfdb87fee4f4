"""PII redaction: addresses and numbers become placeholders; nothing else in the text changes."""

from __future__ import annotations

import gzip
import html
import json
import re

import pytest

from filters.pii import PiiParams, pii, redact
from samples.shared_data import SHARED_DATA

P = PiiParams()


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Write to jane.doe+news@example.co.uk today.", "Write to <EMAIL> today.", "email"),
        ("Mail: ops@mail-1.example.org.", "Mail: <EMAIL>.", "email"),
        ("Server at 203.0.113.42 is down.", "Server at <IP_ADDRESS> is down.", "ip_address"),
        ("Ping 192.168.1.1, then retry.", "Ping <IP_ADDRESS>, then retry.", "ip_address"),
        ("IPv6 2001:db8:85a3::8a2e:370:7334 works.", "IPv6 <IP_ADDRESS> works.", "ip_address"),
        ("Loopback ::1 and fe80::1ff:fe23:4567:890a.", "Loopback <IP_ADDRESS> and <IP_ADDRESS>.",
         "ip_address"),
        ("Call (555) 123-4567 now.", "Call <PHONE> now.", "phone"),
        ("Call 555-123-4567 now.", "Call <PHONE> now.", "phone"),
        ("Ring +44 20 7946 0958 please.", "Ring <PHONE> please.", "phone"),
        ("Tel. +49 30 901820", "Tel. <PHONE>", "phone"),
        ("Fax 555.123.4567.", "Fax <PHONE>.", "phone"),
    ],
)  # fmt: skip
def test_pii_is_replaced(text, expected, kind):
    new, counts = redact(text, P)
    assert new == expected
    assert counts[kind] == expected.count("<") and sum(counts.values()) == counts[kind]


@pytest.mark.parametrize(
    "text",
    [
        "Released on 2019-04-09 20:10:04 as version 1.2.3.",
        "Version 10.0.19041.1 is out; 999.1.1.1 is not an address.",
        "ISBN 978-0-13-110362-7 and ISBN-13: 978-3-16-148410-0.",
        "It costs 1,299,000 dollars; the population was 12 345 678 901.",
        "At 12:30:45 the meeting ended; ratio 3:2:1.",
        "C++ uses std::vector and a::b scoping.",
        "The year 1999 and the number 5551234567890123456789.",
        "user@localhost is not a routable address, nor is @handle.",
        "Pi is 3.14159265358979 and e is 2.718.",
    ],
)
def test_other_text_is_left_alone(text):
    assert redact(text, P) == (text, {"email": 0, "ip_address": 0, "phone": 0})


def test_switches_and_placeholders():
    text = "Mail a@b.example or call 555-123-4567 from 10.0.0.1."
    new, counts = redact(text, PiiParams(email="[email]", phone=None, keep_private_ips=True))
    assert new == "Mail [email] or call 555-123-4567 from 10.0.0.1."
    assert counts == {"email": 1, "ip_address": 0, "phone": 0}


def real_texts() -> list[str]:
    truth = json.loads((SHARED_DATA / "html" / "scrapinghub" / "ground-truth.json").read_text())
    texts = [v["articleBody"] for v in truth.values()]
    with gzip.open(SHARED_DATA / "warc" / "dolma_cc_en_head-0091.jsonl.gz") as f:
        texts += [json.loads(line)["text"] for line in f]
    posts = gzip.open(SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz").read().decode()
    texts += [html.unescape(m) for m in re.findall(r'Body="([^"]*)"', posts)]
    return texts


@pytest.mark.shared_data
def test_real_pages_are_unchanged_but_for_planted_pii():
    """On real news, web and forum text: PII planted at known places is replaced, and the rest of
    each text comes back exactly as it was (dates, versions, prices and code included)."""
    planted = ["ann.lee@example.com", "198.51.100.7", "+1 415 555 0199", "2001:db8::42"]
    placeholder = {0: "<EMAIL>", 1: "<IP_ADDRESS>", 2: "<PHONE>", 3: "<IP_ADDRESS>"}
    texts = real_texts()
    assert len(texts) > 600
    changed_unplanted = 0
    for n, text in enumerate(texts):
        k = n % len(planted)
        cut = text.find(" ", len(text) // 2)
        if cut < 0:
            continue
        with_pii = f"{text[:cut]} ({planted[k]}){text[cut:]}"
        expected_plain, _ = redact(text, P)  # what the text alone gives (normally itself)
        changed_unplanted += expected_plain != text
        new, counts = redact(with_pii, P)
        assert new == f"{expected_plain[:cut]} ({placeholder[k]}){expected_plain[cut:]}", n
    # the real texts themselves hold (almost) no PII-shaped strings: no false alarms
    assert changed_unplanted == 0


def test_counts_per_kind_in_stats():
    scored = pii(["a@b.example and c@d.example", "call 555-123-4567", "nothing"], P)
    assert scored.stats == {"email": 2, "phone": 1}
    assert list(scored.columns["pii_replaced"]) == [2, 1, 0]
    assert scored.texts[2] == "nothing" and scored.reasons == [None, None, None]
