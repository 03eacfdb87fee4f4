"""What a filter component is: its parameters, its scoring function and its threshold rules.

Each filter module declares one `FilterSpec`; `filters.registry` lists them in the order they
run. The filter config gets one parameter group per spec, named as the spec (`gopher_quality:`),
and the report draws each rule's threshold on its score column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from filters.rules import Rule


def no_rules(params: Any) -> list[Rule]:
    """The rules of a component that drops nothing (PII redaction)."""
    return []


@dataclass(frozen=True)
class FilterSpec:
    """One filter component, as the filter stage runs it and the report reads it."""

    name: str  # its parameter group in a filter config
    params: type  # its parameters, a frozen dataclass
    score: Callable  # (documents, params) -> Scored: score columns and each document's reason
    rules: Callable[[Any], list[Rule]] = no_rules  # the threshold rules `score` decides by
    on_by_default: bool = True  # else it runs only when a config names its group
    file_params: tuple[str, ...] = ()  # parameters naming files (models, word lists): hashed
    takes: Literal["docs", "texts"] = "docs"  # `score` gets `filters.text.Doc`s, or plain texts
    identifies_language: bool = False  # `score` returns (Scored, languages): the `lang` column
    rewrites_rejected: bool = False  # its rewritten texts replace rejected documents' too
