"""Stage types, registered by name (as Dolma registers taggers); a config names them in `stage:`.

A stage type wraps a plain function from `corpus` or `filters` and declares its parameters as a
`Params` dataclass. These kinds exist:
- a files stage writes files that are not documents yet (a crawl's WARC files);
- a source reads input files into documents (one task per file, one or more parts per task);
- a map turns one part into kept and rejected rows (one task per part);
- a sink serializes each part into a fragment, then joins the fragments into its output files;
- a global stage sees the whole dataset at once (dedup, tokenizer, shards, training).
A source may also run in phases, as a global stage does, when its inputs ask for a shuffle (a big
Posts.xml read as byte ranges: a thread's posts meet across ranges).
Built-in stages are listed in `BUILTIN`, each in a file of its own; a stage outside them is named
by its import path, `package.module:ClassName`.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from corpus import storage
from corpus.stage import StageResult
from filters.rules import Rule
from pipelines.inputs import InputFile, line_ranges, patterns_root
from pipelines.params import ConfigError

# Every built-in stage type: its name in configs, and where its class lives. Adding a stage is one
# file holding its class plus one line here; the module is imported when the stage is first used.
BUILTIN = {
    "crawl": "pipelines.crawl_stage:Crawl",
    "import_jsonl": "pipelines.import_stage:ImportJsonl",
    "extract_web": "pipelines.extract_stages:ExtractWeb",
    "extract_article": "pipelines.extract_stages:ExtractArticle",
    "extract_book": "pipelines.extract_stages:ExtractBook",
    "extract_forum": "pipelines.extract_stages:ExtractForum",
    "extract_social": "pipelines.extract_stages:ExtractSocial",
    "length_filter": "pipelines.length_stage:LengthFilter",
    "filter": "pipelines.filter_stage:Filter",
    "dedup": "pipelines.dedup.stage:Dedup",
    "decontaminate": "pipelines.decontam_stage:Decontaminate",
    "tokenizer": "pipelines.tokenizer_stage:TrainTokenizer",
    "shard": "pipelines.shard_stage:Shard",
    "train": "pipelines.train_stage:Train",
    "ablate": "pipelines.ablate_stage:Ablate",
    "export_jsonl": "pipelines.export_stage:ExportJsonl",
}


class Registry(Mapping[str, "type[Stage]"]):
    """Stage types by name, each imported from its `module:Class` when first looked up."""

    def __init__(self, targets: dict[str, str]):
        self.targets = dict(targets)
        self.loaded: dict[str, type[Stage]] = {}

    def __getitem__(self, name: str) -> type[Stage]:
        if name not in self.loaded:
            self.loaded[name] = load_stage(self.targets[name], name)
        return self.loaded[name]

    def __iter__(self):
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)


def load_stage(target: str, name: str) -> type[Stage]:
    """The Stage subclass at `module:Class`, named `name` in configs and config hashes."""
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load stage '{name}': {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise ConfigError(f"'{name}' is not a stage class")
    cls.type_name = name
    return cls


REGISTRY = Registry(BUILTIN)


def stage_class(name: str) -> type[Stage]:
    """The stage type registered as `name`, or imported from `module:Class`."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        return load_stage(name, name)
    known = ", ".join(sorted(REGISTRY))
    raise ConfigError(f"unknown stage '{name}' (known stages: {known})")


