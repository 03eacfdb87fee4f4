"""Filter components by name, in the order they run (as Dolma registers taggers).

A component is one module declaring a `filters.spec.FilterSpec`; adding one is that module plus
one `register` line here. The filter config (`filters.chain.FilterConfig`) has a parameter group
per registered component, and a document's drop reason is the first rule it breaks in this order.
"""

from __future__ import annotations

import importlib

from filters.spec import FilterSpec

FILTERS: dict[str, FilterSpec] = {}


def register(spec: FilterSpec | str) -> None:
    """Add a component, given as its spec or as `module:NAME`, to run after those before it."""
    if isinstance(spec, str):
        module, _, name = spec.partition(":")
        spec = getattr(importlib.import_module(module), name)
    if spec.name in FILTERS:
        raise ValueError(f"a filter named '{spec.name}' is registered already")
    FILTERS[spec.name] = spec


register("filters.langid:LANGUAGE")
register("filters.gopher:GOPHER_REPETITION")
register("filters.gopher:GOPHER_QUALITY")
register("filters.c4:C4")
register("filters.fineweb:FINEWEB")
register("filters.wordlist:TOXIC_WORDS")
register("filters.classify:TOXICITY")
register("filters.classify:QUALITY")
register("filters.pii:PII")  # last: it redacts the text every other component saw
