"""`python -m pipelines.cli`: the `corpus` command."""

from pipelines.cli import entry

entry()
