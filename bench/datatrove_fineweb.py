"""datatrove's FineWeb pipeline on local WARC files: the baseline of `bench/e2e.py`.

Run by the Python of datatrove's own virtual environment (it imports nothing of ours), as its
`examples/fineweb.py` builds it: WarcReader -> Trafilatura(favour_precision) -> LanguageFilter
-> Gopher repetition and quality -> C4 -> FineWeb quality -> JSONL, then its four MinHash stages
(signatures, buckets, clusters, filter) -> JSONL. The URL filter is left out on both sides: its
tldextract would look for the public suffix list online. The language model is fastText's
lid.176 read from a local file (the one our side uses), not downloaded.

    python bench/datatrove_fineweb.py WARC_DIR OUT_DIR --workers 2 --lid-model PATH

Prints one JSON line: the seconds of each half and the documents written.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warcs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lid-model", required=True)
    parser.add_argument("--language-threshold", type=float, default=0.65)
    args = parser.parse_args()
    os.environ["HF_HOME"] = str(args.out / "hf")  # before huggingface_hub is imported

    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.io import cached_assets_path, strip_protocol
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.lid import FT176LID

    # its model where datatrove looks before downloading (HF_HOME is the run's own folder),
    # with the marker of a finished download
    folder = cached_assets_path(
        library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER
    )
    local = Path(folder) / strip_protocol(FT176LID.MODEL_URL).replace("/", "_")
    shutil.copyfile(args.lid_model, local)
    Path(f"{local}.completed").touch()
    files = sorted(args.warcs.glob("*.warc.gz"))
    out, logs = args.out, args.out / "logs"
    start = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=[
            WarcReader(str(args.warcs), glob_pattern="*.warc.gz"),
            Trafilatura(favour_precision=True),
            LanguageFilter(languages=["en"], language_threshold=args.language_threshold),
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(filter_no_terminal_punct=False),
            FineWebQualityFilter(),
            JsonlWriter(str(out / "filtered")),
        ],
        tasks=len(files),
        workers=args.workers,
        logging_dir=str(logs / "base"),
    ).run()
    filtered_s = time.perf_counter() - start

    config = MinhashConfig(
        hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8
    )
    tasks = len(files)
    stages = [
        (
            [
                JsonlReader(str(out / "filtered")),
                MinhashDedupSignature(output_folder=str(out / "sigs"), config=config),
            ],
            tasks,
        ),
        (
            [
                MinhashDedupBuckets(
                    input_folder=str(out / "sigs"),
                    output_folder=str(out / "buckets"),
                    config=config,
                )
            ],
            config.num_buckets,
        ),
        (
            [
                MinhashDedupCluster(
                    input_folder=str(out / "buckets"),
                    output_folder=str(out / "remove_ids"),
                    config=config,
                )
            ],
            1,
        ),
        (
            [
                JsonlReader(str(out / "filtered")),
                MinhashDedupFilter(input_folder=str(out / "remove_ids")),
                JsonlWriter(str(out / "deduped")),
            ],
            tasks,
        ),
    ]
    for i, (pipeline, n) in enumerate(stages):
        LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=n,
            workers=min(args.workers, n),
            logging_dir=str(logs / f"minhash{i}"),
        ).run()
    total_s = time.perf_counter() - start
    urls = []
    for path in sorted((out / "deduped").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            urls += [json.loads(line)["metadata"]["url"] for line in f]
    print(json.dumps({"filter_s": filtered_s, "total_s": total_s, "urls": sorted(urls)}))


if __name__ == "__main__":
    main()
