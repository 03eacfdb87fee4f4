"""Where a run's files live: a local folder or an object store, behind one set of operations.

A location is a local path or a URI (`s3://bucket/prefix`, or any scheme pyarrow's filesystems
know). Code composes locations as `pathlib.Path`s, which write `s3://b/k` as `s3:/b/k`; every
operation here reads both spellings. An object store is reached through pyarrow's filesystem
for the URI, configured by the standard environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`).

An object is written by one PUT, which a reader sees whole or not at all, so a write to a store
needs no temporary name; nothing here renames on a store, where rename is a copy. What a
library must read or write as a local file (a memory-mapped token file, a tokenizer's input)
goes through `local_copy` and `upload`, by way of the node's cache folder (`CORPUS_CACHE`, by
default a folder in the system's temporary folder): node-local, never shared, and never the
source of truth.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from corpus.errors import CorpusError, CorruptPartError

_URI = re.compile(r"^([a-z][a-z0-9+.-]+):/+(.*)$")
_CHUNK = 8 << 20
_FILESYSTEMS: dict[str, object] = {}  # one pyarrow filesystem per bucket and endpoint


class StorageError(CorpusError):
    """Storage that cannot be reached or refuses us; the message names the location."""


class StorageNotFound(StorageError, FileNotFoundError):
    """No object at a location: a FileNotFoundError to callers that handle one, and one line
    to the command line when none does."""


def uri(location) -> str | None:
    """The location's URI (`s3://bucket/key`) if it is on an object store, else None."""
    m = _URI.match(str(location))
    if not m or m.group(1) == "file":
        return None
    return f"{m.group(1)}://{m.group(2)}".rstrip("/")


def is_remote(location) -> bool:
    return uri(location) is not None


def show(location) -> str:
    """The location as a user wrote it: a URI with its two slashes, or the path."""
    return uri(location) or str(location)


def absolute(location) -> Path:
    """An absolute form of a location, fit to send to a worker that runs elsewhere."""
    return Path(location) if is_remote(location) else Path(location).resolve()


# what reaches an object store, passed from the driver to its tasks (Ray workers need not have
# been started with it); each node's cache folder (CORPUS_CACHE) is its own, never passed on
ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
)


def environment() -> dict[str, str]:
    """The storage settings of this process's environment, for its tasks."""
    return {k: os.environ[k] for k in ENVIRONMENT if k in os.environ}


def _fs(location):
    """(filesystem, its path of the object) for a remote location."""
    u = uri(location)
    scheme, rest = u.split("://", 1)
    root = f"{scheme}://{rest.split('/', 1)[0]}"
    key = f"{root}|{_store_tag()}"  # the environment names the endpoint: one client for each
    if key not in _FILESYSTEMS:
        from pyarrow import fs as pafs

        try:
            _FILESYSTEMS[key] = pafs.FileSystem.from_uri(root)[0]
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise StorageError(f"{u}: cannot open the store ({_reason(exc)})") from None
    return _FILESYSTEMS[key], rest


def _reason(exc: Exception) -> str:
    """pyarrow's message for a failed call, on one line and without request ids."""
    text = " ".join(str(exc).split())
    text = re.sub(r"\s*\(Request ID: [^)]*\)", "", text)
    return text[:300]


def _fail(location, exc: Exception, doing: str):
    if isinstance(exc, FileNotFoundError):
        raise StorageNotFound(f"{show(location)}: not found") from None
    if isinstance(exc, OSError) and exc.errno is not None:
        raise exc  # this machine's own disk (full, gone): not the store's doing
    raise StorageError(f"{show(location)}: cannot {doing} ({_reason(exc)})") from None


def _info(location):
    fs, path = _fs(location)
    try:
        return fs.get_file_info(path)
    except OSError as exc:
        _fail(location, exc, "read its metadata")


# --- metadata ---------------------------------------------------------------------------------


def stat(location) -> tuple[int, int] | None:
    """(size, mtime_ns) of the file at `location`, or None if there is none. On an object store
    the time is the object's last-modified time (whole seconds on S3)."""
    if not is_remote(location):
        try:
            st = os.stat(location)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size, st.st_mtime_ns
    from pyarrow import fs as pafs

    info = _info(location)
    if info.type != pafs.FileType.File:
        return None
    return info.size, info.mtime_ns or 0


def is_file(location) -> bool:
    return stat(location) is not None


def is_dir(location) -> bool:
    if not is_remote(location):
        return Path(location).is_dir()
    from pyarrow import fs as pafs

    return _info(location).type == pafs.FileType.Directory


