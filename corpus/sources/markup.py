"""Markup to text without a network or entity expansion: HTML fragments, XHTML chapters, XML.

For full web pages use `corpus.sources.html` (trafilatura finds the main text); this module is for
markup that is all content (an EPUB chapter, a Stack Exchange post body, a Mastodon status).
"""

from __future__ import annotations

import re

import lxml.etree as etree
import lxml.html

BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tr", "ul",
}  # fmt: skip
PARAGRAPH_TAGS = {"p", "pre", "blockquote", "h1", "h2", "h3", "h4", "table", "ul", "ol", "dl"}
SKIP_TAGS = {"script", "style", "head", "title", "noscript", "template", "svg", "math"}


def safe_xml_parser(**kwargs) -> etree.XMLParser:
    """An XML parser that expands no entities, loads no DTD and reads nothing from the network."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, **kwargs
    )


def html_to_text(markup: str | bytes) -> str:
    """Text of an HTML fragment or page: blocks on their own lines, list items marked, pre kept."""
    if not markup or not (markup.strip() if isinstance(markup, str) else markup.strip()):
        return ""
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    return element_text(root)


def element_text(root) -> str:
    """Text of a parsed (X)HTML element, as `html_to_text` lays it out."""
    out: list[str] = []
    _walk(root, out, in_pre=False)
    text = "".join(out)
    text = re.sub(r"[ \t\u00a0]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _local(tag) -> str:
    if not isinstance(tag, str):
        return ""  # a comment or processing instruction
    return tag.rsplit("}", 1)[-1].lower()


def _walk(el, out: list[str], in_pre: bool) -> None:
    tag = _local(el.tag)
    if tag in SKIP_TAGS or not tag:
        if el.tail:
            _emit(out, el.tail, in_pre)
        return
    pre = in_pre or tag == "pre"
    block = tag in BLOCK_TAGS
    paragraph = tag in PARAGRAPH_TAGS
    if block:
        _break(out, 2 if paragraph else 1)
    if tag == "li":
        out.append("- ")
    if el.text:
        _emit(out, el.text, pre)
    for child in el:
        _walk(child, out, pre)
    if tag in ("td", "th"):
        out.append("\t")
    if block:
        _break(out, 2 if paragraph else 1)
    if el.tail:
        _emit(out, el.tail, in_pre)


def _break(out: list[str], n: int) -> None:
    """End the current line, leaving `n - 1` blank lines (none at the very start)."""
    if not out:
        return
    tail = "".join(out[-3:])
    have = len(tail) - len(tail.rstrip("\n"))
    if have < n:
        out.append("\n" * (n - have))


def _emit(out: list[str], text: str, pre: bool) -> None:
    if not pre:
        text = re.sub(r"\s+", " ", text)
        if not out or out[-1].endswith(("\n", "\t", "- ")):
            text = text.lstrip()
    if text:
        out.append(text)
