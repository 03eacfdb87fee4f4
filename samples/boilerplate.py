"""Web boilerplate planted at known rates among real text, for sub-document dedup's quality
measure: each planted line or paragraph is recorded, so what a run removed can be scored against
what was put there.

The lines are the kinds extraction leaves behind: cookie banners, navigation, "share this" rows,
licence footers, newsletter prompts. Each is planted in a fixed share of the documents (from 0.2%
to 30%), at a random place, some copies with other case, spacing or punctuation (the same span
once normalized). Paragraphs are several such lines together, planted between blank lines.
"""

from __future__ import annotations

import random

LINES = [
    "We use cookies to improve your experience. By continuing you accept our cookie policy.",
    "Accept all cookies | Manage preferences | Reject non-essential",
    "Skip to main content",
    "Home > Documentation > Guides > Getting started",
    "Share this article: Facebook Twitter LinkedIn Email",
    "Subscribe to our newsletter for weekly updates and offers",
    "Copyright 2024 Example Media Group. All rights reserved.",
    "This page is licensed under the Creative Commons Attribution-ShareAlike 4.0 License.",
    "Was this page helpful? Yes No",
    "Posted in Uncategorized | Leave a comment",
    "Sign in to reply to this thread or create a free account",
    "Related posts you might also enjoy reading this week",
    "Report an issue with this page on our public tracker",
    "Print this page | Download as PDF | Send by email",
    "Follow us on Mastodon, Bluesky and our RSS feed for more",
    "Terms of Service - Privacy Policy - Contact Us - Sitemap",
]
RATES = [0.3, 0.2, 0.15, 0.1, 0.08, 0.05, 0.04, 0.03, 0.02, 0.015, 0.01, 0.008, 0.005, 0.004,
         0.003, 0.002]  # fmt: skip


def variant(line: str, rng: random.Random) -> str:
    """The same line as the dedup key sees it: other case, spacing or trailing punctuation."""
    kind = rng.randrange(4)
    if kind == 0:
        return line.upper()
    if kind == 1:
        return "  " + line.replace(" ", "  ") + " "
    if kind == 2:
        return line.rstrip(".!?") + "!"
    return line


def plant(
    docs: list[tuple[str, str]], unit: str, seed: int = 0
) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """`docs` with boilerplate planted (`unit`: "lines" or "paragraphs"), and per document the
    planted spans, as planted."""
    rng = random.Random(seed)
    n = len(docs)
    holders = [set(rng.sample(range(n), max(1, round(rate * n)))) for rate in RATES]
    if unit == "paragraphs":  # blocks of 2 to 4 lines, each block a unit
        blocks = ["\n".join(LINES[i : i + 2 + i % 3]) for i in range(0, len(LINES), 2)]
    else:
        blocks = LINES
    out, planted = [], {}
    sep = "\n\n" if unit == "paragraphs" else "\n"
    for d, (doc_id, text) in enumerate(docs):
        spans = text.split(sep)
        mine = []
        for b, block in enumerate(blocks):
            if d in holders[b % len(holders)]:
                span = variant(block, rng) if unit == "lines" else block
                spans.insert(rng.randrange(len(spans) + 1), span)
                mine.append(span)
        out.append((doc_id, sep.join(spans)))
        planted[doc_id] = mine
    return out, planted
