"""`make demo`: generate the bundled sample, serve its web site on 127.0.0.1 while
configs/demo.yaml runs on it (crawl to training), and say where the report is."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from corpus.process import exit_process
from pipelines.cli import main as corpus_main
from samples.demo import write_demo_sample
from samples.site_server import DemoSite

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"
INPUT = Path("runs/demo-input")
PORT = 8620  # the crawl stage's seed in configs/demo.yaml


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.run_demo")
    parser.add_argument("--config", type=Path, default=CONFIG, help="default: configs/demo.yaml")
    args, rest = parser.parse_known_args()  # the rest goes to `corpus run` (--executor local)
    written = write_demo_sample(INPUT)
    counts = ", ".join(f"{len(files)} {kind}" for kind, files in written.items())
    print(f"sample: {counts} files in {INPUT}/", file=sys.stderr)
    try:
        site = DemoSite(INPUT / "site", port=PORT)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(
            f"demo: port {PORT} on 127.0.0.1 is in use; the demo serves its sample site there "
            "for the crawl stage, so stop what holds it and run again",
            file=sys.stderr,
        )
        return 1
    with site:
        print(f"sample site: {site.base}/ (crawled by the crawl stage)", file=sys.stderr)
        return corpus_main(["run", str(args.config), "--run-dir", "runs/demo", *rest])


if __name__ == "__main__":
    exit_process(main())
