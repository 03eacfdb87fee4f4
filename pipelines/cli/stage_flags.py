"""A stage command's options, generated from the stage's `Params` dataclass: one `--field-name`
per field, its type from the type hint, its default from the dataclass and its help from the
field's `# comment`, so that nothing about a parameter is restated by hand."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from pipelines.params import ConfigError, parse_params

METAVARS = {int: "N", float: "X", str: "TEXT"}


@dataclass(frozen=True)
class Flag:
    """A field whose option is not the generated one: another name, a switch, a value parser."""

    name: str | None = None  # the option, e.g. "--delay" for delay_s
    negate: bool = False  # a switch that sets a bool field false, e.g. --ignore-robots
    parse: Callable[[str], Any] | None = None  # text to value; a ValueError is named by the option
    metavar: str | None = None


@dataclass(frozen=True)
class StageFlags:
    """The options of one stage command, made from its Params dataclass."""

    params: type
    flags: Mapping[str, Flag] = field(default_factory=dict)  # by field name
    omit: tuple[str, ...] = ()  # fields the command sets itself (input files, --out)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add an option for every field not omitted, and `--set KEY=VALUE`."""
        group = parser.add_argument_group("stage parameters (see `corpus stages`)")
        comments = field_comments(self.params)
        for name, hint, default in params_doc(self.params):
            if name in self.omit:
                continue
            flag = self.flags.get(name, Flag())
            note = "" if flag.negate or default in (None, []) else f"default: {_shown(default)}"
            if typing.get_origin(hint) is list:
                note = "repeatable"
            text = "; ".join(t for t in (comments.get(name, ""), note) if t)
            group.add_argument(
                _option(name, flag),
                dest=_dest(name),
                default=argparse.SUPPRESS,  # so a parameter not given keeps its Params default
                help=text.replace("%", "%%") or None,
                **_kind(name, hint, flag),
            )
        group.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="any of these parameters by name, its value as YAML (null: none)",
        )

    def parse(self, args: argparse.Namespace, where: str, **given) -> Any:
        """The Params from `--set`, then the options given, then what the command sets itself
        (`given`); a bad value is a ConfigError naming `where`."""
        raw = _set_values(args.set)
        if taken := sorted(raw.keys() & set(self.omit)):
            raise ConfigError(f"--set {taken[0]}: give it as the command's own argument")
        for name in (f.name for f in dataclasses.fields(self.params)):
            if name in self.omit or not hasattr(args, _dest(name)):
                continue
            value, flag = getattr(args, _dest(name)), self.flags.get(name, Flag())
            if flag.parse is not None:
                try:
                    value = flag.parse(value)
                except ValueError as exc:
                    raise ConfigError(f"{_option(name, flag)} {exc}") from None
            raw[name] = value
        return parse_params(self.params, {**raw, **given}, where)


def _option(name: str, flag: Flag) -> str:
    return flag.name or "--" + name.replace("_", "-")


def _dest(name: str) -> str:
    return f"params.{name}"  # apart from the command's own options (--out, --tokenizer)


def _kind(name: str, hint, flag: Flag) -> dict:
    """The add_argument keywords for a field of type `hint`."""
    if flag.negate:
        return {"action": "store_false"}
    if flag.parse is not None:
        return {"metavar": flag.metavar}
    options = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(options) == 1:
        (hint,) = options  # X | None: None is the default, or --set KEY=null
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(hint) is Literal:
        return {"choices": typing.get_args(hint), "type": type(typing.get_args(hint)[0])}
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return {"action": "append", "metavar": flag.metavar or "TEXT"}
    if hint in METAVARS:
        return {"type": hint, "metavar": flag.metavar or METAVARS[hint]}
    if dataclasses.is_dataclass(hint):  # a group, given as YAML: --prefilter '{languages: [en]}'
        return {"type": _yaml_mapping, "metavar": flag.metavar or "YAML"}
    raise TypeError(f"no option for parameter {name}: {hint!r}; give it a Flag with a parser")


def _yaml_mapping(text: str) -> dict:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a YAML mapping, got {text!r}")
    return value


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)  # as YAML writes it


def _set_values(items: list[str]) -> dict:
    raw: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        raw[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return raw


def params_doc(cls) -> list[tuple[str, Any, object]]:
    """(name, type, default) for each parameter of a stage type or a Params dataclass."""
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


def field_comments(cls: type) -> dict[str, str]:
    """Each field's `# comment` in the source of the dataclass `cls` or the base declaring it."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            comments.update(_declared_comments(klass))
    return comments


def _declared_comments(cls: type) -> dict[str, str]:
    """The comments of the fields `cls` declares itself: the one after a field, continued on the
    comment lines right below it; else the comment lines right above the field."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source to read, e.g. a class made at run time
        return {}
    lines: dict[int, tuple[str, bool]] = {}  # line -> (comment, whether it is alone on its line)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            alone = not tok.line[: tok.start[1]].strip()
            lines[tok.start[0]] = (tok.string.lstrip("#").strip(), alone)

    def alone(n: int) -> bool:
        return n in lines and lines[n][1]

    comments, claimed = {}, set()
    for stmt in ast.parse(source).body[0].body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        numbers = []
        if stmt.end_lineno in lines and not alone(stmt.end_lineno):
            numbers.append(stmt.end_lineno)
            while alone(numbers[-1] + 1):
                numbers.append(numbers[-1] + 1)
            claimed.update(numbers)
        else:
            n = stmt.lineno - 1
            while alone(n) and n not in claimed:
                numbers.insert(0, n)
                n -= 1
        if numbers:
            comments[stmt.target.id] = " ".join(lines[n][0] for n in numbers)
    return comments