class Stage:
    """A stage type: its parameters and its work on one unit of input."""

    kind: ClassVar[str]
    type_name: ClassVar[str] = ""
    version: ClassVar[int] = 1  # bump when the same parameters start giving different output
    produces_documents: ClassVar[bool] = True  # its `kept` dataset can feed the next stage
    # parameters that say how the work is done, not what it gives (trainings at once): left out
    # of the config hash, so changing one redoes nothing
    unhashed: ClassVar[tuple[str, ...]] = ()

    @dataclass(frozen=True)
    class Params:
        pass

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a built-in stage has its config name however its class was imported
        target = f"{cls.__module__}:{cls.__qualname__}"
        cls.type_name = next((n for n, t in BUILTIN.items() if t == target), "")

    def __init__(self, params):
        self.params = params

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        """Files whose content decides the output besides the input (a model, a word list), so
        that replacing one at the same path redoes the stage."""
        return []

    @classmethod
    def rules(cls, params) -> list[Rule]:
        """The threshold rules it drops documents by under `params` (an instance of `Params`),
        each naming its parameter as a config writes it; the report draws them."""
        return []

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        """Check, when a pipeline config is loaded, parameters that name earlier stages
        (`earlier`: name -> stage type); raise ConfigError naming `where`."""

    @classmethod
    def reads(cls, params) -> list[str] | None:
        """The earlier stages it reads, when its parameters name them (an ablation's arms);
        None: those its `input` names."""
        return None

    @classmethod
    def summary(cls, out_dir: Path) -> str | None:
        """Lines for the terminal once it has run (an ablation's table), from its outputs."""
        return None

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

    def split_bytes(self, path: Path) -> int | None:
        """Read `path` as line-aligned byte ranges of about this many bytes, one task each, when
        it is larger; None (the default) reads every file whole."""
        return None

    def ranges(self, one: InputFile, every: int, cache_dir: Path | None) -> list[InputFile]:
        """`one` as the ranges of `split_bytes`: lines, unless the format has its own records."""
        return line_ranges(one, every, cache_dir)

    def read_group(self, inputs: list[InputFile]) -> Iterator[StageResult]:
        """The documents of one group of `group_inputs`, in batches; each becomes a part."""
        (one,) = inputs
        return self.read(one.path, one.name)

    def read(self, path: Path, name: str) -> Iterator[StageResult]:
        """The documents of one file (`name`: its identity in ids), in batches."""
        raise NotImplementedError

    def phased(self, tasks: list) -> bool:
        """Whether these tasks run in phases (`Phased`) rather than one task per group."""
        return False

    @contextmanager
    def reading(self, key: str, inputs, state_dir: Path) -> Iterator[list[InputFile]]:
        """`inputs` as task `key` reads them, with `scratch_dir` set for its spill files: a
        whole file on an object store is read from this node's copy (its name in ids stays the
        same; a byte range of one is read by ranged requests). The copies and the scratch
        folder go when the task is done."""
        inputs, fetched = list(inputs), []
        try:
            for k, one in enumerate(inputs):
                if one.whole and storage.is_remote(one.path):
                    fetched.append(storage.local_copy(one.path))
                    inputs[k] = one._replace(path=fetched[-1])
            if storage.is_remote(state_dir):  # on this node's disk, never on the store
                scratch = storage.scratch_dir(key)
            else:  # inside the run, where a re-run clears what a killed one left
                scratch = Path(state_dir) / "scratch" / key
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir(parents=True)
            self.scratch_dir = scratch
            try:
                yield inputs
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        finally:
            for copy in fetched:  # a node does not keep a copy of every input it ever read
                copy.unlink(missing_ok=True)


class MapStage(Stage):
    """Turns one part of documents into kept and rejected rows."""

    kind = "map"

    def process(self, table: pa.Table) -> StageResult:
        raise NotImplementedError


class Phased:
    """A stage that runs as phases of tasks through a `pipelines.phases.PhaseDriver`: `drive`
    runs the phases, and `run_task` does one task of a phase on a worker, given the phase's
    payload dataclass."""

    output_datasets: ClassVar[tuple[str, ...]] = ("kept", "rejected")

    def drive(self, driver, tasks: list) -> tuple[list[dict], dict]:
        """Run every phase over the stage's tasks; returns the records of the tasks that
        wrote the output datasets, and the stage's stats."""
        raise NotImplementedError

    def run_task(self, phase: str, payload, out) -> dict:
        """Do one task of `phase` (`payload`: that phase's dataclass), writing through `out`;
        returns its stats."""
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


class GlobalStage(Phased, Stage):
    """Sees the whole input dataset at once (dedup, tokenizer, shards, training), in phases
    over the input parts."""

    kind = "global"


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

    def finish(self, fragments: list[Path], out_dir: Path) -> dict[Path, str] | None:
        """Join the fragments, in part order, into the output files; may return their SHA-256s
        (so that a file put on an object store is not read back to checksum it)."""
        raise NotImplementedError
