"""Stack Exchange `Posts.xml`: MB/s at 10 MB and at 1 GB, which must be the same (issue 18).

The files are made of the 624 real rows of ../shared/data/forums/datascience-se_Posts.xml.gz,
repeated with new ids (Id, ParentId and AcceptedAnswerId shifted together, so every copy is a
set of whole threads). Two things are timed at each size: the row scanner alone (`scan_rows`,
bytes to row elements) and the whole reader (`read_posts_xml`: scan, parse, spill to SQLite,
threads, HTML to text). Goal: large/small MB/s ratio ~1.0x for both.

    python -m bench.posts_xml [--small-mb 10] [--large-mb 1024] [--scanner-only]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from corpus.sources.stackexchange import read_posts_xml, scan_rows
from samples.posts_xml import MB, POSTS, real_rows, write_repeated_posts_xml


def time_scanner(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    with open(path, "rb") as f:
        rows = sum(1 for _ in scan_rows(f, 16 * MB))
    return time.perf_counter() - start, rows


def time_reader(path: Path, scratch: Path) -> tuple[float, int]:
    start = time.perf_counter()
    docs = sum(r.kept.num_rows for r in read_posts_xml(path, scratch_dir=scratch))
    return time.perf_counter() - start, docs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.posts_xml")
    parser.add_argument("--small-mb", type=int, default=10)
    parser.add_argument("--large-mb", type=int, default=1024)
    parser.add_argument("--scanner-only", action="store_true", help="skip the whole reader")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the small file (best)")
    args = parser.parse_args(argv)
    if not POSTS.exists():
        raise SystemExit(f"bench posts_xml needs {POSTS}")
    rows = real_rows()
    print(f"posts_xml: {len(rows)} real rows repeated with new ids")
    timers = [("scanner", time_scanner)]
    if not args.scanner_only:
        timers.append(("reader", lambda p: time_reader(p, p.parent)))
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        speeds: dict[str, dict[str, float]] = {name: {} for name, _ in timers}
        for label, size_mb, repeats in (
            ("small", args.small_mb, args.repeats),
            ("large", args.large_mb, 1),
        ):
            path = Path(tmp) / f"Posts-{size_mb}mb.xml"
            mb = write_repeated_posts_xml(path, rows, size_mb)
            for name, timer in timers:
                runs = [timer(path) for _ in range(repeats)]
                seconds, count = min(runs)
                speeds[name][label] = mb / seconds
                unit = "rows" if name == "scanner" else "threads"
                print(
                    f"  {name:7s} {mb:7.1f} MB: {seconds:7.2f} s  {mb / seconds:6.1f} MB/s"
                    f"  ({count} {unit})"
                )
            path.unlink()
    for name, _ in timers:
        ratio = speeds[name]["large"] / speeds[name]["small"]
        print(f"  {name}: large/small MB/s = {ratio:.2f}x   (goal ~1.0x)")


if __name__ == "__main__":
    main()
