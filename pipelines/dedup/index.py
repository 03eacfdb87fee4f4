"""An index of earlier dedup runs, so a new dataset is deduplicated against them (`--index DIR`).

DIR/_index.json records the settings that make keys comparable (mode, permutations, shingle size,
bands and rows, seed); a run with other settings is refused. Each run adds one segment,
DIR/segments/<id>/, named by a hash of its input: per input part, the band keys of every document
(`.keys.parquet`), its signatures when pairs are verified (`.sig.parquet`), and each document's id
and standing (`.docs.parquet`: kept documents outrank the duplicates they removed, and both
outrank new documents). A new run reads every segment but its own, so a repeated run gives the
same result; a segment is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

from corpus import storage
from corpus.checksums import sha256_file
from corpus.dataset import write_json_atomic
from corpus.errors import CorpusError
from pipelines.params import ConfigError

FORMAT = "corpus.dedup-index/1"
KEPT_SCORE = float("inf")  # an earlier run's representative wins every cluster it is in
DROPPED_SCORE = 1e300  # then the duplicates it removed, before any new document


def index_settings(params) -> dict:
    bands, rows = params.banding() if params.mode == "minhash" else (1, 0)
    settings = {"format": FORMAT, "mode": params.mode}
    if params.mode == "minhash":
        settings.update(
            num_perm=params.num_perm,
            ngram=params.ngram,
            seed=params.seed,
            bands=bands,
            rows=rows,
            verify=params.verify,
            threshold=params.threshold,
        )
    return settings


def segment_id(tasks, params) -> str:
    doc = {"inputs": {t.key: t.fingerprint for t in tasks}, "settings": index_settings(params)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


class DedupIndex:
    def __init__(self, path: str | Path, params):
        if storage.is_remote(path):
            raise ConfigError(
                f"dedup index {storage.show(path)}: an index is locked and renamed into place, "
                "so it must be a local or shared folder, not on an object store"
            )
        self.path = Path(path)
        self.settings = index_settings(params)
        meta = self.path / "_index.json"
        if meta.is_file():
            try:
                found = json.loads(meta.read_text())
            except json.JSONDecodeError:
                raise CorpusError(f"{meta}: unreadable index record") from None
            if found != self.settings:
                names = set(found) | set(self.settings)
                differ = sorted(k for k in names if found.get(k) != self.settings.get(k))
                raise ConfigError(
                    f"index {self.path} was built with other settings ({', '.join(differ)}: "
                    f"{', '.join(f'{k}={found.get(k)!r}' for k in differ)}); "
                    "use the same settings or another index"
                )
        elif self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(f"{self.path} is not a dedup index (no _index.json) and not empty")

    def segments(self, exclude: str) -> list[dict]:
        """The committed segments other than `exclude`, by name; each with its folder."""
        out = []
        root = self.path / "segments"
        if not root.is_dir():
            return out
        for folder in sorted(root.iterdir()):
            record = folder / "_segment.json"
            if folder.name == exclude or folder.name.startswith(".") or not record.is_file():
                continue
            segment = json.loads(record.read_text())
            segment["dir"] = str(folder)
            segment["record_sha256"] = sha256_file(record)
            out.append(segment)
        return out

    def add(self, name: str, parts: list[dict[str, dict]]) -> None:
        """Commit segment `name`: for each input part, its files by kind ("keys", "sig", "docs"),
        each given as {"dir", "name", "sha256"}. Replaces an earlier segment of the same name."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            write_json_atomic(self.path / "_index.json", self.settings)
            root = self.path / "segments"
            root.mkdir(exist_ok=True)
            tmp = root / f".{name}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            listed = []
            for i, files in enumerate(parts):
                entry = {}
                for kind, f in files.items():
                    target = f"{i:06d}.{kind}.parquet"
                    (tmp / target).write_bytes(storage.read_bytes(Path(f["dir"]) / f["name"]))
                    if sha256_file(tmp / target) != f["sha256"]:
                        where = storage.show(Path(f["dir"]) / f["name"])
                        raise CorpusError(f"{where}: changed while being indexed")
                    entry[kind] = {"name": target, "sha256": f["sha256"]}
                listed.append(entry)
            write_json_atomic(tmp / "_segment.json", {"format": FORMAT, "parts": listed})
            final = root / name
            old = root / f".{name}.old-{os.getpid()}"
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
