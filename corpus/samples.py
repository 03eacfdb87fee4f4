"""The bundled sample, generated on any machine without a network from the English text that ships
with Python itself (the `pydoc_data` help topics) and short passages written here in four other
languages.

`write_demo_sample(DIR)` lays out, under DIR:
- `site/`: a small web site for the crawler, served by `DemoSite` on 127.0.0.1: documentation
  pages wrapped in navigation and footer boilerplate, printer-friendly near-duplicates, spam
  pages, a page of insults, pages in German, French, Spanish and Italian, news articles found
  through an RSS feed, robots.txt with a disallowed folder, a redirect and a broken link;
- `books/`: Project Gutenberg text files (new and old header styles, one in Latin-1) and an EPUB;
- `forums/Posts.xml`: a Stack Exchange dump (questions, accepted and other answers);
- `social/`: a Reddit NDJSON.zst dump (submissions and comment trees) and a Mastodon outbox;
- `toxic-words.txt`: the word list the demo's toxic-words filter uses.
Each topic goes to exactly one kind of source, so only the planted near-duplicates repeat.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import io
import json
import posixpath
import pydoc_data.topics
import re
import textwrap
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import zstandard

from corpus.compression import open_output

SAMPLE_FILES = 3
BASE = "__BASE__"  # stands for the site's address in files that need absolute URLs
EPOCH = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # dates in the sample are fixed, not "now"


def write_pydoc_sample(out_dir: str | Path) -> list[Path]:
    """The help topics as dolma-style JSONL.zst, spread over a few files; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    topics = sorted(pydoc_data.topics.topics.items())
    paths = []
    for i in range(SAMPLE_FILES):
        path = out_dir / f"pydoc-topics-{i}.jsonl.zst"
        with open_output(path) as f:
            for name, text in topics[i::SAMPLE_FILES]:
                record = {
                    "id": f"pydoc-topic:{name}",
                    "text": text,
                    "source": "web",
                    "metadata": {"url": f"pydoc:topics/{name}", "title": name},
                }
                f.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        paths.append(path)
    return paths


# --- the topics, as blocks of text ------------------------------------------------------------


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


