"""`make bench`: run every benchmark and print its ratios."""

from bench import dedup, executors, extract, filters, posts_xml, shards, trainer

if __name__ == "__main__":
    executors.main()
    extract.main()
    posts_xml.main([])
    filters.main()
    dedup.main()
    shards.main([])
    trainer.main([])
