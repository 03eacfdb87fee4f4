"""Python's help topics (`pydoc_data`) as blocks of text, and those blocks as HTML or as plain
text: what every kind of sample is made of."""

from __future__ import annotations

import html
import re
import textwrap


def topic_title(text: str) -> str:
    return text.strip().splitlines()[0].strip()


def topic_blocks(text: str) -> list[tuple[str, str]]:
    """(kind, text) blocks of a help topic: `h` (a heading), `pre` (an indented block, code or
    grammar), `p` (a paragraph, its lines joined)."""
    blocks: list[tuple[str, str]] = []
    for chunk in re.split(r"\n\s*\n", text.strip("\n")):
        lines = chunk.splitlines()
        if len(lines) >= 2 and re.fullmatch(r"[*=\-~^]{3,}", lines[-1].strip()):
            blocks.append(("h", " ".join(x.strip() for x in lines[:-1])))
        elif all(line.startswith(" ") for line in lines) and not _indented_prose(lines):
            blocks.append(("pre", textwrap.dedent(chunk)))
        else:
            blocks.append(("p", " ".join(x.strip() for x in lines)))
    return blocks


def _indented_prose(lines: list[str]) -> bool:
    """An indented block of sentences (a definition's body), not code or grammar."""
    text = " ".join(x.strip() for x in lines)
    if ">>>" in text or "::=" in text or not text.endswith((".", "?", "!")):
        return False
    return len(text.split()) / len(lines) >= 6


def blocks_html(blocks: list[tuple[str, str]], skip_title: bool = True) -> str:
    out = []
    for i, (kind, text) in enumerate(blocks):
        if kind == "h" and i == 0 and skip_title:
            continue
        tag = {"h": "h2", "pre": "pre", "p": "p"}[kind]
        out.append(f"<{tag}>{html.escape(text)}</{tag}>")
    return "\n".join(out)


def blocks_text(blocks: list[tuple[str, str]], width: int = 70) -> str:
    """Plain text as Gutenberg files wrap it."""
    out = []
    for kind, text in blocks:
        if kind == "pre":
            out.append(textwrap.indent(text, "    "))
        elif kind == "h":
            out.append(text.upper())
        else:
            out.append(textwrap.fill(text, width))
    return "\n\n".join(out)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