def _drop_a_paragraph(blocks: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The blocks less their last whole-sentence paragraph, if it is a small share of the
    words (so the copy stays a near-duplicate); None if there is none such."""
    total = sum(len(t.split()) for _, t in blocks)
    for i in range(len(blocks) - 1, 0, -1):
        kind, text = blocks[i]
        n = len(text.split())
        if kind == "p" and text.endswith(".") and 15 <= n <= 0.08 * total:
            return blocks[:i] + blocks[i + 1 :]
    return None


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- passages written for the sample ----------------------------------------------------------

OTHER_LANGUAGES = {
    "de": (
        "Einführung in die Programmierung mit Python",
        "Python ist eine Programmiersprache, die besonders für ihre gut lesbare Syntax bekannt "
        "ist. Viele Schulen und Universitäten verwenden sie im Unterricht, weil Anfänger schnell "
        "erste Erfolge sehen. Ein Programm besteht aus Anweisungen, die der Interpreter der Reihe "
        "nach ausführt. Variablen speichern Werte, Funktionen fassen wiederkehrende Schritte "
        "zusammen, und Schleifen wiederholen einen Block, solange eine Bedingung erfüllt ist. "
        "Die Einrückung ist dabei nicht nur eine Frage des Stils, sondern bestimmt, welche Zeilen "
        "zusammengehören. Wer ein größeres Projekt beginnt, teilt den Code in Module auf und "
        "schreibt Tests, damit spätere Änderungen nichts kaputt machen. Die Standardbibliothek "
        "bringt bereits Werkzeuge für Dateien, Netzwerke, Datumsangaben und reguläre Ausdrücke "
        "mit, sodass man für viele Aufgaben keine zusätzlichen Pakete installieren muss. "
        "Außerdem gibt es eine große Gemeinschaft, die Fragen beantwortet und Bibliotheken für "
        "fast jedes Fachgebiet pflegt, von der Datenanalyse bis zur Webentwicklung.",
    ),
    "fr": (
        "Pourquoi apprendre Python aujourd'hui",
        "Python est un langage de programmation apprécié pour sa syntaxe claire et sa grande "
        "bibliothèque standard. On l'utilise aussi bien pour écrire de petits scripts que pour "
        "construire des applications web, analyser des données ou piloter des expériences "
        "scientifiques. Un programme Python se lit presque comme un texte : les blocs sont "
        "délimités par l'indentation, les fonctions portent des noms explicites et les erreurs "
        "produisent des messages qui indiquent la ligne fautive. Pour bien débuter, il vaut "
        "mieux écrire beaucoup de petits exemples, les exécuter et observer ce qu'ils "
        "affichent. Ensuite, on apprend à organiser son code en modules, à documenter chaque "
        "fonction et à écrire des tests automatiques. La communauté francophone publie de "
        "nombreux tutoriels, des livres et des vidéos, et les conférences locales permettent de "
        "rencontrer d'autres développeurs qui partagent leurs expériences et leurs conseils.",
    ),
    "es": (
        "Primeros pasos con el intérprete de Python",
        "Python es un lenguaje de programación interpretado que se ha vuelto muy popular en la "
        "enseñanza, la ciencia de datos y el desarrollo web. Para empezar basta con abrir el "
        "intérprete interactivo y escribir una expresión: el resultado aparece de inmediato, lo "
        "que permite experimentar sin miedo a equivocarse. Las variables no necesitan "
        "declaración previa, las listas y los diccionarios guardan colecciones de valores, y "
        "las funciones se definen con la palabra clave def. Cuando un programa crece, conviene "
        "dividirlo en módulos y paquetes, escribir pruebas y usar un entorno virtual para cada "
        "proyecto. La documentación oficial incluye un tutorial completo, y en internet hay "
        "foros y grupos de usuarios donde se resuelven dudas todos los días. Con un poco de "
        "práctica diaria, cualquier persona puede automatizar tareas repetitivas de su trabajo "
        "y ahorrar muchas horas cada semana.",
    ),
    "it": (
        "Scrivere codice leggibile in Python",
        "Python è un linguaggio di programmazione che mette al primo posto la leggibilità del "
        "codice. Le regole di stile raccolte nella guida ufficiale suggeriscono nomi chiari per "
        "le variabili, funzioni brevi che fanno una sola cosa e commenti che spiegano il perché "
        "delle scelte, non il come. L'indentazione obbligatoria rende evidente la struttura dei "
        "blocchi, e gli strumenti di formattazione automatica eliminano le discussioni inutili "
        "sugli spazi. Chi lavora in gruppo trae vantaggio dalle revisioni del codice, dai test "
        "automatici e da una documentazione aggiornata insieme al programma. Molte aziende "
        "italiane usano Python per l'analisi dei dati, l'automazione dei processi e i servizi "
        "web, e le comunità locali organizzano incontri e conferenze in cui principianti ed "
        "esperti condividono progetti, domande e soluzioni.",
    ),
}

TOXIC_WORDS = [
    "idiot", "idiots", "moron", "morons", "stupid", "dumbass", "crap", "damn", "shit",
    "bastard", "bastards", "loser", "losers", "garbage human",
]  # fmt: skip

RANT = (
    "Who Wrote This Garbage",
    "Whoever designed this stupid library is an idiot, and the morons who keep recommending it "
    "are worse. The docs are crap, the API is crap, and every damn release breaks something "
    "that worked yesterday. Only a total dumbass would ship an update like this one without a "
    "single test. The maintainers are losers who ignore every bug report, and the idiots on the "
    "forum just tell you to read the manual, which is more useless garbage written by the same "
    "bastards. I wasted a whole week on this shit. Stupid, stupid, stupid. If you are not a moron, "
    "stay away from it and tell every other loser you know to stay away too, because these "
    "idiots will never fix anything and they do not care about the people who depend on them.",
)

SPAM_LINES = [
    "BEST CHEAP PYTHON HOSTING - BUY NOW - LOWEST PRICE GUARANTEED",
    "Click here for cheap python hosting best price buy now limited offer",
    "cheap hosting cheap hosting cheap hosting best deal best deal best deal",
    "FREE BONUS!!! FREE BONUS!!! ORDER TODAY AND SAVE 90% ON PYTHON HOSTING",
]

NAV = [
    ("/", "Home"), ("/docs/", "Documentation"), ("/news/feed.xml", "News"),
    ("/community/", "Community"), ("/offers/1.html", "Deals"), ("/about.html", "About"),
    ("/lang/", "Other languages"), ("/old-docs", "Old documentation"),
    ("/private/drafts.html", "Drafts"), ("/downloads/", "Downloads"),
]  # fmt: skip
FOOTER = (
    "Copyright 2001-2026 The Demo Python Documentation Project. All rights reserved. "
    "Privacy policy | Terms of use | Cookie settings | Contact us | Report a problem with this "
    "page. This site is generated for the corpus demo and is not affiliated with the PSF."
)
AUTHORS = ["Ada Lindqvist", "Tomás Ferreira", "Mei Tanaka", "Kwame Mensah", "Priya Raman"]


def page_html(title: str, body: str, sidebar: list[tuple[str, str]] = (), head: str = "") -> str:
    nav = " | ".join(f'<a href="{href}">{html.escape(text)}</a>' for href, text in NAV)
    side = "".join(f'<li><a href="{h}">{html.escape(t)}</a></li>' for h, t in sidebar)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - Demo Python Docs</title>{head}</head>\n<body>\n"
        f'<header><div class="logo">Demo Python Docs</div><nav>{nav}</nav>'
        '<form action="/search"><input name="q" placeholder="Search the docs"></form></header>\n'
        f'<div class="layout"><aside><h3>In this section</h3><ul>{side}</ul></aside>\n'
        f"<main>\n{body}\n</main></div>\n"
        f'<footer><p>{FOOTER}</p><p><a href="/about.html">About</a> '
        '<a href="/missing-page.html">Sitemap</a></p></footer>\n</body></html>\n'
    )


# --- the sample -------------------------------------------------------------------------------


def _assign(topics: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Each topic to one kind of source, in a fixed pattern over the sorted topics."""
    pattern = ["docs", "docs", "docs", "news", "book", "docs", "epub", "forum", "reddit", "toot"]
    kinds: dict[str, list] = {k: [] for k in pattern}
    for i, topic in enumerate(topics):
        kinds[pattern[i % len(pattern)]].append(topic)
    return kinds


def write_demo_sample(out_dir: str | Path) -> dict[str, list[Path]]:
    """Write the whole sample under `out_dir`; returns the files written, by kind."""
    out = Path(out_dir)
    topics = sorted(pydoc_data.topics.topics.items())
    kinds = _assign(topics)
    written = {
        "site": _write_site(out / "site", kinds["docs"], kinds["news"]),
        "books": _write_books(out / "books", kinds["book"], kinds["epub"]),
        "forums": [_write_posts_xml(out / "forums" / "Posts.xml", kinds["forum"])],
        "social": [
            _write_reddit(out / "social" / "RS_python_demo.ndjson.zst", kinds["reddit"]),
            _write_mastodon(out / "social" / "outbox.json", kinds["toot"]),
        ],
    }
    words = out / "toxic-words.txt"
    _write_if_changed(words, ("\n".join(TOXIC_WORDS) + "\n").encode())
    written["lists"] = [words]
    written["heldout"] = [_write_heldout(out / "heldout" / "stdlib-docstrings.jsonl")]
    return written


HELDOUT_MODULES = ("argparse", "csv", "heapq", "json", "shelve", "unittest")


def _write_heldout(path: Path) -> Path:
    """Held-out text for the trainer's `eval_text`: the docstrings of a few standard-library
    modules, English technical prose that none of the sample's documents holds."""
    lines = []
    for name in HELDOUT_MODULES:
        doc = textwrap.dedent(importlib.import_module(name).__doc__ or "").strip()
        lines.append(json.dumps({"id": f"stdlib:{name}", "text": doc}, ensure_ascii=False))
    return _write_if_changed(path, ("\n".join(lines) + "\n").encode())


def _write_if_changed(path: Path, data: bytes) -> Path:
    """Write `path` unless it already holds `data`: an unchanged file keeps its mtime, so a
    re-run of the demo finds its inputs as they were and reuses its work."""
    if path.is_file() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def _write_site(root: Path, docs: list, news: list) -> list[Path]:
    files: dict[str, str] = {}
    doc_links = [(f"/docs/{slug(n)}.html", topic_title(t)) for n, t in docs]
    # some pages have a printer-friendly copy: the same text less one paragraph
    shortened = {n: _drop_a_paragraph(topic_blocks(t)) for n, t in docs}
    near_dups = set(sorted(n for n, b in shortened.items() if b is not None)[::2][:5])
    for i, (name, text) in enumerate(docs):
        blocks = topic_blocks(text)
        title = topic_title(text)
        body = f"<article><h1>{html.escape(title)}</h1>\n{blocks_html(blocks)}\n</article>"
        if name in near_dups:
            body += f'\n<p><a href="/docs/print/{slug(name)}.html">Printer-friendly version</a></p>'
            files[f"docs/print/{slug(name)}.html"] = (
                f"<!doctype html><html><head><title>{html.escape(title)} (printer-friendly)"
                f"</title></head><body><h1>{html.escape(title)}</h1>\n"
                f"{blocks_html(shortened[name])}</body></html>\n"
            )
        sidebar = [doc_links[(i + k) % len(doc_links)] for k in range(1, 9)]
        files[f"docs/{slug(name)}.html"] = page_html(title, body, sidebar)
    listing = "".join(f'<li><a href="{h}">{html.escape(t)}</a></li>' for h, t in doc_links)
    files["docs/index.html"] = page_html(
        "Documentation", f"<h1>Documentation</h1><ul>{listing}</ul>"
    )

    items = []
    for i, (name, text) in enumerate(news):
        title = f"Explained: {topic_title(text)}"
        author = AUTHORS[i % len(AUTHORS)]
        date = EPOCH + timedelta(days=7 * i)
        head = (
            f'<meta name="author" content="{author}">'
            f'<meta property="article:published_time" content="{date.isoformat()}">'
            f'<meta property="og:title" content="{html.escape(title)}">'
        )
        body = (
            f"<article><h1>{html.escape(title)}</h1>"
            f'<p class="byline">By {author}, <time datetime="{date.date()}">'
            f"{date:%B %d, %Y}</time></p>\n{blocks_html(topic_blocks(text))}</article>"
        )
        files[f"news/{slug(name)}.html"] = page_html(title, body, head=head)
        items.append(
            f"<item><title>{html.escape(title)}</title><link>{BASE}/news/{slug(name)}.html</link>"
            f"<author>{author}</author><pubDate>{format_datetime(date)}</pubDate></item>"
        )
    files["news/feed.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Demo Python News</title><link>{BASE}/</link>{''.join(items)}</channel></rss>\n"
    )

    lang_links = []
    for code, (title, text) in OTHER_LANGUAGES.items():
        body = f"<article><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></article>"
        files[f"lang/{code}.html"] = page_html(title, body)
        lang_links.append((f"/lang/{code}.html", title))
    links = "".join(f'<li><a href="{h}">{html.escape(t)}</a></li>' for h, t in lang_links)
    files["lang/index.html"] = page_html("Other languages", f"<h1>Languages</h1><ul>{links}</ul>")

    for n in range(1, 4):
        lines = "".join(f"<p>{SPAM_LINES[(n + k) % len(SPAM_LINES)]}</p>" for k in range(24))
        offers = "".join(f'<a href="/offers/{m}.html">DEAL {m}</a> ' for m in range(1, 4))
        files[f"offers/{n}.html"] = page_html(f"Deal {n}", f"<h1>HOT DEAL {n}</h1>{lines}{offers}")
    title, text = RANT
    rant = f"<article><h1>{title}</h1><p>{html.escape(text)}</p></article>"
    files["community/rant.html"] = page_html(title, rant)
    files["community/index.html"] = page_html(
        "Community", '<h1>Community</h1><p><a href="/community/rant.html">Latest post</a></p>'
    )
    files["about.html"] = page_html(
        "About", "<h1>About</h1><p>A generated site for the corpus demo.</p>"
    )
    files["private/drafts.html"] = page_html("Drafts", "<h1>Drafts</h1><p>Not for crawlers.</p>")
    files["index.html"] = page_html(
        "Home",
        "<h1>Demo Python Docs</h1><p>Reference pages, news and a community corner.</p>"
        '<ul><li><a href="/docs/">Documentation</a></li><li><a href="/news/feed.xml">News feed'
        '</a></li><li><a href="/lang/">Languages</a></li></ul>',
    )
    files["robots.txt"] = f"User-agent: *\nDisallow: /private/\nSitemap: {BASE}/sitemap.xml\n"
    urls = "".join(f"<url><loc>{BASE}{h}</loc></url>" for h, _ in doc_links[:5])
    files["sitemap.xml"] = (
        '<?xml version="1.0"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}</urlset>\n"
    )
    return [_write_if_changed(root / rel, data.encode()) for rel, data in sorted(files.items())]


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


def _write_books(folder: Path, book_topics: list, epub_topics: list) -> list[Path]:
    written = []
    per_book = -(-len(book_topics) // 3)
    for b in range(3):
        group = book_topics[b * per_book : (b + 1) * per_book]
        chapters = [blocks_text(topic_blocks(t)) for _, t in group]
        title = f"Notes on Python, Volume {b + 1}"
        encoding = "iso-8859-1" if b == 2 else "utf-8"
        data = _gutenberg(title, chapters, b + 1, old_style=b == 1, encoding=encoding)
        written.append(_write_if_changed(folder / f"pg{90001 + b}.txt", data))
    written.append(_write_if_changed(folder / "python-reference.epub", _epub(epub_topics)))
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


def _write_posts_xml(path: Path, topics: list) -> Path:
    """Each topic as a question (its first paragraph), an accepted answer (the rest) and a
    short second answer."""
    rows = []
    post_id = 1
    for i, (name, text) in enumerate(topics):
        blocks = topic_blocks(text)
        title = f"How does {topic_title(text)} work in Python?"
        question = (
            f"<p>I am reading about {html.escape(topic_title(text))} and I do not understand "
            f"the details. What exactly happens, and are there pitfalls I should know about?</p>"
        )
        created = EPOCH + timedelta(days=i, hours=3)
        qid, accepted, other = post_id, post_id + 1, post_id + 2
        post_id += 3
        rows.append(
            {
                "Id": qid, "PostTypeId": 1, "AcceptedAnswerId": accepted,
                "CreationDate": created.strftime("%Y-%m-%dT%H:%M:%S.000"), "Score": 5 + i,
                "Body": question, "Title": title, "Tags": f"<python><{slug(name)}>",
                "AnswerCount": 2, "ContentLicense": "CC BY-SA 4.0", "OwnerUserId": 100 + i,
            }
        )  # fmt: skip
        answer = "<p>The reference explains it well. In short:</p>" + blocks_html(blocks)
        rows.append(
            {
                "Id": accepted, "PostTypeId": 2, "ParentId": qid, "Score": 12 + i,
                "CreationDate": (created + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000"),
                "Body": answer, "ContentLicense": "CC BY-SA 4.0", "OwnerUserId": 200 + i,
            }
        )  # fmt: skip
        rows.append(
            {
                "Id": other, "PostTypeId": 2, "ParentId": qid, "Score": 1,
                "CreationDate": (created + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.000"),
                "Body": "<p>Also try it in the interactive interpreter and read the error "
                "messages: they usually tell you which rule you broke.</p>",
                "ContentLicense": "CC BY-SA 4.0", "OwnerUserId": 300 + i,
            }
        )  # fmt: skip
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<posts>"]
    for row in rows:
        attrs = " ".join(f'{k}="{html.escape(str(v), quote=True)}"' for k, v in row.items())
        lines.append(f"  <row {attrs} />")
    lines.append("</posts>")
    return _write_if_changed(path, ("\r\n".join(lines) + "\r\n").encode())


def _write_reddit(path: Path, topics: list) -> Path:
    """A submission per topic (its first paragraphs) with a comment tree (the rest, split into
    replies), as Pushshift/Arctic-Shift dumps lay them out."""
    lines = []
    for i, (_, text) in enumerate(topics):
        paragraphs = [b for k, b in topic_blocks(text)[1:] if k != "h"]
        sid = f"demo{i:03d}"
        created = int((EPOCH + timedelta(days=i)).timestamp())
        lines.append(
            {
                "id": sid, "name": f"t3_{sid}", "subreddit": "learnpython",
                "title": f"TIL how {topic_title(text)} works", "author": f"user{i}",
                "selftext": "\n\n".join(paragraphs[:2]), "score": 40 + i,
                "created_utc": created, "permalink": f"/r/learnpython/comments/{sid}/",
            }
        )  # fmt: skip
        parent = f"t3_{sid}"
        for k, chunk in enumerate(paragraphs[2:8]):
            cid = f"c{i:03d}{k}"
            lines.append(
                {
                    "id": cid, "name": f"t1_{cid}", "link_id": f"t3_{sid}", "parent_id": parent,
                    "subreddit": "learnpython", "author": f"user{i + k + 1}", "body": chunk,
                    "score": 10 - k, "created_utc": created + 60 * (k + 1),
                }
            )  # fmt: skip
            parent = f"t1_{cid}" if k % 2 == 0 else parent
    raw = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()
    return _write_if_changed(path, zstandard.ZstdCompressor(level=10).compress(raw))


def _write_mastodon(path: Path, topics: list) -> Path:
    """A thread of notes per topic (paragraphs as replies), plus a boost, as an ActivityPub
    outbox holds them."""
    actor = "https://social.example/users/pydocs"
    items = []
    for i, (_, text) in enumerate(topics):
        paragraphs = [b for k, b in topic_blocks(text)[1:] if k == "p"][:5]
        previous = None
        for k, para in enumerate([f"A thread on {topic_title(text)} 🧵", *paragraphs]):
            note_id = f"{actor}/statuses/{i:03d}{k}"
            published = (EPOCH + timedelta(days=i, minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            items.append(
                {
                    "id": f"{note_id}/activity", "type": "Create", "actor": actor,
                    "published": published,
                    "object": {
                        "id": note_id, "type": "Note", "attributedTo": actor,
                        "inReplyTo": previous, "published": published, "url": note_id,
                        "content": f"<p>{html.escape(para)}</p>", "contentMap": {"en": ""},
                    },
                }
            )  # fmt: skip
            previous = note_id
    items.append(
        {"id": f"{actor}/boost/1", "type": "Announce", "actor": actor,
         "object": "https://other.example/users/x/statuses/1"}
    )  # fmt: skip
    outbox = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/outbox",
        "type": "OrderedCollection",
        "totalItems": len(items),
        "orderedItems": items,
    }
    data = json.dumps(outbox, ensure_ascii=False, indent=1).encode()
    return _write_if_changed(path, data)


# --- the site's server ------------------------------------------------------------------------

TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/rss+xml", ".txt": "text/plain"}
REDIRECTS = {"/old-docs": "/docs/"}


class LocalServer:
    """A threaded HTTP/1.1 server answering GET with `self.route(path)`; `with Server(...) as
    s:` starts it and stops it, and `s.base` is its address (port 0: a free one)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self.server = ThreadingHTTPServer((host, port), route_handler(self.route))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def route(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for a path."""
        raise NotImplementedError


class DemoSite(LocalServer):
    """Serves the generated site folder on 127.0.0.1, with a redirect and 404s."""

    def __init__(self, root: str | Path, port: int = 0, host: str = "127.0.0.1"):
        self.root = Path(root).resolve()
        super().__init__(port, host)

    def route(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        path = path.split("?", 1)[0].split("#", 1)[0]
        if path in REDIRECTS:
            return 301, [("Location", REDIRECTS[path])], b""
        rel = posixpath.normpath(path).lstrip("/")
        target = (self.root / rel).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.root) or not target.is_file():
            return 404, [("Content-Type", "text/plain")], b"not found"
        data = target.read_bytes().replace(BASE.encode(), self.base.encode())
        ctype = TYPES.get(target.suffix, "application/octet-stream")
        if target.name == "sitemap.xml":
            ctype = "application/xml"
        return 200, [("Content-Type", ctype)], data


def route_handler(route) -> type[BaseHTTPRequestHandler]:
    """A quiet HTTP/1.1 GET handler answering each path with `route(path)`, which returns
    (status, headers, body)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            status, headers, body = route(self.path)
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler
