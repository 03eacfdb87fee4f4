"""`make bench`: run every benchmark and print its ratios."""

from bench import (
    ablate,
    dedup,
    e2e,
    executors,
    extract,
    filters,
    posts_xml,
    scale,
    shards,
    storage,
    subdoc,
    trainer,
)

if __name__ == "__main__":
    executors.main()
    extract.main()
    e2e.main([])  # against datatrove, in its own venv; Debian's documentation as WARC
    posts_xml.main([])
    filters.main()
    dedup.main()
    subdoc.main([])  # line and paragraph dedup: planted boilerplate, speed against exact
    shards.main([])
    trainer.main([])
    ablate.main([])  # the ablation's cost in training runs; decontamination's speed
    storage.main([])  # the same pipeline on an S3 server and on local disk
    scale.main(["--docs", "50000", "400000", "3200000"])  # about 50 minutes on 2 cores
    scale.main(["--pipeline", "lines", "--docs", "400000", "3200000"])  # about 10 minutes
