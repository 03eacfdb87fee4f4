"""Filter components by name, in the order they run (as Dolma registers taggers).

A component is one module declaring a `filters.spec.FilterSpec`; adding one is that module plus
one `register` line here. The filter config (`filters.chain.FilterConfig`) has a parameter group
per registered component, and a document's drop reason is the first rule it breaks in this order.
"""

from __future__ import annotations

from filters.c4 import C4
from filters.classify import QUALITY, TOXICITY
from filters.fineweb import FINEWEB
from filters.gopher import GOPHER_QUALITY, GOPHER_REPETITION
from filters.langid import LANGUAGE
from filters.pii import PII
from filters.spec import FilterSpec
from filters.wordlist import TOXIC_WORDS

FILTERS: dict[str, FilterSpec] = {}


def register(spec: FilterSpec) -> None:
    """Add a component, to run after those registered before it."""
    if spec.name in FILTERS:
        raise ValueError(f"a filter named '{spec.name}' is registered already")
    FILTERS[spec.name] = spec


register(LANGUAGE)
register(GOPHER_REPETITION)
register(GOPHER_QUALITY)
register(C4)
register(FINEWEB)
register(TOXIC_WORDS)
register(TOXICITY)
register(QUALITY)
register(PII)  # last: it redacts the text every other component saw
