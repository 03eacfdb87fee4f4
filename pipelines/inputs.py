"""A source stage's input files: glob patterns expanded, and each file's name in document ids."""

from __future__ import annotations

import glob
import itertools
import os
import typing
from pathlib import Path

from pipelines.params import ConfigError


class InputFile(typing.NamedTuple):
    """One input file of a source stage and its identity in document ids: the path relative to
    the stage's inputs (`a/Posts.xml`, `b/Posts.xml`), so two files that share a base name
    never give the same ids."""

    path: Path
    name: str


def input_names(paths: list[Path], root: Path | None = None) -> list[str]:
    """Each path relative to `root`, or where a path is not below it, to the deepest folder
    holding them all (a lone file: its base name)."""
    if not paths:
        return []
    if root is None or not all(p.is_relative_to(root) for p in paths):
        root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return [p.relative_to(root).as_posix() for p in paths]


def patterns_root(patterns: list[str]) -> Path | None:
    """The folder that input names are relative to: the deepest one holding the fixed part of
    every glob pattern (`data` of `data/*/Posts.xml`) and every named file's folder. Names then
    stay the same when more files come to match a pattern."""
    bases = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            parts = Path(pattern).parts
            fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), parts))
            bases.append(Path(*fixed) if fixed else Path("."))
        else:
            bases.append(Path(pattern).parent)
    return Path(os.path.commonpath([str(b.resolve()) for b in bases])) if bases else None


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files named by paths or glob patterns (sorted per pattern); a missing one is an error."""
    files: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            matches = [p for p in matches if p.is_file()]
            if not matches:
                raise ConfigError(f"no file matches '{pattern}'")
            files.extend(matches)
        else:
            path = Path(pattern)
            if not path.is_file():
                raise ConfigError(f"no such file: {pattern}")
            files.append(path)
    return [p.resolve() for p in files]
