"""Real web pages offline: Debian's documentation packages written as a crawl, in WARC files.

Debian ships whole documentation sites as HTML: the Debian Administrator's Handbook and the
installation guide in many languages, PostgreSQL's and Git's manuals in English, the Debian
Reference in six languages. `fetch` downloads pinned versions of those packages with
`apt-get download` (checked against their SHA-256), the way the Makefile fetches GPT-2's ranks;
`build` writes their pages as response records under each site's real URL, into four gzipped WARC
files of unequal size, with what a crawl also holds: the sites' images (`not_html`), a few
`404` responses and a member cut short at the end of one file.

About half the pages are in English, as in Common Crawl. Git's manual also ships the AsciiDoc
source of each page (`git-add.txt` beside `git-add.html`): `gold_pairs` gives them as gold text
for extraction quality. Debian's `python3.11-doc` is held out for review and is not used here.

    python -m samples.debian_docs fetch DEBS_DIR
    python -m samples.debian_docs build DEBS_DIR OUT_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# package, version, SHA-256 of the .deb (Debian 12 "bookworm")
PACKAGES = [
    (
        "debian-handbook",
        "11.20220922",
        "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
    ),
    (
        "installation-guide-amd64",
        "20230508+deb12u1",
        "812c43e1dc906daf671e3efe953dc023205c238e5bd5a3021ce4ca142793573a",
    ),
    (
        "postgresql-doc-15",
        "15.18-0+deb12u1",
        "3c598277a463c44d672daa2c335deb8d8252e1852fb025fd4578ea2d9a1b90f0",
    ),
    (
        "git-doc",
        "1:2.39.5-0+deb12u3",
        "3c89668a11053a6bafade3de1f611f4613db31e082af63f43d8c5b69ad8795ec",
    ),
    (
        "debian-reference-en",
        "2.100",
        "9f31d3a17df505de09689ca255512ea58c1fc47c59bb1b0c7bf1c23362e9743f",
    ),
    (
        "debian-reference-de",
        "2.100",
        "3b0ce65fd63e75ddf8eb07ca36293425135080e690a07e06a6ac8bc8040ef0aa",
    ),
    (
        "debian-reference-fr",
        "2.100",
        "01424cba9bfa2e13166da22d3d692d33a22ec7d8ef935ec81fd8802746087f65",
    ),
    (
        "debian-reference-es",
        "2.100",
        "a59b68c96f83d3cf29a476c847aee38364764603ea62eee592791e0a843a269e",
    ),
    (
        "debian-reference-it",
        "2.100",
        "7894062a5e9203a57ec6cb8d6a47d5ffb58c41dc004766522f1b4d78b2a8e0c6",
    ),
    (
        "debian-reference-ja",
        "2.100",
        "f67140e0b994409413bd5fcc8dfcce832445c99d724401f0275fa238daf30325",
    ),
]

# the handbook's and the guide's languages taken, English first: with them about half the pages
# of the crawl are English
HANDBOOK_LANGS = ["en-US", "de-DE", "fr-FR", "es-ES", "it-IT", "ja-JP", "pt-BR", "ru-RU"]
GUIDE_LANGS = ["en", "de", "fr", "es", "it"]
DATE = "2024-06-01T00:00:00Z"
IMAGES_PER_FILE = 20


@dataclass(frozen=True)
class Page:
    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"


def deb_path(debs: Path, package: str, version: str) -> Path:
    return debs / f"{package}_{version.replace(':', '%3a')}_all.deb"


def fetch(debs: Path) -> None:
    """Download the pinned packages into `debs` (those there and whole are kept)."""
    debs.mkdir(parents=True, exist_ok=True)
    for package, version, sha256 in PACKAGES:
        path = deb_path(debs, package, version)
        if path.exists() and _sha256(path) == sha256:
            continue
        got = subprocess.run(
            ["apt-get", "download", f"{package}={version}"],
            cwd=debs,
            capture_output=True,
            text=True,
        )
        if got.returncode != 0 or not path.exists():
            why = got.stderr.strip().splitlines()[-1:] or ["no file"]
            sys.exit(f"cannot download {package}={version}: {why[0]}")
        if _sha256(path) != sha256:
            path.unlink()
            sys.exit(f"{package}={version}: SHA-256 differs from the pinned one")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def deb_files(deb: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the package, bytes) of each regular file of a .deb, in archive order."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            if member.isfile():
                f = tar.extractfile(member)
                if f is not None:
                    yield member.name.removeprefix("./"), f.read()
    if proc.wait() != 0:
        sys.exit(f"dpkg-deb cannot read {deb}")


def _sites(debs: Path) -> dict[str, list[Page]]:
    """The pages of each WARC file to write, in a fixed order."""
    files: dict[str, list[Page]] = {"handbook": [], "guide": [], "postgresql": [], "git": []}
    images: dict[str, list[Page]] = {k: [] for k in files}

    def add(key: str, url: str, name: str, data: bytes) -> None:
        if name.endswith((".html", ".htm")):
            files[key].append(Page(url, data))
        elif name.endswith(".png") and len(images[key]) < IMAGES_PER_FILE:
            images[key].append(Page(url, data, "image/png"))

    for package, version, _ in PACKAGES:
        for name, data in deb_files(deb_path(debs, package, version)):
            parts = name.split("/")
            if package == "debian-handbook" and "/html/" in name:
                lang, rest = parts[5], "/".join(parts[6:])
                if lang in HANDBOOK_LANGS:
                    url = f"https://debian-handbook.info/browse/{lang}/stable/{rest}"
                    add("handbook", url, name, data)
            elif package.startswith("installation-guide") and len(parts) > 5:
                lang, rest = parts[4], "/".join(parts[5:])
                if lang in GUIDE_LANGS:
                    url = f"https://www.debian.org/releases/bookworm/amd64/{lang}/{rest}"
                    add("guide", url, name, data)
            elif package.startswith("postgresql-doc") and "/html/" in name:
                add("postgresql", f"https://www.postgresql.org/docs/15/{parts[-1]}", name, data)
            elif package == "git-doc" and name.endswith(".html"):
                rest = "/".join(parts[4:])
                add("git", f"https://git-scm.com/docs/{rest}", name, data)
            elif package.startswith("debian-reference") and name.endswith(".html"):
                url = f"https://www.debian.org/doc/manuals/debian-reference/{parts[-1]}"
                add("git", url, name, data)  # with git's manual: the smallest file
    out = {}
    for key, pages in files.items():
        pages.sort(key=lambda p: p.url)
        missing = [
            Page(f"{pages[i].url}.missing", b"<html><body>Not Found</body></html>", status="404")
            for i in range(0, len(pages), max(1, len(pages) // 3))
        ][:3]
        out[key] = _interleave(pages, images[key] + missing)
    return out


def _interleave(pages: list[Page], others: list[Page]) -> list[Page]:
    """`others` spread evenly through `pages`, as a crawl meets them."""
    if not others:
        return pages
    step = max(1, len(pages) // len(others))
    out: list[Page] = []
    for i, page in enumerate(pages):
        out.append(page)
        if i % step == step - 1 and others:
            out.append(others.pop(0))
    return out + others


def build(debs: Path, out: Path, cut: bool = True) -> dict[str, int]:
    """Write the four WARC files into `out`; returns the pages (HTML records) of each. With
    `cut`, the guide's last gzip member is cut short (datatrove's WarcReader stops a whole
    task at one, so its benchmark leaves it whole)."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for key, pages in _sites(debs).items():
        path = out / f"debian-{key}.warc.gz"
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        for page in pages:
            writer.write_record(_record(writer, page))
        data = buf.getvalue()
        if cut and key == "guide":  # a crawler killed while writing: the last member cut short
            data = data[:-200]
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        counts[path.name] = sum(p.content_type.startswith("text/html") for p in pages)
    return counts


