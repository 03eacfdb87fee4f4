"""Skipping where the real test data (../shared/data) is missing: the check behind conftest's
`shared_data` marker, for the fixtures and tests that call it themselves."""

from __future__ import annotations

import pytest

from samples.shared_data import SHARED_DATA

SHARED_DATA_MISSING = (
    "not found (set CORPUS_SHARED_DATA=/path/to/shared/data, or clone the shared data beside "
    "the checkout as ../shared)"
)


def require_shared_data() -> None:
    """Skip the test (or the fixture, and so every test that uses it) where the shared data is
    not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_DATA_MISSING)
