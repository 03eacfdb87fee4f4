"""Books: Project Gutenberg texts, EPUB files and plain text files; one document per book.

Gutenberg headers and footers are cut at their markers, old ("SMALL PRINT") and new ("*** START
OF ...") alike, with the producer credits that follow the header. The encoding comes from a BOM,
the "Character set encoding:" line of the header, strict UTF-8, then detection.

An EPUB is read without extracting it: container.xml names the OPF, whose spine gives the chapter
order; every path is resolved inside the archive, and one that points outside it (`../`, an
absolute path) rejects the book as `unsafe_path`. Reasons: `unsafe_path`, `not_epub`, `too_large`,
`no_text`, `truncated_input`.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import lxml.etree as etree
import lxml.html

from corpus.compression import CompressedInputError, open_input
from corpus.sources.common import Batcher, Rejected, decode_bytes, file_meta
from corpus.sources.markup import element_text, safe_xml_parser
from corpus.stage import StageResult

# A header ends at the line holding one of these; a footer starts at one of the others.
HEADER_END = re.compile(
    r"^\W*(\*+\s*START\s+OF\s+(THE|THIS)\s+PROJECT\s+GUTENBERG"
    r"|\*+\s*START\s*\*+\s*THE\s+SMALL\s+PRINT"  # opening line of the old licence block
    r"|\*END\*?\s*THE\s+SMALL\s+PRINT"
    r"|\*\*\*START\*\*THE SMALL PRINT)",
    re.I,
)
SMALL_PRINT_START = re.compile(r"START\W*THE\s+SMALL\s+PRINT", re.I)
SMALL_PRINT_END = re.compile(r"^\W*\*?END\*?\s*THE\s+SMALL\s+PRINT", re.I)
FOOTER_START = re.compile(
    r"^\W*(\*+\s*END\s+OF\s+(THE|THIS)\s+PROJECT\s+GUTENBERG"
    r"|END\s+OF\s+(THE\s+)?PROJECT\s+GUTENBERG"
    r"|END\s+OF\s+PROJECT\s+GUTENBERG'?S"
    r"|\*+\s*END\s*\*+\s*THE\s+SMALL\s+PRINT)",
    re.I,
)
CREDITS = re.compile(
    r"^(Produced by|This (e-?text|etext|ebook) was (produced|prepared)|E-?text prepared by"
    r"|Transcribed from|Entered by|Scanned by)",
    re.I,
)
HEADER_FIELD = re.compile(r"^(Title|Author|Language|Release Date|Character set encoding):\s*(.+)$")
FIRST_LINE = re.compile(r"Project Gutenberg(?:'s)? E-?(?:text|book) of (.+?),? by ([^\r\n]+)", re.I)
MAX_HEADER_LINES = 600  # a Gutenberg header is never longer; past this a marker is body text


def strip_gutenberg(text: str) -> tuple[str, dict]:
    """The body of a Gutenberg text, and the fields of its header (title, author, ...)."""
    lines = text.split("\n")
    fields: dict[str, str] = {}
    start = 0
    in_small_print = False
    for i, line in enumerate(lines[:MAX_HEADER_LINES]):
        m = HEADER_FIELD.match(line.strip())
        if m and m.group(1).lower() not in fields:
            fields[m.group(1).lower()] = m.group(2).strip()
        if SMALL_PRINT_START.search(line):
            in_small_print = True
        if SMALL_PRINT_END.match(line):
            start, in_small_print = i + 1, False
        elif not in_small_print and HEADER_END.match(line) and "SMALL PRINT" not in line.upper():
            start = i + 1
    end = len(lines)
    for i in range(len(lines) - 1, start - 1, -1):
        if FOOTER_START.match(lines[i]):
            end = i
    # the end marker may come twice ("End of Project Gutenberg's X" then "*** END OF ..."): the
    # loop above keeps the first one after the body
    body = lines[start:end]
    body = _drop_credits(body)
    return "\n".join(body).strip("\n"), fields


def _drop_credits(lines: list[str]) -> list[str]:
    """Drop a producer-credits paragraph at the top of the body (and the blank lines around it)."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and CREDITS.match(lines[i].strip()):
        while i < len(lines) and lines[i].strip():
            i += 1
        # "Entered by" credits may run over a few short paragraphs (an address line)
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and "@" in lines[j] and len(lines[j]) < 80:
            i = j + 1
        return lines[i:]
    return lines


def is_gutenberg(text: str) -> bool:
    head = text[:20000]
    return "project gutenberg" in head.lower() or bool(re.search(r"\*\*\*\s*START OF", head, re.I))


def read_text_book(
    path: Path, *, max_bytes: int = 64 << 20, source: str = "book", name: str | None = None
) -> Iterator[StageResult]:
    """One document from a plain or Gutenberg text file (plain, gzip or zstd)."""
    batch = Batcher()
    base = {"id": _book_id(path, name), "source": source, "meta": file_meta(path)}
    try:
        with open_input(path) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise Rejected("too_large", f"over max_bytes {max_bytes}")
        if b"\x00" in data[:4096]:
            raise Rejected("not_text", "binary content")
        declared = re.search(rb"Character set encoding:\s*([A-Za-z0-9_\-]+)", data[:20000])
        content_type = f"text/plain; charset={declared.group(1).decode()}" if declared else None
        text, charset = decode_bytes(data, content_type)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        meta = {**base["meta"], "charset": charset}
        title = author = None
        if is_gutenberg(text):
            text, fields = strip_gutenberg(text)
            meta["gutenberg"] = True
            title, author = fields.get("title"), fields.get("author")
            if not title and (m := FIRST_LINE.search(data[:300].decode("latin-1"))):
                title, author = m.group(1).strip(), m.group(2).strip()
            if "language" in fields:
                meta["language"] = fields["language"]
            number = re.search(r"#(\d+)\]", fields.get("release date", ""))
            if number:
                meta["gutenberg_id"] = int(number.group(1))
        text = text.strip("\n")
        if not text.strip():
            raise Rejected("no_text", "no text after the Gutenberg header and footer")
    except Rejected as rej:
        batch.reject(base, rej)
    except CompressedInputError as exc:
        batch.reject(base, Rejected("truncated_input", str(exc)))
    else:
        batch.add({**base, "text": text, "title": title, "author": author, "meta": meta})
    yield from batch.finish()


