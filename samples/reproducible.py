"""How every sample file is written: with fixed dates, and left alone when unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

EPOCH = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # dates in the sample are fixed, not "now"


def write_if_changed(path: Path, data: bytes) -> Path:
    """Write `path` unless it already holds `data`: an unchanged file keeps its mtime, so a
    re-run of the demo finds its inputs as they were and reuses its work."""
    if path.is_file() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
