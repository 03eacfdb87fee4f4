"""Books: Project Gutenberg text files (new and old header styles, one in Latin-1) and an EPUB."""

from __future__ import annotations

import html
import io
import textwrap
import zipfile
from pathlib import Path

from samples.reproducible import write_if_changed
from samples.topics import blocks_html, blocks_text, topic_blocks, topic_title

ASCII_PUNCTUATION = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": "--", "\u2026": "..."}
)
GUTENBERG_LICENSE = (
    "Updated editions will replace the previous one--the old editions will be renamed. "
    "Creating the works from print editions not protected by U.S. copyright law means that no "
    "one owns a United States copyright in these works, so the Foundation (and you!) can copy "
    "and distribute it in the United States without permission and without paying copyright "
    "royalties. Special rules, set forth in the General Terms of Use part of this license, apply "
    "to copying and distributing Project Gutenberg electronic works to protect the PROJECT "
    "GUTENBERG concept and trademark."
)


def _gutenberg(title: str, chapters: list[str], number: int, old_style: bool, encoding: str):
    start = "THIS" if old_style else "THE"
    upper = title.upper()
    header = (
        f"The Project Gutenberg eBook of {title}\n\n"
        "This ebook is for the use of anyone anywhere in the United States and most other parts "
        "of the world at no cost and with almost no restrictions whatsoever. You may copy it, "
        "give it away or re-use it under the terms of the Project Gutenberg License included "
        "with this ebook or online at www.gutenberg.org.\n\n"
        f"Title: {title}\n\nAuthor: The Python Documentation Authors\n\n"
        f"Release date: March {number}, 2026 [eBook #{90000 + number}]\n\nLanguage: English\n\n"
        f"Character set encoding: {encoding.upper()}\n\n"
        f"*** START OF {start} PROJECT GUTENBERG EBOOK {upper} ***\n\n\n"
    )
    preface = "Dédié à tous les élèves.\n\n" if encoding == "iso-8859-1" else ""
    body = preface + "\n\n\n".join(f"CHAPTER {i + 1}\n\n{text}" for i, text in enumerate(chapters))
    footer = (
        f"\n\n\n*** END OF {start} PROJECT GUTENBERG EBOOK {upper} ***\n\n"
        f"{textwrap.fill(GUTENBERG_LICENSE, 70)}\n"
    )
    text = (header + body + footer).replace("\n", "\r\n")  # Gutenberg files use CRLF
    if encoding != "utf-8":  # as Gutenberg's 8-bit files spell typographic characters
        text = text.translate(ASCII_PUNCTUATION)
    return text.encode(encoding, errors="replace")


def write_books(folder: Path, book_topics: list, epub_topics: list) -> list[Path]:
    """Three Gutenberg files holding `book_topics` as chapters, and an EPUB of `epub_topics`."""
    written = []
    per_book = -(-len(book_topics) // 3)
    for b in range(3):
        group = book_topics[b * per_book : (b + 1) * per_book]
        chapters = [blocks_text(topic_blocks(t)) for _, t in group]
        title = f"Notes on Python, Volume {b + 1}"
        encoding = "iso-8859-1" if b == 2 else "utf-8"
        data = _gutenberg(title, chapters, b + 1, old_style=b == 1, encoding=encoding)
        written.append(write_if_changed(folder / f"pg{90001 + b}.txt", data))
    written.append(write_if_changed(folder / "python-reference.epub", _epub(epub_topics)))
    return written


def _epub(topics: list) -> bytes:
    """A small EPUB 3 (mimetype first and stored, container, package, nav, one XHTML file a
    chapter), written with fixed timestamps so it is the same bytes every time."""
    manifest, spine, nav, chapters = [], [], [], {}
    for i, (_, text) in enumerate(topics):
        name = f"chapter{i + 1:02d}.xhtml"
        title = topic_title(text)
        chapters[f"OEBPS/{name}"] = (
            '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            f"{blocks_html(topic_blocks(text))}</body></html>\n"
        )
        manifest.append(f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="c{i}"/>')
        nav.append(f'<li><a href="{name}">{html.escape(title)}</a></li>')
    opf = (
        '<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" '
        'version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">urn:corpus:demo:python-reference</dc:identifier>'
        "<dc:title>A Python Reference Reader</dc:title><dc:creator>The Python Documentation "
        "Authors</dc:creator><dc:language>en</dc:language></metadata><manifest>"
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        f"{''.join(manifest)}</manifest><spine>{''.join(spine)}</spine></package>\n"
    )
    files = {
        "META-INF/container.xml": (
            '<?xml version="1.0"?>\n<container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>\n"
        ),
        "OEBPS/content.opf": opf,
        "OEBPS/nav.xhtml": (
            '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
            'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head><body>'
            f'<nav epub:type="toc"><ol>{"".join(nav)}</ol></nav></body></html>\n'
        ),
        **chapters,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        stamp = (2026, 3, 2, 9, 30, 0)
        z.writestr(zipfile.ZipInfo("mimetype", stamp), "application/epub+zip")
        for name, data in files.items():
            info = zipfile.ZipInfo(name, stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()