def _book_id(path: Path, name: str | None) -> str:
    """`name` is the file's identity among a stage's inputs; alone, its base name."""
    return f"book:{name or path.name}"


# --- EPUB -----------------------------------------------------------------------------------

OPF_NS = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
CONTAINER_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container"}
XHTML_TYPES = ("application/xhtml+xml", "text/html", "application/x-dtbook+xml")


def read_epub(
    path: Path, *, max_bytes: int = 256 << 20, source: str = "book", name: str | None = None
) -> Iterator[StageResult]:
    """One document from an EPUB (2 or 3): chapters in spine order, metadata from the OPF."""
    batch = Batcher()
    base = {"id": _book_id(path, name), "source": source, "meta": file_meta(path)}
    try:
        doc = _epub_document(path, max_bytes)
    except Rejected as rej:
        batch.reject(base, rej)
    else:
        doc["meta"] = {**base["meta"], **doc["meta"]}
        batch.add({**base, **doc})
    yield from batch.finish()


def _epub_document(path: Path, max_bytes: int) -> dict:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Rejected("not_epub", f"not a zip archive: {exc}") from None
    with archive:
        for info in archive.infolist():
            if _unsafe(info.filename):
                raise Rejected("unsafe_path", f"archive member {info.filename!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # EPUB allows no other; zipfile inflates bzip2 and lzma members with no cap
                why = f"member {info.filename!r} is neither stored nor deflated"
                raise Rejected("not_epub", why)
        total = sum(i.file_size for i in archive.infolist())
        if total > max_bytes:
            raise Rejected("too_large", f"{total} bytes uncompressed > max_bytes {max_bytes}")
        names = set(archive.namelist())

        def read(name: str) -> bytes:
            if name not in names:
                raise Rejected("not_epub", f"missing archive member {name!r}")
            try:
                # read(n) inflates at most n bytes a step; a bare read() inflates up to 2 GiB
                # at once before cutting it to the size in the directory, which may lie
                with archive.open(name) as member:
                    return member.read(archive.getinfo(name).file_size)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise Rejected("truncated_input", f"member {name!r}: {exc}") from None

        container = _parse_xml(read("META-INF/container.xml"), "META-INF/container.xml")
        rootfile = container.find(".//c:rootfile", CONTAINER_NS)
        if rootfile is None or not rootfile.get("full-path"):
            raise Rejected("not_epub", "container.xml names no rootfile")
        opf_path = _resolve("", rootfile.get("full-path"))
        opf = _parse_xml(read(opf_path), opf_path)
        opf_dir = posixpath.dirname(opf_path)
        manifest = {}
        for item in opf.iterfind(".//opf:manifest/opf:item", OPF_NS):
            manifest[item.get("id")] = (item.get("href") or "", item.get("media-type") or "")
        chapters, texts = [], []
        for ref in opf.iterfind(".//opf:spine/opf:itemref", OPF_NS):
            href, media = manifest.get(ref.get("idref"), ("", ""))
            if not href or media not in XHTML_TYPES:
                continue
            name = _resolve(opf_dir, href.split("#")[0])
            text = _chapter_text(read(name))
            if text:
                chapters.append(name)
                texts.append(text)
        if not texts:
            raise Rejected("no_text", "no text in the spine's chapters")
        meta = {"chapters": len(chapters), "format": "epub"}
        for key in ("language", "publisher", "identifier", "rights"):
            value = _dc(opf, key)
            if value:
                meta[key] = value[:500]
        return {
            "text": "\n\n".join(texts),
            "title": _dc(opf, "title"),
            "author": _dc(opf, "creator"),
            "date": _epub_date(_dc(opf, "date")),
            "meta": meta,
        }


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _resolve(base: str, href: str) -> str:
    """`href` relative to `base` inside the archive; raises Rejected if it leaves the archive."""
    href = unquote(href)
    if href.startswith("/") or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
        raise Rejected("unsafe_path", f"path {href!r} is absolute")
    joined = posixpath.normpath(posixpath.join(base, href))
    if joined.startswith("../") or joined == "..":
        raise Rejected("unsafe_path", f"path {href!r} leaves the archive")
    return joined


def _parse_xml(data: bytes, name: str):
    try:
        return etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise Rejected("not_epub", f"{name}: {exc}") from None


def _chapter_text(data: bytes) -> str:
    try:
        root = etree.fromstring(data, safe_xml_parser(recover=True))
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        try:
            root = lxml.html.document_fromstring(data)
        except (etree.ParserError, ValueError):
            return ""
    body = next(
        (el for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("body")), root
    )
    return element_text(body)


def _dc(opf, key: str) -> str | None:
    el = opf.find(f".//dc:{key}", OPF_NS)
    if el is None or not (el.text or "").strip():
        return None
    return " ".join(el.text.split())


def _epub_date(value: str | None) -> datetime | None:
    if not value:
        return None
    for fmt, size in (("%Y-%m-%d", 10), ("%Y-%m", 7), ("%Y", 4)):
        try:
            return datetime.strptime(value[:size], fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None
