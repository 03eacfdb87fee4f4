"""`make bench`: run every benchmark and print its ratios."""

from bench import executors

if __name__ == "__main__":
    executors.main()
