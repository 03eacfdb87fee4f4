"""`make bench`: run every benchmark and print its ratios."""

from bench import executors, extract

if __name__ == "__main__":
    executors.main()
    extract.main()
