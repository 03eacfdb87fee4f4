"""Stage types, registered by name (as Dolma registers taggers); a config names them in `stage:`.

A stage type wraps a plain function from `corpus` or `filters` and declares its parameters as a
`Params` dataclass. These kinds exist:
- a files stage writes files that are not documents yet (a crawl's WARC files);
- a source reads input files into documents (one task per file, one or more parts per task);
- a map turns one part into kept and rejected rows (one task per part);
- a sink serializes each part into a fragment, then joins the fragments into its output files;
- a global stage sees the whole dataset at once (dedup, tokenizer, shards, training).
A stage outside this module is named by its import path, `package.module:ClassName`.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib
import itertools
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import pyarrow as pa

from corpus.compression import open_output
from corpus.sources.jsonl import read_jsonl, write_jsonl
from corpus.stage import StageResult
from filters.length import LengthThresholds, length_filter
from pipelines.params import ConfigError

REGISTRY: dict[str, type[Stage]] = {}


def register(name: str):
    """Class decorator: make a stage type available to configs under `name`."""

    def add(cls: type[Stage]) -> type[Stage]:
        cls.type_name = name
        REGISTRY[name] = cls
        return cls

    return add


def stage_class(name: str) -> type[Stage]:
    """The stage type registered as `name`, or imported from `module:Class`."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load stage '{name}': {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Stage)):
            raise ConfigError(f"'{name}' is not a stage class")
        cls.type_name = name
        return cls
    known = ", ".join(sorted(REGISTRY))
    raise ConfigError(f"unknown stage '{name}' (known stages: {known})")


class Stage:
    """A stage type: its parameters and its work on one unit of input."""

    kind: ClassVar[str]
    type_name: ClassVar[str] = ""
    version: ClassVar[int] = 1  # bump when the same parameters start giving different output
    produces_documents: ClassVar[bool] = True  # its `kept` dataset can feed the next stage

    @dataclass(frozen=True)
    class Params:
        pass

    def __init__(self, params):
        self.params = params

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        """Files whose content decides the output besides the input (a model, a word list), so
        that replacing one at the same path redoes the stage."""
        return []

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        """Check, when a pipeline config is loaded, parameters that name earlier stages
        (`earlier`: name -> stage type); raise ConfigError naming `where`."""

    @classmethod
    def bind(cls, params: dict, run_dir: Path) -> dict:
        """Parameters with references to other stages of a pipeline run resolved (a tokenizer
        named by its stage) as the stage runs, before its config hash is taken."""
        return params


class FilesStage(Stage):
    """Writes files rather than documents (a crawl's WARC files); a source stage whose `input`
    names it reads them. It resumes its own work: a killed crawl goes on from its WARC files."""

    kind = "files"
    produces_documents = False

    def make(self, out_dir: Path, executor, log) -> tuple[list[Path], dict]:
        """Do the work into `out_dir`; returns the files written (in a fixed order) and the
        stage's stats."""
        raise NotImplementedError

    def reset(self, out_dir: Path) -> None:
        """Remove what an earlier run under another config left in `out_dir`."""


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


class SourceStage(Stage):
    """Reads external files into documents."""

    kind = "source"
    scratch_dir: Path | None = None  # a task's private folder for spill files, set by the runner

    def input_files(self) -> list[Path]:
        """The files this source reads, in a fixed order."""
        raise NotImplementedError

    def input_root(self) -> Path | None:
        """The folder its files are named relative to in ids: from its `paths` patterns, if it
        has them (None: the deepest folder holding its files)."""
        return patterns_root(getattr(self.params, "paths", None) or [])

    def group_inputs(self, inputs: list[InputFile]) -> list[list[InputFile]]:
        """The inputs read together by one task. One file a task, unless a record's parts can
        sit in different files (a Reddit thread's submission and its comments)."""
        return [[one] for one in inputs]

    def read_group(self, inputs: list[InputFile]) -> Iterator[StageResult]:
        """The documents of one group of `group_inputs`, in batches; each becomes a part."""
        (one,) = inputs
        return self.read(one.path, one.name)

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        """The documents of one file (`name`: its identity in ids), in batches."""
        raise NotImplementedError


class MapStage(Stage):
    """Turns one part of documents into kept and rejected rows."""

    kind = "map"

    def process(self, table: pa.Table) -> StageResult:
        raise NotImplementedError


