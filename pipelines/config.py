"""Pipeline configs: a YAML file naming stages and their parameters, checked on load.

```yaml
name: demo
stages:
  - stage: import_jsonl          # a registered stage type, or module:Class
    paths: [data/*.jsonl.zst]    # every other key is a parameter of that stage type
  - stage: length_filter
    name: filter                 # the stage's folder in the run (default: its type)
    min_words: 50                # input: defaults to the closest earlier non-sink stage
```
`input:` may list several stages (`input: [web, books, forums]`): the stage reads all their parts.
A source stage reads `paths`, or with `input: crawl` the files an earlier crawl stage wrote.
Every error names the file and the key, in one line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from corpus import storage
from corpus.dataset import MANIFEST_NAME
from pipelines.params import ConfigError, parse_params
from pipelines.stages import FilesStage, SourceStage, Stage, stage_class

TOP_KEYS = ("name", "description", "stages")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
RESERVED_NAMES = {"report"}


@dataclass
class StageSpec:
    """One stage of a pipeline, as its config gives it."""

    index: int
    name: str
    cls: type[Stage]
    params: object  # an instance of cls.Params
    # what it reads: earlier stages' names (str) and dataset folders outside the run (Path);
    # for a source stage, an earlier stage that writes files (a crawl), or nothing (its paths)
    inputs: list[str | Path] = dataclasses.field(default_factory=list)

    @property
    def params_dict(self) -> dict:
        return dataclasses.asdict(self.params)


@dataclass
class PipelineSpec:
    path: Path
    name: str
    description: str
    stages: list[StageSpec]


def read_yaml(path: Path) -> object:
    """The YAML document in `path`; a missing or malformed file is a one-line ConfigError."""
    if not path.is_file():
        raise ConfigError(f"no such config file: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML ({problem}{where})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Read and check a pipeline config; raise ConfigError naming the file and key."""
    path = Path(path)
    doc = read_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: must be a mapping with a 'stages' list")
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(f"{path}: unknown key '{key}' (known keys: {', '.join(TOP_KEYS)})")
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(f"{path}: name must be lowercase letters, digits, - or _, got {name!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{path}: description must be a string")
    raw_stages = doc.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise ConfigError(f"{path}: stages must be a non-empty list")
    stages: list[StageSpec] = []
    for i, raw in enumerate(raw_stages):
        stages.append(_stage_spec(path, i, raw, stages))
    return PipelineSpec(path=path, name=name, description=description, stages=stages)


def _stage_spec(path: Path, index: int, raw: object, earlier: list[StageSpec]) -> StageSpec:
    where = f"{path}: stages[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with a 'stage' key")
    raw = dict(raw)
    type_name = raw.pop("stage", None)
    if not isinstance(type_name, str):
        raise ConfigError(f"{where}: missing 'stage' (the stage type to run)")
    try:
        cls = stage_class(type_name)
    except ConfigError as exc:
        raise ConfigError(f"{where}.stage: {exc}") from None
    name = raw.pop("name", type_name)
    if not isinstance(name, str) or not NAME_RE.match(name) or name in RESERVED_NAMES:
        raise ConfigError(
            f"{where}.name must be lowercase letters, digits, - or _ (not 'report'), got {name!r}"
        )
    if any(s.name == name for s in earlier):
        raise ConfigError(f"{where}.name: another stage is already called '{name}'")
    input_ref = raw.pop("input", None)
    params = parse_params(cls.Params, raw, where)
    cls.check_refs(params, {s.name: s.cls.type_name for s in earlier}, where)
    spec = StageSpec(index=index, name=name, cls=cls, params=params)
    if issubclass(cls, SourceStage):
        _resolve_source(spec, input_ref, earlier, where)
    elif issubclass(cls, FilesStage):
        if input_ref is not None:
            raise ConfigError(f"{where}.input: a {type_name} stage reads no other stage")
    else:
        reads = cls.reads(params)
        if reads is not None:
            if input_ref is not None:
                raise ConfigError(
                    f"{where}.input: a {type_name} stage reads the stages its parameters name"
                )
            input_ref = reads
        _resolve_input(spec, input_ref, earlier, where)
    return spec


def _resolve_source(spec: StageSpec, ref: object, earlier: list[StageSpec], where: str) -> None:
    paths = getattr(spec.params, "paths", None)
    if ref is None:
        if not paths:
            raise ConfigError(f"{where}: needs paths (the files to read) or input (a crawl stage)")
        try:
            spec.cls(spec.params).input_files()
        except ConfigError as exc:
            raise ConfigError(f"{where}.paths: {exc}") from None
        return
    writers = [s.name for s in earlier if issubclass(s.cls, FilesStage)]
    if ref not in writers:
        known = f"; those are: {', '.join(writers)}" if writers else ""
        raise ConfigError(
            f"{where}.input: a source stage reads files; '{ref}' is not an earlier stage that "
            f"writes files (such as crawl){known}"
        )
    if paths:
        raise ConfigError(f"{where}: give paths or input, not both")
    spec.inputs = [ref]


def _resolve_input(spec: StageSpec, ref: object, earlier: list[StageSpec], where: str) -> None:
    producers = [s for s in earlier if s.cls.produces_documents]
    if ref is None:
        if not producers:
            raise ConfigError(f"{where}: needs an input; put a source stage before it or set input")
        spec.inputs = [producers[-1].name]
        return
    refs = ref if isinstance(ref, list) else [ref]
    if not refs:
        raise ConfigError(f"{where}.input must name at least one stage or dataset folder")
    for one in refs:
        if not isinstance(one, str):
            raise ConfigError(
                f"{where}.input must be a stage name, a dataset folder or a list of them, "
                f"got {one!r}"
            )
        if any(s.name == one for s in producers):
            spec.inputs.append(one)
        elif storage.is_file(Path(one) / MANIFEST_NAME):
            spec.inputs.append(storage.absolute(one))
        else:
            raise ConfigError(
                f"{where}.input: '{one}' is neither an earlier stage nor a dataset folder"
            )
    if len(set(spec.inputs)) < len(spec.inputs):
        raise ConfigError(f"{where}.input names the same input twice")
