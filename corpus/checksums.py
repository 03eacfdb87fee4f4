"""SHA-256 checksums of bytes and files, as manifests and commit records give them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from corpus import storage


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """The checksum of a file, local or on an object store."""
    return storage.sha256(path)


def stamp(path: str | Path) -> dict:
    """A file's size and modification time, recorded next to its checksum when it is committed."""
    found = storage.stat(path)
    if found is None:
        raise FileNotFoundError(f"{storage.show(path)}: not found")
    return {"bytes": found[0], "mtime_ns": found[1]}


def committed(path: str | Path, sha256: str, recorded: dict) -> dict:
    """What a commit record says of the file at `path`: its checksum and its `stamp`."""
    return {**recorded, "sha256": sha256, **stamp(path)}


def check_file(path: str | Path, entry: dict) -> str | None:
    """None if the file at `path` is still the one `entry` (with `sha256`, and `bytes` and
    `mtime_ns` when recorded) describes, else what is wrong with it.

    A file of the recorded size and time is taken as it is, without reading it: checking a run
    for reuse costs one stat per file, not a pass over its bytes. Readers check the checksum of
    every part they read, so a file changed behind our back is still caught there. A file whose
    time differs (touched, copied, or changed) is read and checked now, and so is one recorded
    with `"durable": False` (an intermediate file not flushed to disk, which a power loss could
    leave at its size but without its bytes)."""
    found = storage.stat(path)
    if found is None:
        return "is missing"
    size, mtime_ns = found
    if "bytes" in entry and size != entry["bytes"]:
        return f"has changed size ({size:,} bytes, not {entry['bytes']:,})"
    # an object store's PUT is durable once it returns
    durable = entry.get("durable", True) or storage.is_remote(path)
    if durable and entry.get("mtime_ns") == mtime_ns:
        return None
    return None if sha256_file(path) == entry["sha256"] else "fails its checksum"
