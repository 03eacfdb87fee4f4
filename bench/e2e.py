"""End to end against datatrove on the same WARC files of real pages, and what the early look at
each record (the `prefilter:` group) changes.

The pages are Debian's documentation sites (samples/debian_docs.py: 2,946 pages in 4 WARC files of
unequal size, about half of them English; the packages are fetched once by `make bench`).

1. Speed. Our pipeline, `corpus run` on Ray with 2 workers: extract_web with early language
   decisions (`prefilter: {languages: [en]}`) -> filter (language en at 0.65, Gopher repetition
   and quality, C4, FineWeb) -> MinHash dedup -> JSONL export. datatrove 0.10.1's FineWeb pipeline
   (bench/datatrove_fineweb.py, in its own virtual environment from the registry): the same
   steps, 2 workers. Alternated A B A B; pages per second of each (best of the repeats) and the
   ratio. Goal: ours >= 2x.
2. The kept set. Our pipeline with the early decisions off (extract everything, then filter):
   the documents kept with them on and off, and their symmetric difference. Goal: <= 1%.
3. `--calibrate`: the early language threshold. For each `min_keep_prob`, how many pages the
   early look drops, and how many of those the filter stage would have kept (from one run with
   the early decisions off, whose pages are all rendered and classified as the prefilter does).
4. Scaling: extraction alone on 1 and 2 workers, the big files read as record ranges. Goal:
   >= 1.8x.
5. Extraction quality: mean token F1 against gold text, on the 10 scrapinghub pages of
   ../shared/data and on the 239 pages of Git's manual whose AsciiDoc source ships beside them;
   ours (trafilatura through extract_html), datatrove's (trafilatura 1.11's extract with
   favour_precision, in its venv), and resiliparse's main-content rendering.

    python -m bench.e2e [--repeats 2] [--calibrate] [--skip-datatrove] [--part scaling]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

from warcio.archiveiterator import ArchiveIterator

from corpus.dataset import Dataset
from corpus.sources.common import Rejected, decode_bytes
from corpus.sources.html import extract_html
from corpus.sources.render import render_html
from corpus.sources.warc import read_warc
from filters.fasttext_models import default_lid_model
from filters.prefilter import Prefilter, PrefilterParams
from samples import debian_docs
from samples.scoring import token_f1
from samples.shared_data import SHARED_DATA

SCRAPINGHUB = SHARED_DATA / "html" / "scrapinghub"

ROOT = Path(__file__).resolve().parent.parent
DEBS = ROOT / ".venv" / "share" / "debian"
DATATROVE_VENV = ROOT / ".venv" / "share" / "datatrove-venv"
DATATROVE = ["datatrove[io,processing]==0.10.1", "spacy==3.8.18", "lxml_html_clean==0.4.6",
             "aiohttp", "requests"]  # fmt: skip
LANGUAGE_SCORE = 0.65  # the filter stage's, and datatrove's LanguageFilter default


def ensure_datatrove() -> Path:
    python = DATATROVE_VENV / "bin" / "python"
    stamp = DATATROVE_VENV / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DATATROVE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE], check=True)
        stamp.touch()
    return python


def config(warcs: Path, path: Path, prefilter: str | None, stages: str = "all") -> Path:
    early = f"    prefilter: {prefilter}\n" if prefilter else ""
    text = f"""
name: e2e
stages:
  - stage: extract_web
    name: extract
    paths: ["{warcs}/*.warc.gz"]
    range_mb: 0.5  # ~37 tasks: the files are 1.4 to 7.5 MB
{early}"""
    if stages == "all":
        text += f"""  - stage: filter
    name: quality
    language: {{keep: [en], min_score: {LANGUAGE_SCORE}}}
    c4: {{terminal_punct: false}}  # datatrove's FineWeb example: filter_no_terminal_punct=False
  - stage: dedup
  - stage: export_jsonl
    name: export
    path: documents.jsonl.zst