def listdir(location) -> list[str]:
    """The names directly under a folder (files and folders), sorted; none if it is missing."""
    if not is_remote(location):
        try:
            return sorted(p.name for p in Path(location).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []
    from pyarrow import fs as pafs

    fs, path = _fs(location)
    try:
        found = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except OSError as exc:
        _fail(location, exc, "list it")
    return sorted(i.base_name for i in found)


def walk_files(location) -> list[Path]:
    """Every file under a folder, at any depth, sorted (remote ones as `Path`s of their URI)."""
    if not is_remote(location):
        return sorted(p for p in Path(location).rglob("*") if p.is_file())
    from pyarrow import fs as pafs

    fs, path = _fs(location)
    try:
        found = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except OSError as exc:
        _fail(location, exc, "list it")
    scheme = uri(location).split("://", 1)[0]
    return sorted(Path(f"{scheme}://{i.path}") for i in found if i.type == pafs.FileType.File)


def makedirs(location) -> None:
    """Make a folder and its parents; an object store has none to make."""
    if not is_remote(location):
        Path(location).mkdir(parents=True, exist_ok=True)


def unlink(location) -> None:
    """Remove a file if it is there."""
    if not is_remote(location):
        Path(location).unlink(missing_ok=True)
        return
    fs, path = _fs(location)
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        _fail(location, exc, "delete it")


def rmtree(location) -> None:
    """Remove a folder and all under it, if it is there."""
    if not is_remote(location):
        shutil.rmtree(location, ignore_errors=True)
        return
    fs, path = _fs(location)
    try:
        fs.delete_dir_contents(path, missing_dir_ok=True)
    except OSError as exc:
        _fail(location, exc, "delete it")


# --- bytes ------------------------------------------------------------------------------------


def read_bytes(location) -> bytes:
    """The file's bytes; FileNotFoundError if there is none."""
    if not is_remote(location):
        return Path(location).read_bytes()
    fs, path = _fs(location)
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except OSError as exc:
        _fail(location, exc, "read it")


def read_text(location) -> str:
    return read_bytes(location).decode("utf-8")


def write_bytes(location, data: bytes, durable: bool = True) -> None:
    """Write `data` so that readers see either nothing or the whole file. Locally that is a
    temporary name renamed into place (`durable` flushes it to disk first, against power loss);
    on a store, one PUT."""
    if is_remote(location):
        fs, path = _fs(location)
        try:
            with fs.open_output_stream(path) as f:
                f.write(data)
        except OSError as exc:
            _fail(location, exc, "write it")
        return
    path = Path(location)
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def open_input(location):
    """A file to read at random offsets (a Parquet footer, then one row group's pages)."""
    if not is_remote(location):
        import pyarrow as pa

        return pa.OSFile(str(location))  # read by Arrow itself, not through Python
    fs, path = _fs(location)
    try:
        return fs.open_input_file(path)
    except OSError as exc:
        _fail(location, exc, "read it")


def parquet_metadata(location):
    """The footer of the Parquet file at `location` (row count, schema, key-value metadata),
    read without the rest of the file."""
    import pyarrow.parquet as pq

    with open_input(location) as source:
        return pq.read_metadata(source)


def sha256(location) -> str:
    digest = hashlib.sha256()
    if not is_remote(location):
        with open(location, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    fs, path = _fs(location)
    try:
        with fs.open_input_stream(path) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        _fail(location, exc, "read it")
    return digest.hexdigest()


# --- local files for libraries that need them --------------------------------------------------


def node_cache() -> Path:
    """This node's cache folder: `CORPUS_CACHE`, or `corpus-cache` in the temporary folder."""
    return Path(os.environ.get("CORPUS_CACHE") or Path(tempfile.gettempdir()) / "corpus-cache")


def scratch_dir(prefix: str) -> Path:
    """A new private folder in the node's cache, for a task's spill files; the caller removes
    it. Never inside the run: on a store that would cost a round trip per write."""
    root = node_cache() / "scratch"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root))


def _store_tag() -> str:
    """Names the store this process reaches (its endpoint), so that the same bucket name on two
    stores never shares a cached copy."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:10]


def local_path(location) -> Path:
    """Where a remote file is kept on this node (a local location is its own)."""
    u = uri(location)
    if u is None:
        return Path(location)
    scheme, rest = u.split("://", 1)
    return node_cache() / "objects" / scheme / _store_tag() / rest


def location_of(path: Path) -> Path:
    """The inverse of `local_path`: the remote location a file in the node's cache stands for,
    or the path itself."""
    try:
        rest = Path(path).relative_to(node_cache() / "objects")
    except ValueError:
        return Path(path)
    scheme, _tag, *key = rest.parts
    return Path(f"{scheme}://{'/'.join(key)}")


def local_copy(location, sha256_hex: str | None = None) -> Path:
    """A local file with the bytes at `location`: itself if it is local, else this node's copy
    in its cache. A copy is fetched again unless it has the object's size and time (which it
    carries as its own modification time); a fetched copy is checked against `sha256_hex`."""
    if not is_remote(location):
        return Path(location)
    target = local_path(location)
    found = stat(location)
    if found is None:
        raise StorageNotFound(f"{show(location)}: not found")
    size, mtime_ns = found
    try:
        st = target.stat()
        same = st.st_size == size and st.st_mtime_ns == mtime_ns
        # the store's times are whole seconds: where the bytes matter, they are checked too
        if same and (sha256_hex is None or sha256(target) == sha256_hex):
            return target
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(target)
    fs, path = _fs(location)
    digest = hashlib.sha256()
    try:
        with fs.open_input_stream(path) as src, open(tmp, "wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
        if sha256_hex is not None and digest.hexdigest() != sha256_hex:
            raise CorruptPartError(
                f"{show(location)}: checksum mismatch (expected sha256 {sha256_hex[:12]}…, "
                f"the store has {digest.hexdigest()[:12]}…); the file was changed"
            )
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, target)
    except OSError as exc:
        _fail(location, exc, "read it")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def upload(source: Path, location) -> None:
    """Put the local file `source` at `location` whole and remove it (a local `location`: rename
    it there)."""
    if not is_remote(location):
        if Path(source) != Path(location):
            os.replace(source, location)
        return
    fs, path = _fs(location)
    try:
        with open(source, "rb") as src, fs.open_output_stream(path) as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
    except OSError as exc:
        _fail(location, exc, "write it")
    Path(source).unlink()


def staging_path(location) -> Path:
    """Where to write a file bound for `location` before it is put there with `upload`: beside
    it under a temporary name when local, in the node's cache when remote."""
    if not is_remote(location):
        return _temporary(Path(location))
    target = local_path(location)
    target.parent.mkdir(parents=True, exist_ok=True)
    return _temporary(target)


def _temporary(path: Path) -> Path:
    """A hidden name beside `path` that no other process or call writes."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
