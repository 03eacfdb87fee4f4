"""The realistic ablation: does filtering and deduplicating a noisy web-like corpus train a better
model, by more than the seeds' noise?

The corpus, from real offline material:
- Debian's documentation sites as a crawl (samples/debian_docs.py: the Debian Administrator's
  Handbook and the installation guide in many languages, PostgreSQL's and Git's manuals, the
  Debian Reference), real HTML with its navigation and footers; about half not in English;
- the same pages again under a mirror's address, for a seeded fifth of them (exact copies), and
  generated web junk in the sites' template (samples/web_junk.py): keyword-stuffed shop pages,
  a course page repeated for many cities, tag pages of links, shuffled other-language pages;
- real forum threads (a Stack Exchange dump) and social posts (Reddit, Twitter) from
  ../shared/data.
The eval texts are two Project Gutenberg books that are not in the corpus. The pipeline is
extract -> filter (language en, Gopher, C4, FineWeb) -> MinHash dedup -> ablate, with arms `raw`
(everything extracted) and `dedup` (filtered and deduplicated), each `--tokens` tokens of the
tiny GPT, `--seeds` seeds.

    make .venv/share/debian/.fetched   # the pinned Debian packages (make bench fetches them)
    python -m bench.ablate_real [--tokens 2000000] [--seeds 3] [--run-dir runs/ablate-real]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
from pathlib import Path

from warcio.warcwriter import WARCWriter

from samples.debian_docs import Page, _record, _sites, build
from samples.shared_data import SHARED_DATA
from samples.site import OTHER_LANGUAGES, page_html
from samples.web_junk import junk_pages

ROOT = Path(__file__).resolve().parent.parent
DEBS = ROOT / ".venv" / "share" / "debian"
EVAL = [
    SHARED_DATA / "books" / "pg9198_complete-angler_ascii.txt.gz",
    SHARED_DATA / "books" / "pg972_devils-dictionary.txt.gz",
]


def noise_warc(path: Path, spam: int, cities: int) -> dict[str, int]:
    """Mirror copies of a seeded fifth of the Debian pages, and the generated junk, as a WARC."""
    rng = random.Random(7)
    pages = [p for site in _sites(DEBS).values() for p in site if p.status.startswith("200")]
    html = [p for p in pages if p.content_type.startswith("text/html")]
    copies = [
        Page(p.url.replace("https://", "https://mirror.example.org/"), p.body)
        for p in rng.sample(html, len(html) // 5)
    ]
    junk = [
        Page(f"https://deals.example.com/{name}", data.encode())
        for name, data in sorted(junk_pages(page_html, OTHER_LANGUAGES, spam, cities).items())
    ]
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for page in copies + junk:
        writer.write_record(_record(writer, page))
    path.write_bytes(buf.getvalue())
    return {"mirror_copies": len(copies), "junk_pages": len(junk)}


def config(run_input: Path, tokens: int, seeds: int) -> str:
    return f"""name: ablate-real
stages:
  - stage: extract_web
    name: web
    paths: ["{run_input}/*.warc.gz"]
  - stage: extract_forum
    name: forums
    paths: ["{SHARED_DATA}/forums/datascience-se_Posts.xml.gz"]
    site: https://datascience.stackexchange.com
  - stage: extract_social
    name: social
    paths: ["{SHARED_DATA}/social/*.zst", "{SHARED_DATA}/social/*.jsonl.gz"]
  - stage: filter
    input: [web, forums, social]
    language: {{keep: [en], min_score: 0.65}}
    gopher_quality: {{}}
    gopher_repetition: {{}}
    c4: {{curly_braces: false}}
    fineweb: {{}}
  - stage: dedup
    threshold: 0.8
  - stage: ablate
    arms: [raw=web+forums+social, dedup]
    eval: [{", ".join(f'"{e}"' for e in EVAL)}]
    tokens: {tokens}
    seeds: {seeds}
    vocab_size: 8192
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2_000_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--spam", type=int, default=1500, help="generated shop pages")
    parser.add_argument("--cities", type=int, default=200, help="copies of the course page")
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "ablate-real")
    parser.add_argument("--executor", default="ray")
    args = parser.parse_args(argv)
    if not (DEBS / ".fetched").is_file():
        sys.exit(f"no Debian packages in {DEBS}: run `make {DEBS}/.fetched` first")
    run_input = args.run_dir.with_name(args.run_dir.name + "-input")
    if not run_input.is_dir():
        run_input.mkdir(parents=True)
        pages = build(DEBS, run_input)
        pages.update(noise_warc(run_input / "noise.warc.gz", args.spam, args.cities))
        print(f"corpus: {json.dumps(pages)}", file=sys.stderr)
    path = run_input / "pipeline.yaml"
    path.write_text(config(run_input, args.tokens, args.seeds))
    cmd = [sys.executable, "-m", "pipelines.cli", "run", path, "--run-dir", args.run_dir]
    subprocess.run([*map(str, cmd), "--executor", args.executor], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
