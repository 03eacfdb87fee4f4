"""What every `corpus` command shares: its parser, argument types, executor options, log lines."""

from __future__ import annotations

import argparse
import sys


class CommandParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.subcommands: dict[str, CommandParser] = {}

    def error(self, message: str):  # one line, then the usage, exit 2 (argparse's convention)
        self.exit(2, f"{self.prog}: error: {message}\n")

    def add_subcommand(self, name: str, **kwargs) -> CommandParser:
        """A parser for `PROG NAME ...`, taken when NAME comes first: argparse's subparsers cannot
        share the first place with a positional (`corpus shard DATASET`, `corpus shard inspect
        DIR`), so a dataset folder named like a subcommand is given as ./NAME."""
        self.subcommands[name] = CommandParser(prog=f"{self.prog} {name}", **kwargs)
        return self.subcommands[name]

    def parse_known_args(self, args=None, namespace=None):
        if args and args[0] in self.subcommands:  # its own errors, under its own name
            return self.subcommands[args[0]].parse_args(args[1:], namespace), []
        return super().parse_known_args(args, namespace)


def whole(minimum: int):
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive, non_negative = whole(1), whole(0)


def byte_size(text: str) -> int:
    """A size in bytes, with an optional K, M, G or T suffix (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"must be a size such as 500M or 2G, got {text!r}") from None
    if value < 1:
        raise ValueError(f"must be at least 1 byte, got {text!r}")
    return int(value)


def size_argument(text: str) -> int:
    """An argparse type: `byte_size`, its complaint shown as it is."""
    try:
        return byte_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor",
        choices=("ray", "local"),
        default="ray",
        help="ray (default: embedded local Ray, or a cluster with --address) or local",
    )
    p.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else local)")
    p.add_argument("--workers", type=positive, help="parallel tasks (default: all CPUs)")
    p.add_argument(
        "--task-memory",
        type=size_argument,
        metavar="SIZE",
        help="memory each Ray task declares, e.g. 4G (default: 2G); a node runs no more tasks "
        "than its memory holds",
    )


def log(line: str) -> None:
    """A progress or summary line, on stderr so that stdout holds only the command's output."""
    print(line, file=sys.stderr, flush=True)