"""
    path.write_text(text)
    return path


def run_ours(cfg: Path, run_dir: Path, workers: int = 2) -> float:
    cmd = [sys.executable, "-m", "pipelines.cli", "run", str(cfg), "--run-dir", str(run_dir)]
    cmd += ["--workers", str(workers)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"corpus run failed: {proc.stderr[-2000:]}")
    return elapsed


def kept_urls(run_dir: Path, stage: str = "dedup") -> set[str]:
    return set(Dataset(run_dir / stage / "kept").read_all().column("url").to_pylist())


def run_datatrove(python: Path, warcs: Path, out: Path) -> tuple[float, set[str]]:
    script = ROOT / "bench" / "datatrove_fineweb.py"
    cmd = [str(python), str(script), str(warcs), str(out), "--workers", "2"]
    cmd += ["--lid-model", str(default_lid_model()), "--language-threshold", str(LANGUAGE_SCORE)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"datatrove failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return elapsed, set(result["urls"])


def count_pages(warcs: Path) -> int:
    """Response records: the pages both sides read."""
    n = 0
    for path in sorted(warcs.glob("*.warc.gz")):
        with open(path, "rb") as f:
            n += sum(r.rec_type == "response" for r in ArchiveIterator(f))
    return n


def speed(warcs: Path, work: Path, repeats: int, prefilter: str, datatrove: bool) -> None:
    pages = count_pages(warcs)
    cfg = config(warcs, work / "early.yaml", prefilter)
    python = ensure_datatrove() if datatrove else None
    ours, theirs = [], []
    dt_urls: set[str] = set()
    for i in range(repeats):
        ours.append(run_ours(cfg, work / f"ours-{i}"))
        if python is not None:
            seconds, dt_urls = run_datatrove(python, warcs, work / f"datatrove-{i}")
            theirs.append(seconds)
    early = kept_urls(work / "ours-0")
    files = len(list(warcs.glob("*.warc.gz")))
    print(f"e2e: {pages:,} pages (response records) in {files} WARC files, 2 workers")
    print(
        f"  ours (early decisions on)  : {min(ours):6.1f} s  {pages / min(ours):6.1f} pages/s  "
        f"(runs: {', '.join(f'{s:.1f}' for s in ours)}); kept {len(early):,}"
    )
    if theirs:
        print(
            f"  datatrove 0.10.1 FineWeb   : {min(theirs):6.1f} s  "
            f"{pages / min(theirs):6.1f} pages/s  "
            f"(runs: {', '.join(f'{s:.1f}' for s in theirs)}); kept {len(dt_urls):,}"
        )
        print(f"  ratio ours / datatrove: {min(theirs) / min(ours):.2f}x   (goal >= 2x)")
    late_s = run_ours(config(warcs, work / "late.yaml", None), work / "late")
    late = kept_urls(work / "late")
    diff = early ^ late
    print(f"  ours, early decisions off  : {late_s:6.1f} s; kept {len(late):,}")
    print(
        f"  kept set, on vs off: {len(early):,} vs {len(late):,}; symmetric difference "
        f"{len(diff)} ({len(diff) / max(len(late), 1):.2%}; goal <= 1%)"
    )
    for url in sorted(diff)[:10]:
        print(f"    {'only on ' if url in early else 'only off'}: {url}")  # fmt: skip


def calibrate(warcs: Path, work: Path) -> None:
    """Each page's early language and score (the prefilter's own, at threshold 0), against what
    the filter stage did to it with the early decisions off."""
    run_ours(config(warcs, work / "late.yaml", None), work / "late")
    survived = kept_urls(work / "late", "quality")
    early = Prefilter(PrefilterParams(languages=["en"], min_keep_prob=1.0))

    def look(*record):  # never extract: only the early decision is wanted
        return early.check(*record) or Rejected("not_early")

    seen = []
    for path in sorted(warcs.glob("*.warc.gz")):
        for result in read_warc(path, prefilter=look):
            for row in result.rejected.to_pylist():
                if row["reason"] == "language_keep (prefilter)":
                    meta = json.loads(row["meta"])
                    seen.append((meta["prefilter_keep_prob"], row["url"] in survived))
    print(
        f"calibrate: {len(seen):,} pages classified by the early look; "
        f"{len(survived):,} pages kept by the filter stage with the early decisions off"
    )
    print("  min_keep_prob  dropped early  of them kept by the filter stage (lost)")
    for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5):
        dropped = [kept for keep_prob, kept in seen if keep_prob < t]
        lost = sum(dropped) / max(len(survived), 1)
        print(f"  {t:13.3f}  {len(dropped):13,}  {sum(dropped):4} ({lost:.2%})")


def scaling(warcs: Path, work: Path, prefilter: str) -> None:
    """The extract stage's own wall time (from its report: Ray's start is not in it)."""
    cfg = config(warcs, work / "extract.yaml", prefilter, stages="extract")
    times = {}
    for workers in (1, 2):
        run_ours(cfg, work / f"extract-{workers}", workers=workers)
        report = json.loads((work / f"extract-{workers}" / "report" / "report.json").read_text())
        times[workers] = report["stages"][0]["wall_s"]
    print(
        f"  extract stage, early decisions on: 1 worker {times[1]:.1f} s, 2 workers "
        f"{times[2]:.1f} s: {times[1] / times[2]:.2f}x   (goal >= 1.8x)"
    )


def gold_sets() -> dict[str, list[tuple[str, bytes, str]]]:
    """(name, HTML, gold text) of each page with gold text: the scrapinghub articles, and Git's
    manual against the AsciiDoc it is made from."""
    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_text())
    scrapinghub = [
        (stem, gzip.decompress((SCRAPINGHUB / f"{stem}.html.gz").read_bytes()), gold["articleBody"])
        for stem, gold in sorted(truth.items())
    ]
    return {"scrapinghub (10)": scrapinghub, "git manual": debian_docs.gold_pairs(DEBS)}


DATATROVE_EXTRACT = """
import json, sys, trafilatura
for line in sys.stdin:
    html = json.loads(line)
    text = trafilatura.extract(
        html, favour_precision=True, include_comments=False, deduplicate=True
    )
    print(json.dumps(text or ""))
