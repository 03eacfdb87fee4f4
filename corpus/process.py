"""Ending a command-line process once its work is done and its output is flushed; the peak
memory of one task in a worker process.

Native thread pools can abort a finished Python process while the interpreter tears down:
`std::terminate` from a still-joinable thread ("terminate called without an active
exception", exit -6). Arrow's are known to (apache/arrow#34314), and it hit `corpus trace` and a
`torchrun` rank here after every line had been printed and every file closed. Our commands
close what they open themselves (files, Ray, process groups), so they leave with `os._exit`
and skip the static destructors.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from typing import NoReturn


def exit_process(code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process with `code` at once."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe needs no flush
            stream.flush()
    os._exit(code)


def reset_peak_rss() -> None:
    """Start this process's memory high-water mark again from its present size, so that a
    worker that runs task after task measures each task's own peak (Linux; where the kernel
    does not allow it, the mark stays the process's peak so far, an upper bound)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> int | None:
    """This process's memory high-water mark (resident set, MB) since `reset_peak_rss`; None
    where the system does not say."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def release_memory() -> None:
    """Hand memory freed by a finished task back to the system: Arrow's pool keeps what it
    freed, and so does glibc's malloc (numpy's arrays), so a long-lived worker would otherwise
    start its next task, and its measured peak, from the last task's high-water mark."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
