"""robots.txt as RFC 9309 reads it, through Protego.

The most specific (longest) matching rule wins, Allow over Disallow on a tie, and `*` and `$`
count; paths are compared with their reserved escapes (`%2F`) kept. A group applies to us only
when one of its user-agent lines names our product token (case aside): `corpus` or
`corpus-crawler-evil` is another crawler's group, not ours. Protego would match `corpus` as a
prefix of `corpus-crawler`, so every other crawler's user-agent line is renamed before it parses.
"""

from __future__ import annotations

import re

from protego import Protego

PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")  # RFC 9309 §2.2.1: letters, "_" and "-"
# as generous as Protego, which also reads "User agent: x" and "User-agent x"
USER_AGENT_LINE = re.compile(r"\s*user[-\s]?agent(?:\s*:|\s+)(.*)", re.I)
OTHER_AGENT = "@other"  # a name no product token contains, so Protego never matches it


def product_token(user_agent: str) -> str:
    """Our name as robots.txt groups see it: `corpus-crawler` of `corpus-crawler/0.1 (+url)`."""
    found = PRODUCT_TOKEN.match(user_agent.strip())
    return found.group(0).lower() if found else ""


class Robots:
    """One host's robots.txt rules for one crawler."""

    def __init__(self, lines: list[str], user_agent: str):
        self.token = product_token(user_agent)
        self.parser = Protego.parse("\n".join(_own_groups_only(lines, self.token)))

    def allowed(self, url: str) -> bool:
        return self.parser.can_fetch(url, self.token)

    @property
    def crawl_delay(self) -> float | None:
        """Our group's Crawl-delay (fractions allowed), else `*`'s, else None."""
        return self.parser.crawl_delay(self.token)

    @property
    def sitemaps(self) -> list[str]:
        return list(self.parser.sitemaps)


def _own_groups_only(lines: list[str], token: str) -> list[str]:
    """`lines` with each user-agent line naming our token rewritten to exactly our token, and
    every other one except `*` renamed to OTHER_AGENT."""
    out = []
    for line in lines:
        found = USER_AGENT_LINE.fullmatch(line.split("#", 1)[0])
        value = found.group(1).strip() if found else ""
        if not value or value == "*":
            out.append(line)
            continue
        name = PRODUCT_TOKEN.match(value)
        same = token and name is not None and name.group(0).lower() == token
        out.append(f"User-agent: {token if same else OTHER_AGENT}")
    return out
