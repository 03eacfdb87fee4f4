"""What a crawl of the open web brings besides the pages worth training on, in web-like shares:
SEO spam, templated pages that differ in one name, tag pages that are nothing but links, and pages
in other languages. They are generated from a fixed seed, so the sample is the same everywhere,
and they hold about as much text as the site's documentation (Common Crawl's extracted text is
mostly such pages: FineWeb keeps about a tenth of it).
"""

from __future__ import annotations

import html
import random

PRODUCTS = [
    "python hosting", "vps server", "cloud hosting", "web hosting", "seo tools",
    "python course", "coding bootcamp", "cheap laptop", "gaming laptop", "vpn service",
    "domain names", "wordpress themes", "crypto wallet", "online casino", "diet pills",
]  # fmt: skip
HOOKS = [
    "best", "cheap", "top", "discount", "free", "premium", "affordable", "trusted", "fast",
    "unlimited", "exclusive", "official", "guaranteed", "lowest price", "2026",
]  # fmt: skip
SPAM_TEMPLATES = [
    "Looking for {h1} {p1}? Our {p1} is the {h2} {p1} you can buy online today.",
    "{H1} {P1} {H2} {P1} {H3} {P1} - order now and save big on {p2}!",
    "Compare {h1} {p1} deals, {h2} {p2} offers and {h3} {p1} coupons in one place.",
    "Why pay more for {p1}? Get {h1} {p1} and {h2} {p2} with our {h3} bundle.",
    "{p1} {p1} {p1} {h1} {p1} review {h2} {p1} price {h3} {p1} sale.",
    "Thousands of customers trust our {h1} {p1}. Click here to get your {h2} {p1} now.",
]
CITIES = [
    "Amsterdam", "Berlin", "Chicago", "Dublin", "Edinburgh", "Frankfurt", "Glasgow", "Helsinki",
    "Istanbul", "Jakarta", "Krakow", "Lisbon", "Madrid", "Nairobi", "Oslo", "Porto", "Quito",
    "Rotterdam", "Seoul", "Toronto",
]  # fmt: skip
TRAINING = (
    "Python training in {city}. Our instructor-led Python courses in {city} run every month at "
    "our {city} training centre, close to public transport and with free parking. The "
    "beginner course covers variables, control flow, functions, modules and error handling, "
    "with hands-on exercises after every lesson. The advanced course in {city} covers "
    "decorators, generators, context managers, packaging and testing, and ends with a small "
    "project that each participant presents to the group. All courses include lunch, printed "
    "course materials and a certificate of completion. Companies in {city} can book a private "
    "session at their own offices for teams of five to twenty people; ask us for a quote. Our "
    "trainers have taught more than ten thousand developers across Europe, Asia and the "
    "Americas. Seats are limited, so register early to secure your place in the next {city} "
    "course. Questions? Call our {city} office or send us a message through the contact form, "
    "and a member of the team will reply within one business day."
)
COOKIE = (
    "We use cookies to improve your experience. By continuing to browse you agree to our use of "
    "cookies. Accept all | Reject | Manage preferences"
)


def _spam_text(rng: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        h = rng.sample(HOOKS, 3)
        p = rng.sample(PRODUCTS, 2)
        t = rng.choice(SPAM_TEMPLATES)
        out.append(
            t.format(
                h1=h[0],
                h2=h[1],
                h3=h[2],
                p1=p[0],
                p2=p[1],
                H1=h[0].upper(),
                H2=h[1].upper(),
                H3=h[2].upper(),
                P1=p[0].upper(),
            )  # fmt: skip
        )
    return " ".join(out)


def junk_pages(
    page_html, languages: dict[str, tuple[str, str]], spam: int = 90, cities: int = 20
) -> dict[str, str]:
    """The junk section's files by path under the site, made with `page_html` (the site's
    template, boilerplate and all), pages in other `languages` (code: (title, text)) among them;
    `junk/index.html` links them for the crawler."""
    rng = random.Random(20261202)
    files: dict[str, str] = {}
    links = []
    for n in range(1, spam + 1):  # SEO spam: keyword-stuffed product pages
        paras = "".join(f"<p>{html.escape(_spam_text(rng, 6))}</p>" for _ in range(5))
        title = f"{rng.choice(HOOKS).title()} {rng.choice(PRODUCTS).title()} Deals"
        files[f"shop/{n}.html"] = page_html(title, f"<h1>{html.escape(title)}</h1>{paras}")
        links.append((f"/shop/{n}.html", title))
    names = [f"{c}{'' if k == 0 else f' {k + 1}'}" for k in range(-(-cities // len(CITIES)))
             for c in CITIES][:cities]  # fmt: skip
    for city in names:  # templated pages: one text, one name changed
        title = f"Python training in {city}"
        body = f"<h1>{title}</h1><p>{html.escape(TRAINING.format(city=city))}</p>"
        path = f"training/{city.lower().replace(' ', '-')}.html"
        files[path] = page_html(title, body)
        links.append((f"/{path}", title))
    for n in range(1, 11):  # tag pages: links, a cookie banner, no text of their own
        tagged = rng.sample(links, 12)
        items = "".join(f'<li><a href="{h}">{html.escape(t)}</a></li>' for h, t in tagged)
        body = f"<h1>Tag: page {n}</h1><ul>{items}</ul><p>{COOKIE}</p>"
        files[f"tags/{n}.html"] = page_html(f"Tag page {n}", body)
        links.append((f"/tags/{n}.html", f"Tag page {n}"))
    for code, (title, text) in languages.items():  # more pages in other languages
        sentences = [s.strip() for s in text.split(". ") if s.strip()]
        for n in range(1, 7):
            picked = rng.sample(sentences, len(sentences))
            body = f"<h1>{html.escape(title)} ({n})</h1><p>{html.escape('. '.join(picked))}</p>"
            files[f"more/{code}-{n}.html"] = page_html(f"{title} ({n})", body)
            links.append((f"/more/{code}-{n}.html", f"{title} ({n})"))
    items = "".join(f'<li><a href="{h}">{html.escape(t)}</a></li>' for h, t in links)
    files["junk/index.html"] = page_html(
        "Around the web", f"<h1>Around the web</h1><ul>{items}</ul>"
    )
    return files
