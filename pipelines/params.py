"""Stage parameters as dataclasses, checked against what a config or the command line gives.

Each stage declares a `Params` dataclass; its type hints are the schema. Errors name the file and
the key: `configs/demo.yaml: stages[1].min_chars must be an integer, got 'ten'`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from corpus.errors import CorpusError


class ConfigError(CorpusError):
    """A config or argument that is malformed, names an unknown key, or has a wrong type."""


def parse_params(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    """Build the dataclass `cls` from `raw`, or raise ConfigError naming `where` and the key."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise ConfigError(f"{where}: unknown key '{key}' (known keys: {known})")
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = check_type(raw[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key '{name}'")
    try:
        return cls(**values)
    except ValueError as exc:  # a dataclass __post_init__ rejecting a combination of values
        raise ConfigError(f"{where}: {exc}") from None


def check_type(value: Any, hint: Any, where: str) -> Any:
    """Return `value` if it fits the type hint `hint` (ints are accepted as floats)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return check_type(value, option, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is Literal:
        if value in args:
            return value
        allowed = ", ".join(repr(a) for a in args)
        raise ConfigError(f"{where} must be one of {allowed}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return [check_type(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return {
            check_type(k, args[0], f"{where} key"): check_type(v, args[1], f"{where}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint):  # a nested group of parameters, e.g. one rule set
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return parse_params(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    raise TypeError(f"{where}: unsupported parameter type {hint!r}")


def describe_type(hint: Any) -> str:
    """A short human name for a parameter type, for `corpus stages`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe_type(a) for a in args)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin is list:
        return f"list of {describe_type(args[0])}"
    if dataclasses.is_dataclass(hint):
        return f"mapping ({', '.join(f.name for f in dataclasses.fields(hint))})"
    if origin is dict:
        return f"mapping of {describe_type(args[0])} to {describe_type(args[1])}"
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))
