"""Stack Exchange `Posts.xml`: MB/s at 10 MB and at 1 GB, which must be the same (issue 18).

The files are made of the 624 real rows of ../shared/data/forums/datascience-se_Posts.xml.gz,
repeated with new ids (Id, ParentId and AcceptedAnswerId shifted together, so every copy is a
set of whole threads). Two things are timed at each size: the row scanner alone (`scan_rows`,
bytes to row elements) and the whole reader (`read_posts_xml`: scan, parse, spill to SQLite,
threads, HTML to text). Goal: large/small MB/s ratio ~1.0x for both.

Then the `extract_forum` stage on 2 Ray workers over one plain file of `--stage-mb`, read whole
by one task (parts larger than the file) against byte ranges of 8 MB shuffled to thread tasks
(issue 21), alternating A B A B; both must give the same threads. Goal: ranges ~2x.

    python -m bench.posts_xml [--small-mb 10] [--large-mb 1024] [--scanner-only] [--stage-mb 96]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from corpus.dataset import Dataset
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
    parser.add_argument("--stage-mb", type=int, default=96, help="the stage's file (0: skip)")
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
    if args.stage_mb:
        time_ranges(rows, args.stage_mb)


def time_ranges(rows: list[bytes], size_mb: int) -> None:
    """The stage on 2 workers: one task for the whole file against byte ranges."""
    from bench.common import time_stage
    from pipelines.executors import RayExecutor
    from pipelines.extract_stages import ExtractForum
    from pipelines.runner import source_tasks

    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        path = Path(tmp) / "Posts.xml"
        mb = write_repeated_posts_xml(path, rows, size_mb)
        executor = RayExecutor(workers=2)
        sides = {"one task": size_mb + 64, "ranges": 8}  # part_mb
        best: dict[str, float] = {}
        counts = {}
        try:
            for _ in range(2):
                for side, part_mb in sides.items():
                    stage = ExtractForum(ExtractForum.Params(paths=[str(path)], part_mb=part_mb))
                    params = {"paths": [str(path)], "part_mb": part_mb}
                    tasks = source_tasks(stage)
                    out = Path(tmp) / side.replace(" ", "-")
                    seconds = time_stage(ExtractForum, params, tasks, executor, out, keep=True)
                    counts[side] = (len(tasks), Dataset(out / "kept").read_all(["id"]))
                    shutil.rmtree(out)
                    best[side] = min(best.get(side, seconds), seconds)
        finally:
            executor.close()
        assert counts["ranges"][1].equals(counts["one task"][1]), "ranges gave other threads"
        for side in sides:
            tasks, ids = counts[side]
            print(
                f"  stage   {mb:7.1f} MB, {side:8s} ({tasks:2d} read tasks): {best[side]:6.2f} s"
                f"  {mb / best[side]:5.1f} MB/s  ({ids.num_rows} threads)"
            )
        ratio = best["one task"] / best["ranges"]
        print(f"  stage: ranges/one task MB/s = {ratio:.2f}x on 2 workers   (goal ~2x)")


if __name__ == "__main__":
    main()
