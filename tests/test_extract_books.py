"""Books: Gutenberg headers and footers stripped, encodings, EPUB spine order, hostile EPUBs."""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
import zipfile

import pyarrow as pa
import pytest

from corpus.sources.books import read_epub, read_text_book
from samples.shared_data import SHARED_DATA

BOOKS = SHARED_DATA / "books"


def one(results) -> tuple[dict | None, list[dict]]:
    results = list(results)
    kept = pa.concat_tables([r.kept for r in results]).to_pylist()
    rejected = pa.concat_tables([r.rejected for r in results]).to_pylist()
    return (kept[0] if kept else None), rejected


def ascii_fold(text: str) -> str:
    text = text.replace("£", "L").replace("ö", "oe")  # as the ASCII edition transliterates
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def raw_lines(name: str, encoding: str) -> list[str]:
    return gzip.open(BOOKS / name).read().decode(encoding).splitlines()


@pytest.mark.shared_data
def test_ascii_and_latin1_copies_give_the_same_text():
    ascii_doc, _ = one(read_text_book(BOOKS / "pg9198_complete-angler_ascii.txt.gz"))
    latin_doc, _ = one(read_text_book(BOOKS / "pg9198_complete-angler_latin1.txt.gz"))
    assert "à propos" in latin_doc["text"] and "£4 4s" in latin_doc["text"]
    assert "\ufffd" not in latin_doc["text"] and "Ã" not in latin_doc["text"]
    assert ascii_fold(latin_doc["text"]) == ascii_doc["text"]
    assert latin_doc["title"] == ascii_doc["title"] == "The Complete Angler, 1653"
    assert latin_doc["author"] == "Isaak Walton"


@pytest.mark.shared_data
def test_gutenberg_boilerplate_gone_body_edges_kept():
    cases = {
        "pg972_devils-dictionary.txt.gz": (
            "THE DEVIL'S DICTIONARY",
            "sheds its horn every two years.",
        ),
        "pg972_old-edition_dvldc10.txt.gz": (
            "The Internet Wiretap 1st Online Edition of",
            "sheds its horn every two years.",
        ),
        "pg9198_complete-angler_ascii.txt.gz": ("THE COMPLETE ANGLER;", "FINIS."),
    }
    for name, (first, last) in cases.items():
        doc, rejected = one(read_text_book(BOOKS / name))
        assert not rejected
        text = doc["text"]
        for boilerplate in (
            "Project Gutenberg",
            "SMALL PRINT",
            "gutenberg.org",
            "Etexts",
            "*** END",
        ):
            assert boilerplate.lower() not in text.lower(), (name, boilerplate)
        lines = [line for line in text.split("\n") if line.strip()]
        assert lines[0].strip() == first, name
        assert lines[-1].strip().endswith(last), name
        # the body is all there: every raw line between the edges appears in order
        raw = [line for line in raw_lines(name, "latin-1") if line.strip()]
        start, end = raw.index(lines[0]), len(raw) - 1 - raw[::-1].index(lines[-1])
        assert raw[start : end + 1] == lines, name
        assert "\r" not in text


@pytest.mark.shared_data
def test_epub_chapters_in_spine_order_with_opf_metadata():
    path = BOOKS / "live-manual.en.epub"
    doc, rejected = one(read_epub(path))
    assert not rejected
    assert doc["title"] == "Live Systems Manual"
    assert doc["date"].year == 2015
    meta = json.loads(doc["meta"])
    assert meta["language"] == "en" and meta["path"] == str(path)
    # the order of chapter headings follows the OPF spine, read here independently
    with zipfile.ZipFile(path) as z:
        opf = z.read("OEBPS/content.opf").decode()
    manifest = dict(re.findall(r'<item id="([^"]+)" href="([^"]+)"', opf))
    spine = []
    for idref in re.findall(r'<itemref idref="([^"]+)"', opf):
        href = manifest[idref].split("#")[0]
        if href not in spine:
            spine.append(href)
    with zipfile.ZipFile(path) as z:
        titles = []
        for href in spine:
            m = re.search(r"<h1[^>]*>(.*?)</h1>", z.read(f"OEBPS/{href}").decode(), re.S)
            if m and not re.search(r"<", m.group(1)):
                titles.append(" ".join(m.group(1).split()))
    assert len(titles) > 5
    # the book opens with a table of contents naming every chapter; after it, the chapters'
    # headings must come one after the other, in spine order
    position = max(doc["text"].find(t) for t in titles)
    for title in titles[1:]:
        position = doc["text"].find(title, position + 1)
        assert position >= 0, title
    assert "<p>" not in doc["text"] and "xmlns" not in doc["text"]