def _record(writer: WARCWriter, page: Page):
    http = StatusAndHeaders(
        page.status,
        [("Content-Type", page.content_type), ("Content-Length", str(len(page.body)))],
        protocol="HTTP/1.1",
    )
    warc_headers = {
        "WARC-Date": DATE,
        "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, page.url)}>",
        # as Common Crawl writes it (datatrove's reader skips a record without it that libmagic
        # does not call text/html, as it does an XHTML page starting with <?xml)
        "WARC-Identified-Payload-Type": page.content_type.split(";")[0],
    }
    return writer.create_warc_record(
        page.url,
        "response",
        payload=io.BytesIO(page.body),
        http_headers=http,
        warc_headers_dict=warc_headers,
    )


def gold_pairs(debs: Path) -> list[tuple[str, bytes, str]]:
    """(name, HTML, AsciiDoc source) for each page of Git's manual that ships its source."""
    package, version, _ = next(p for p in PACKAGES if p[0] == "git-doc")
    html, txt = {}, {}
    for name, data in deb_files(deb_path(debs, package, version)):
        stem, _, suffix = name.rpartition(".")
        if suffix == "html":
            html[stem] = data
        elif suffix == "txt":
            txt[stem] = data.decode("utf-8", "replace")
    return [(Path(s).name, html[s], txt[s]) for s in sorted(html.keys() & txt.keys())]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m samples.debian_docs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch").add_argument("debs", type=Path)
    b = sub.add_parser("build")
    b.add_argument("debs", type=Path)
    b.add_argument("out", type=Path)
    b.add_argument("--whole", action="store_true", help="no member cut short")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        fetch(args.debs)
    else:
        for name, n in build(args.debs, args.out, cut=not args.whole).items():
            print(f"{name}: {n} pages")


if __name__ == "__main__":
    main()
