"""Ending a command-line process once its work is done and its output is flushed.

Native thread pools can abort a finished Python process while the interpreter tears down:
`std::terminate` from a still-joinable thread ("terminate called without an active
exception", exit -6). Arrow's are known to (apache/arrow#34314), and it hit `corpus trace` and a
`torchrun` rank here after every line had been printed and every file closed. Our commands
close what they open themselves (files, Ray, process groups), so they leave with `os._exit`
and skip the static destructors.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def exit_process(code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process with `code` at once."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe needs no flush
            stream.flush()
    os._exit(code)