class GlobalStage(Stage):
    """Sees the whole input dataset at once (dedup): `drive` runs phases of tasks through a
    `pipelines.phases.PhaseDriver`, and `run_task` does one task of a phase on a worker."""

    kind = "global"
    output_datasets: ClassVar[tuple[str, ...]] = ("kept", "rejected")

    def drive(self, driver, tasks: list) -> tuple[list[dict], dict]:
        """Run every phase over the input parts `tasks`; returns the records of the tasks that
        wrote the output datasets, and the stage's stats."""
        raise NotImplementedError

    def run_task(self, phase: str, payload: dict, out) -> dict:
        """Do one task of `phase`, writing through `out`; returns its stats."""
        raise NotImplementedError

    def extra_inputs(self, tasks: list) -> dict[str, str]:
        """Inputs besides the parts (an index of earlier runs), name -> fingerprint."""
        return {}

    def unpublish(self, out_dir: Path) -> None:
        """Withdraw the files `publish` wrote (a manifest first), before the stage's work
        changes, so nothing downstream reads a half-updated output."""

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        """Publish outputs that are files rather than datasets (a tokenizer, token shards) from
        the records `drive` returned; returns every published file, whose checksums the stage
        record keeps so that a damaged or replaced one redoes the stage."""
        return []


class SinkStage(Stage):
    """Writes documents out of the dataset format."""

    kind = "sink"
    produces_documents = False

    def fragment(self, table: pa.Table, path: Path) -> None:
        """Write one part's share of the output to `path`."""
        raise NotImplementedError

    def outputs(self, out_dir: Path) -> list[Path]:
        """The files `finish` writes."""
        raise NotImplementedError

    def finish(self, fragments: list[Path], out_dir: Path) -> None:
        """Join the fragments, in part order, into the output files."""
        raise NotImplementedError


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


@register("import_jsonl")
class ImportJsonl(SourceStage):
    """Dolma-style JSONL documents (plain, .gz or .zst) into the Document record."""

    @dataclass(frozen=True)
    class Params:
        paths: list[str] = dataclasses.field(default_factory=list)
        source: Literal["web", "article", "book", "forum", "social"] = "web"
        part_rows: int = 100_000
        part_mb: int = 64
        max_doc_mb: int = 64

        def __post_init__(self):
            if min(self.part_rows, self.part_mb, self.max_doc_mb) < 1:
                raise ValueError("part_rows, part_mb and max_doc_mb must be at least 1")

    def input_files(self) -> list[Path]:
        return expand_paths(self.params.paths)

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        p = self.params
        return read_jsonl(
            path,
            name=name,
            default_source=p.source,
            max_doc_bytes=p.max_doc_mb << 20,
            part_rows=p.part_rows,
            part_bytes=p.part_mb << 20,
        )


@register("length_filter")
class LengthFilter(MapStage):
    """Drop documents with too few or too many characters or words."""

    @dataclass(frozen=True)
    class Params:
        min_chars: int = 0
        max_chars: int | None = None
        min_words: int = 0
        max_words: int | None = None

    def process(self, table: pa.Table) -> StageResult:
        p = self.params
        limits = LengthThresholds(p.min_chars, p.max_chars, p.min_words, p.max_words)
        return length_filter(table, limits)


@register("export_jsonl")
class ExportJsonl(SinkStage):
    """Documents as dolma-style JSON lines in one file, compressed by its suffix (.zst, .gz)."""

    @dataclass(frozen=True)
    class Params:
        path: str = "documents.jsonl.zst"  # relative to the stage's folder unless absolute

        def __post_init__(self):
            if not self.path.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")):
                raise ValueError(f"path must end in .jsonl, .jsonl.gz or .jsonl.zst: {self.path}")

    def fragment(self, table: pa.Table, path: Path) -> None:
        with open(path, "wb") as f:
            write_jsonl(table, f)

    def outputs(self, out_dir: Path) -> list[Path]:
        return [out_dir / self.params.path]

    def finish(self, fragments: list[Path], out_dir: Path) -> None:
        # one compressed stream, not concatenated frames: many zstd readers stop after one frame
        (target,) = self.outputs(out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{target.name}")  # keeps the suffix that picks compression
        with open_output(tmp) as out:
            for fragment in fragments:
                with open(fragment, "rb") as f:
                    while chunk := f.read(1 << 22):
                        out.write(chunk)
        tmp.replace(target)


def stage_params_doc(cls) -> list[tuple[str, str, object]]:
    """(name, type, default) for each parameter of a stage type (or a parameter group), for
    `corpus stages`."""
    params = getattr(cls, "Params", cls)
    hints = typing.get_type_hints(params)
    rows = []
    for f in dataclasses.fields(params):
        default = f.default
        if default is dataclasses.MISSING:
            factory = f.default_factory
            default = "(required)" if factory is dataclasses.MISSING else factory()
        rows.append((f.name, hints[f.name], default))
    return rows


# the extract_*, filter, dedup, tokenizer and shard stages register themselves on import
from pipelines import (  # noqa: E402, F401
    crawl_stage,
    dedup_stage,
    extract_stages,
    filter_stages,
    token_stages,
)