"""


def quality(datatrove: bool) -> None:
    print("extraction quality: mean token F1 against gold text")
    for name, pages in gold_sets().items():
        ours, fast = [], []
        for _, html, gold in pages:
            try:
                text = extract_html(html)["text"]
            except Rejected:
                text = ""
            ours.append(token_f1(text, gold))
            decoded, _ = decode_bytes(html, None, html=True)
            fast.append(token_f1(render_html(decoded).main, gold))
        line = f"  {name:18} {len(pages):4} pages: ours {mean(ours):.4f}, "
        line += f"resiliparse main {mean(fast):.4f}"
        if datatrove:
            html = "".join(
                json.dumps(decode_bytes(h, None, html=True)[0]) + "\n" for _, h, _ in pages
            )
            proc = subprocess.run(
                [str(ensure_datatrove()), "-c", DATATROVE_EXTRACT],
                input=html,
                capture_output=True,
                text=True,
                check=True,
            )
            texts = [json.loads(t) for t in proc.stdout.splitlines()]
            theirs = [token_f1(t, gold) for t, (_, _, gold) in zip(texts, pages, strict=True)]
            line += f", datatrove's trafilatura 1.11 {mean(theirs):.4f}"
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--min-keep-prob", type=float, default=None)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--skip-datatrove", action="store_true")
    parser.add_argument("--part", choices=["all", "quality", "speed", "scaling"], default="all")
    args = parser.parse_args(argv)
    debian_docs.fetch(DEBS)
    score = "" if args.min_keep_prob is None else f", min_keep_prob: {args.min_keep_prob}"
    prefilter = f"{{languages: [en]{score}}}"
    with tempfile.TemporaryDirectory(prefix="corpus-e2e-") as tmp:
        work = Path(tmp)
        warcs = work / "warcs"
        debian_docs.build(DEBS, warcs, cut=False)
        if args.calibrate:
            calibrate(warcs, work)
            return
        if args.part in ("all", "quality"):
            quality(not args.skip_datatrove)
        if args.part in ("all", "speed"):
            speed(warcs, work, args.repeats, prefilter, not args.skip_datatrove)
        if args.part in ("all", "scaling"):
            scaling(warcs, work, prefilter)


if __name__ == "__main__":
    main()
