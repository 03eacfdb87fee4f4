"""Progress of a stage: a bar redrawn in place on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts a stage's tasks and documents as their commit records arrive."""

    def __init__(self, stage: str, stream: TextIO | None = None, interval_s: float = 5.0):
        self.stage = stage
        self.total = self.done = self.docs = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval_s = interval_s
        self.start = self.last = time.monotonic()

    def begin(self, total: int, reused: int) -> None:
        """Start counting: `total` tasks, of which `reused` are already committed."""
        self.total, self.done = total, reused
        self.start = self.last = time.monotonic()
        if reused < total and not self.tty:
            self.stream.write(f"[{self.stage}] {total - reused} of {total} parts to do\n")

    def __call__(self, record: dict) -> None:
        self.done += 1
        self.docs += record.get("stats", {}).get("docs_in", 0)
        now = time.monotonic()
        if self.tty:
            self._draw(now, end="")
        elif now - self.last >= self.interval_s or self.done == self.total:
            self._draw(now, end="\n")
            self.last = now

    def _draw(self, now: float, end: str) -> None:
        rate = self.docs / max(now - self.start, 1e-9)
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = f"[{self.stage}] {bar} {self.done}/{self.total} parts, {rate:,.0f} docs/s"
        prefix = "\r\033[K" if self.tty else ""
        self.stream.write(prefix + line + end)
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
