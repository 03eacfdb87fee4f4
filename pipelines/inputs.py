"""A source stage's input files: glob patterns expanded, and each file's name in document ids."""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import os
import re
import typing
from pathlib import Path

from corpus import storage
from corpus.dataset import write_json_atomic
from corpus.errors import DatasetError
from pipelines.params import ConfigError


class InputFile(typing.NamedTuple):
    """One input file of a source stage and its identity in document ids: the path relative to
    the stage's inputs (`a/Posts.xml`, `b/Posts.xml`), so two files that share a base name
    never give the same ids. A big file is read as byte ranges `[start, end)` by several tasks;
    each range starts at a line, `first_line` its number in the file."""

    path: Path
    name: str
    start: int = 0
    end: int | None = None  # None: to the end of the file
    first_line: int = 1

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


SCAN_BLOCK = 16 << 20


def input_stat(path: Path) -> tuple[int, int]:
    """An input file's size and time; a missing one is a DatasetError naming it."""
    found = storage.stat(path)
    if found is None:
        raise DatasetError(f"{storage.show(path)}: input file is missing")
    return found


def input_bytes(inputs: typing.Iterable[InputFile]) -> int:
    """The bytes a source task reads: its files, or their ranges."""
    return sum((one.end or input_stat(one.path)[0]) - one.start for one in inputs)


def line_ranges(one: InputFile, every: int, cache_dir: Path | None = None) -> list[InputFile]:
    """`one` as ranges of about `every` bytes, each starting at a line, with the number of that
    line. Finding them reads the file once (counting newlines, at memory speed); `cache_dir`
    keeps the answer for the same file (path, size and time), so a re-run does not read it."""
    size, mtime_ns = storage.stat(one.path)
    if size <= every:
        return [one]
    key = hashlib.sha256(f"{one.path}|{size}|{mtime_ns}|{every}".encode()).hexdigest()
    cached = cache_dir / f"ranges-{key[:24]}.json" if cache_dir else None
    if cached and storage.is_file(cached):
        bounds = json.loads(storage.read_text(cached))
    else:
        bounds = _line_bounds(one.path, size, every)
        if cached:
            storage.makedirs(cached.parent)
            write_json_atomic(cached, bounds)
    out = []
    for (start, line), (end, _) in zip(bounds, [*bounds[1:], (None, None)], strict=True):
        out.append(InputFile(one.path, one.name, start, end, line))
    return out


def _line_bounds(path: Path, size: int, every: int) -> list[list[int]]:
    """[offset, line number] of the first line at or after each multiple of `every` (a line
    longer than `every` makes one range longer; memory is one block, however long the line)."""
    bounds, lines, offset = [[0, 1]], 0, 0
    target = every
    with storage.open_input(path) as f:  # local, or ranged reads of an object
        while target < size:
            start = _next_line(f, target, size)  # a line starts at `target` if the byte
            if start >= size:  # before it ends one
                break
            f.seek(offset)
            while offset < start:  # count the newlines before `start`
                block = f.read(min(SCAN_BLOCK, start - offset))
                lines += block.count(b"\n")
                offset += len(block)
            bounds.append([start, lines + 1])
            target = (start // every + 1) * every
    return bounds


def _next_line(f, target: int, size: int) -> int:
    """The offset of the first line that starts at or after `target`."""
    f.seek(target - 1)
    while block := f.read(SCAN_BLOCK):
        at = block.find(b"\n")
        if at >= 0:
            return f.tell() - len(block) + at + 1
    return size


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
    if len({storage.is_remote(b) for b in bases}) > 1:
        raise ConfigError("paths mix local files and object-store URIs; give one source stage each")
    return Path(os.path.commonpath([str(storage.absolute(b)) for b in bases])) if bases else None


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files named by paths or glob patterns (sorted per pattern); a missing one is an error."""
    files: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern) and storage.is_remote(pattern):
            matches = _remote_matches(pattern)
            if not matches:
                raise ConfigError(f"no file matches '{pattern}'")
            files.extend(matches)
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            matches = [p for p in matches if p.is_file()]
            if not matches:
                raise ConfigError(f"no file matches '{pattern}'")
            files.extend(matches)
        else:
            path = Path(pattern)
            if not storage.is_file(path):
                raise ConfigError(f"no such file: {pattern}")
            files.append(path)
    return [storage.absolute(p) for p in files]


def _remote_matches(pattern: str) -> list[Path]:
    """The objects that a glob pattern on a store matches (`*` within a name, `**` across)."""
    parts = Path(pattern).parts
    fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), parts))
    regex = re.compile(_glob_regex(str(Path(pattern))))
    return [p for p in storage.walk_files(Path(*fixed)) if regex.fullmatch(str(p))]


def _glob_regex(pattern: str) -> str:
    """A regular expression for a glob pattern: `**/` any folders, `*` and `?` within a name,
    `[...]` a set."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
