"""A small web site for the crawler: documentation pages wrapped in navigation and footer
boilerplate, printer-friendly near-duplicates, spam pages, a page of insults, pages in German,
French, Spanish and Italian, news articles found through an RSS feed, robots.txt with a disallowed
folder and a sitemap, links to a redirect and to a missing page. `DemoSite` serves it."""

from __future__ import annotations

import html
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

from samples.reproducible import EPOCH, write_if_changed
from samples.topics import blocks_html, slug, topic_blocks, topic_title
from samples.web_junk import junk_pages

BASE = "__BASE__"  # stands for the site's address in files that need absolute URLs

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


# --- the site ---------------------------------------------------------------------------------


def write_site(root: Path, docs: list, news: list) -> list[Path]:
    """The site's files under `root`: `docs` topics as documentation pages, `news` as articles."""
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
        '</a></li><li><a href="/lang/">Languages</a></li>'
        '<li><a href="/junk/">Around the web</a></li></ul>',
    )
    files.update(junk_pages(page_html, OTHER_LANGUAGES))  # what else a crawl brings
    files["robots.txt"] = f"User-agent: *\nDisallow: /private/\nSitemap: {BASE}/sitemap.xml\n"
    urls = "".join(f"<url><loc>{BASE}{h}</loc></url>" for h, _ in doc_links[:5])
    files["sitemap.xml"] = (
        '<?xml version="1.0"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}</urlset>\n"
    )
    return [write_if_changed(root / rel, data.encode()) for rel, data in sorted(files.items())]
