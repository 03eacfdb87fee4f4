"""samples/debian_docs.py on small packages built here with dpkg-deb (the real ones are fetched by
`make bench`): the crawl it writes, its bad records, and the gold pairs of Git's manual."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from corpus.sources.warc import read_warc
from samples import debian_docs
from tests.test_extract_web import PAGE, collect


def page(title: str) -> bytes:
    body = f"{title} explains how the system is configured and maintained by its administrators."
    return PAGE.format(title=title, body=body).encode()


FILES = {
    "debian-handbook": {
        "usr/share/doc/debian-handbook/html/en-US/apt.html": page("APT"),
        "usr/share/doc/debian-handbook/html/en-US/images/logo.png": b"\x89PNG\r\n\x1a\nxx",
        "usr/share/doc/debian-handbook/html/de-DE/apt.html": page("APT de"),
        "usr/share/doc/debian-handbook/html/ar-MA/apt.html": page("not a language taken"),
    },
    "installation-guide-amd64": {
        "usr/share/doc/installation-guide-amd64/en/ch01.html": page("Install"),
        "usr/share/doc/installation-guide-amd64/fr/ch01.html": page("Installer"),
        "usr/share/doc/installation-guide-amd64/changelog.gz": b"not a page",
    },
    "postgresql-doc-15": {"usr/share/doc/postgresql-doc-15/html/sql.html": page("SQL")},
    "git-doc": {
        "usr/share/doc/git-doc/git-add.html": page("git add"),
        "usr/share/doc/git-doc/git-add.txt": "git-add(1)\n==========\nAdd file contents.\n",
        "usr/share/doc/git-doc/howto/only-html.html": page("howto"),
    },
}


def fake_debs(tmp_path):
    debs = tmp_path / "debs"
    debs.mkdir()
    for package, version, _ in debian_docs.PACKAGES:
        root = tmp_path / "build" / package
        files = FILES.get(package) or {
            f"usr/share/debian-reference/ch01.{package[-2:]}.html": page(f"Reference {package}")
        }
        for name, data in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if isinstance(data, bytes) else data.encode())
        control = root / "DEBIAN" / "control"
        control.parent.mkdir(parents=True)
        control.write_text(
            f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: Test <t@example.org>\nDescription: test\n"
        )
        out = debian_docs.deb_path(debs, package, version)
        subprocess.run(
            ["dpkg-deb", "--build", str(root), str(out)], check=True, capture_output=True
        )
    return debs


def test_the_crawl_of_the_documentation_sites(tmp_path):
    debs = fake_debs(tmp_path)
    counts = debian_docs.build(debs, tmp_path / "warcs")
    assert counts == {
        "debian-handbook.warc.gz": 2 + 2,  # en and de pages, and two 404 pages
        "debian-guide.warc.gz": 2 + 2,
        "debian-postgresql.warc.gz": 1 + 1,
        "debian-git.warc.gz": 2 + 6 + 3,  # git's 2 pages, the reference in 6 languages, 404s
    }
    urls, reasons = [], Counter()
    for path in sorted((tmp_path / "warcs").glob("*.warc.gz")):
        kept, rejected, _ = collect(read_warc(path))
        urls += kept.column("url").to_pylist()
        reasons.update(rejected.column("reason").to_pylist())
    assert "https://debian-handbook.info/browse/de-DE/stable/apt.html" in urls
    assert "https://www.debian.org/releases/bookworm/amd64/fr/ch01.html" in urls
    assert "https://www.postgresql.org/docs/15/sql.html" in urls
    assert "https://git-scm.com/docs/howto/only-html.html" in urls
    assert "https://www.debian.org/doc/manuals/debian-reference/ch01.ja.html" in urls
    assert not any("ar-MA" in u for u in urls)
    # 8 pages of 404, the last of them in the guide cut short
    assert reasons == {"http_status": 7, "not_html": 1, "truncated_input": 1}


def test_the_same_packages_give_the_same_bytes(tmp_path):
    debs = fake_debs(tmp_path)
    debian_docs.build(debs, tmp_path / "a", cut=False)
    debian_docs.build(debs, tmp_path / "b", cut=False)
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
    kept, rejected, _ = collect(read_warc(tmp_path / "a" / "debian-guide.warc.gz"))
    assert "truncated_input" not in rejected.column("reason").to_pylist()


def test_git_pages_pair_with_their_source(tmp_path):
    pairs = debian_docs.gold_pairs(fake_debs(tmp_path))
    assert [(name, text) for name, _, text in pairs] == [
        ("git-add", "git-add(1)\n==========\nAdd file contents.\n")
    ]
    assert json.dumps(pairs[0][1].decode()).count("git add") >= 1