def make_epub(path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


CONTAINER = """<?xml version="1.0"?><container version="1.0"
 xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>
 <rootfile full-path="OPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"""
OPF = """<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>T</dc:title></metadata>
<manifest>{items}</manifest><spine>{refs}</spine></package>"""
CHAPTER = "<html xmlns='http://www.w3.org/1999/xhtml'><body><p>{}</p></body></html>"


def test_hostile_epubs_are_rejected_and_nothing_is_written(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    slip = inputs / "slip.epub"
    make_epub(
        slip,
        {
            "META-INF/container.xml": CONTAINER,
            "OPS/book.opf": OPF.format(
                items='<item id="c1" href="../../../evil.xhtml" media-type="application/xhtml+xml"/>',
                refs='<itemref idref="c1"/>',
            ),
            "../../evil.xhtml": CHAPTER.format("escaped"),
        },
    )
    doc, rejected = one(read_epub(slip))
    assert doc is None and [r["reason"] for r in rejected] == ["unsafe_path"]

    href_only = inputs / "href.epub"
    make_epub(
        href_only,
        {
            "META-INF/container.xml": CONTAINER,
            "OPS/book.opf": OPF.format(
                items='<item id="c1" href="../../etc/passwd" media-type="application/xhtml+xml"/>',
                refs='<itemref idref="c1"/>',
            ),
        },
    )
    doc, rejected = one(read_epub(href_only))
    assert doc is None and [r["reason"] for r in rejected] == ["unsafe_path"]

    bomb = inputs / "entities.epub"
    make_epub(
        bomb,
        {
            "META-INF/container.xml": CONTAINER,
            "OPS/book.opf": OPF.format(
                items='<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>',
                refs='<itemref idref="c1"/>',
            ),
            "OPS/c1.xhtml": '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaaaaaaaa">'
            + "".join(
                f'<!ENTITY {c} "&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};">'
                for p, c in zip("abcdefgh", "bcdefghi", strict=False)
            )
            + "]><html><body><p>Real words here. &i;</p></body></html>",
        },
    )
    doc, rejected = one(read_epub(bomb))
    assert doc is not None and "Real words here." in doc["text"]
    assert len(doc["text"]) < 1000  # the entity was not expanded to 10^9 characters

    not_zip = inputs / "broken.epub"
    not_zip.write_bytes(b"PK\x03\x04 truncated")
    doc, rejected = one(read_epub(not_zip))
    assert [r["reason"] for r in rejected] == ["not_epub"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["in", "slip.epub", "href.epub", "entities.epub", "broken.epub"]
    )


def test_latin1_without_declaration_and_huge_text(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_bytes("Il était une fois une élève très sérieuse.\r\nFin.\r\n".encode("latin-1"))
    doc, _ = one(read_text_book(path))
    assert doc["text"] == "Il était une fois une élève très sérieuse.\nFin."
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        line = b"All work and no play makes Jack a dull boy. " * 20 + b"\n"
        for _ in range(100 * 1024 * 1024 // len(line) + 1):
            f.write(line)
    doc, rejected = one(read_text_book(big, max_bytes=64 << 20))
    assert doc is None and [r["reason"] for r in rejected] == ["too_large"]
    assert len(rejected[0]["text"]) == 0
