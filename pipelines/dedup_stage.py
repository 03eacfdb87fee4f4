"""The `dedup` stage: exact, URL or MinHash LSH near-duplicate removal over a whole dataset.

Documents are numbered by position, gid = (part ordinal << 32) | row, so every number, cluster and
choice below depends on the input alone, never on the executor or the number of workers.

Phases (each a list of tasks on the executor; `pipelines/phases.py` commits and resumes them):
  ids        per part: hash each id, shuffle by hash        idcheck   per partition: repeated ids
  keys       per part: MinHash signatures and band keys (or the text / URL key), shuffled by key
  candidates per partition: documents sharing a (band, key) become candidate pairs
  verify1/2  per part: each pair's two signatures are brought together, and the pair is kept if
             its estimated Jaccard reaches the threshold (MinHash only)
  large/small per partition of nodes, repeated: large-star and small-star steps until every
             component is a star around its smallest document (`filters/dedup/graph.py`)
  labels     per partition: each document in a cluster gets its cluster (smallest member)
  members, reps  per cluster partition: the representative by the keep rule, the cluster's size
  final      per part: kept documents, rejected duplicates, and the cluster of every document
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.dataset import read_part_file
from corpus.errors import CorpusError
from corpus.schema import conform
from corpus.stage import decide, text_bytes
from filters.dedup.graph import large_star, small_star, star_labels, unique_pairs
from filters.dedup.keys import text_key, url_key
from filters.dedup.lsh import band_keys, bytes_key, mix64, optimal_bands
from filters.dedup.minhash import EMPTY, signatures
from pipelines.dedup_index import DROPPED_SCORE, KEPT_SCORE, DedupIndex, segment_id
from pipelines.phases import files_by_dest, read_files
from pipelines.stages import GlobalStage

ORD_SHIFT = 32
ROW_MASK = np.int64((1 << ORD_SHIFT) - 1)
ROWS_PER_PARTITION = 100_000  # documents per shuffle partition when `partitions` is not given
MAX_ROUNDS = 200

OK, DUPLICATE_ID, NO_KEY = 0, 1, 2
NO_KEY_COUNTER = {"minhash": "no_shingles", "exact": "empty_text", "url": "no_url"}


@dataclass(frozen=True)
class DedupParams:
    mode: Literal["minhash", "exact", "url"] = "minhash"
    threshold: float = 0.8  # MinHash: the Jaccard similarity of shingle sets that makes a pair
    num_perm: int = 128
    ngram: int = 5  # words per shingle (characters for scripts written without spaces)
    bands: int | None = None  # with rows; default: chosen from threshold and the weights
    rows: int | None = None
    false_positive_weight: float = 0.1  # low: candidates are verified, a miss is lost for good
    false_negative_weight: float = 0.9
    verify: bool = True  # keep a candidate pair only if its estimated Jaccard reaches threshold
    seed: int = 1  # of the MinHash permutations
    keep: Literal["longest", "first", "quality"] = "longest"  # each cluster's representative
    quality_column: str = "quality_score"  # keep: quality keeps the highest value here
    partitions: int | None = None  # shuffle partitions; default one per 100,000 documents and
    # at least two per worker
    index: str | None = None  # a folder of earlier runs' keys: dedup against them, add this run

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 2 or self.ngram < 1:
            raise ValueError("num_perm must be at least 2 and ngram at least 1")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is not None and (
            self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm
        ):
            raise ValueError(
                f"bands × rows must be at least 1 and at most num_perm ({self.num_perm}), "
                f"got {self.bands} × {self.rows}"
            )
        weights = (self.false_positive_weight, self.false_negative_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("the weights must be non-negative and not both zero")
        if self.partitions is not None and not 1 <= self.partitions <= 65_536:
            raise ValueError(f"partitions must be in 1..65536, got {self.partitions}")

    def banding(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return optimal_bands(
            self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight
        )


# --- helpers -----------------------------------------------------------------------------------


def gids(ordinal: int, n: int) -> np.ndarray:
    return (np.int64(ordinal) << np.int64(ORD_SHIFT)) + np.arange(n, dtype=np.int64)


def ordinal_of(gid: np.ndarray) -> np.ndarray:
    return gid >> np.int64(ORD_SHIFT)


def node_partition(node: np.ndarray, partitions: int) -> np.ndarray:
    return (mix64(node.astype(np.uint64)) % np.uint64(partitions)).astype(np.int64)


def write_split(out, table: pa.Table, target: np.ndarray, prefix: str) -> None:
    """Write the rows of `table` to destinations `prefix + str(target[i])`, in row order."""
    if table.num_rows == 0:
        return
    order = np.argsort(target, kind="stable")
    sorted_target = target[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_target[1:] != sorted_target[:-1])))
    ends = np.append(starts[1:], len(order))
    for s, e in zip(starts, ends, strict=True):
        out.write(f"{prefix}{int(sorted_target[s])}", table.take(pa.array(order[s:e])))


def write_edges(out, a: np.ndarray, b: np.ndarray, partitions: int, both: bool) -> None:
    """Edges (a, b) to the partitions of their first node; `both` adds (b, a)."""
    if both:
        a, b = np.concatenate([a, b]), np.concatenate([b, a])
    table = pa.table({"a": pa.array(a, pa.int64()), "b": pa.array(b, pa.int64())})
    write_split(out, table, node_partition(a, partitions), "p")


def edges_of(files: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    table = read_files(files)
    if table is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return table.column("a").to_numpy(), table.column("b").to_numpy()


def signature_table(rows: np.ndarray, sigs: np.ndarray, name: str) -> pa.Table:
    flat = pa.array(sigs.astype(np.uint32).ravel(), pa.uint32())
    return pa.table(
        {
            name: pa.array(rows, pa.int64()),
            "sig": pa.FixedSizeListArray.from_arrays(flat, sigs.shape[1]),
        }
    )


def signature_matrix(column, num_perm: int) -> np.ndarray:
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return values.flatten().to_numpy().reshape(-1, num_perm)


def _count(stats: dict, key: str, value: int) -> None:
    counters = stats.setdefault("counters", {})
    counters[key] = counters.get(key, 0) + int(value)


# --- the stage ---------------------------------------------------------------------------------


class Dedup(GlobalStage):
    """Exact, URL or MinHash LSH near-dedup; keeps one document per cluster, records clusters."""

    Params = DedupParams
    output_datasets = ("kept", "rejected", "clusters")

    # the driver ----------------------------------------------------------------------------

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        parts = [{"path": t.input_path, "sha256": t.fingerprint} for t in tasks]
        total = sum(pq.read_metadata(t.input_path).num_rows for t in tasks)
        if p.keep == "quality":
            for t in tasks:
                if p.quality_column not in pq.read_schema(t.input_path).names:
                    raise CorpusError(
                        f"{t.input_path}: keep: quality needs the column '{p.quality_column}', "
                        "which these documents lack; run a filter stage with a quality "
                        "classifier first, or set quality_column"
                    )
        # the clusters do not depend on the number of partitions (a test checks), so it may
        # follow the executor: at least two tasks per worker in every shuffle phase
        workers = getattr(driver.executor, "workers", 1)
        n_part = p.partitions or min(
            256, max(math.ceil(total / ROWS_PER_PARTITION), 2 * workers if workers > 1 else 1)
        )
        index = DedupIndex(p.index, p) if p.index else None
        earlier = [
            {"dir": seg["dir"], **part}
            for seg in (index.segments(segment_id(tasks, p)) if index else [])
            for part in seg["parts"]
        ]
        first_new = len(earlier)  # earlier runs' parts come first: their documents win ties
        ords = list(range(first_new + len(tasks)))
        new_ords = ords[first_new:]
        keyed = [
            dict(part, ord=o, P=n_part, first_new=first_new, index=bool(index))
            for o, part in zip(new_ords, parts, strict=True)
        ]

        run = driver.run_payloads

        def indexed(part, kind):
            f = part.get(kind)
            return [{"dir": part["dir"], "name": f["name"], "sha256": f["sha256"]}] if f else []

        partitions = range(n_part)
        ids = files_by_dest(run("ids", keyed))
        checked = run("idcheck", [{"files": ids[f"p{j}"]} for j in partitions])
        idcheck = files_by_dest(checked)
        keys = run(
            "keys",
            [
                {"keys": indexed(e, "keys"), "sig": indexed(e, "sig"), "ord": o, "P": n_part}
                for o, e in enumerate(earlier)
            ]
            + [dict(k, dupids=idcheck[f"o{k['ord']}"]) for k in keyed],
            show=True,
        )
        key_files = files_by_dest(keys)
        candidates = run(
            "candidates", [{"files": key_files[f"p{j}"], "P": n_part} for j in partitions]
        )
        edges = verified = candidates
        if p.mode == "minhash" and p.verify:
            for phase in ("verify1", "verify2"):  # bring each pair's two signatures together
                pairs = files_by_dest(edges)
                edges = run(
                    phase,
                    [
                        {"pairs": pairs[f"v{j}"], "sigs": key_files[f"s{j}"], "P": n_part}
                        for j in partitions
                    ],
                )
            verified = edges
        rounds = 0
        while True:
            inputs = files_by_dest(edges)
            large = run(
                f"large{rounds}",
                [{"files": inputs[f"p{j}"], "P": n_part} for j in partitions],
            )
            if sum(r["stats"]["violations"] for r in large) == 0:
                break
            rounds += 1
            if rounds > MAX_ROUNDS:
                raise CorpusError(f"connected components did not converge in {MAX_ROUNDS} rounds")
            stars = files_by_dest(large)
            edges = run(
                f"small{rounds}",
                [{"files": stars[f"p{j}"], "P": n_part} for j in partitions],
            )
        labels = files_by_dest(run("labels", [{"files": inputs[f"p{j}"]} for j in partitions]))
        own = [files_by_dest([keys[o]]) for o in new_ords]  # each new part's own files
        docs = {o: indexed(e, "docs") for o, e in enumerate(earlier)}
        docs.update({o: mine["docs"] for o, mine in zip(new_ords, own, strict=True)})
        members = files_by_dest(
            run(
                "members",
                [
                    {"labels": labels[f"o{o}"], "docs": docs[o], "P": n_part}
                    for o in ords
                    if labels.get(f"o{o}")
                ],
            )
        )
        chosen = run("reps", [{"files": members[f"p{j}"]} for j in partitions])
        reps = files_by_dest(chosen)
        final = run(
            "final",
            [dict(k, members=reps[f"o{k['ord']}"], docs=docs[k["ord"]]) for k in keyed],
            keys=[t.key for t in tasks],
            show=True,
        )
        if index:
            with_sig = p.mode == "minhash" and p.verify
            index.add(
                segment_id(tasks, p),
                [
                    {
                        "keys": mine["index_keys"][0],
                        "docs": files_by_dest([f])["index_docs"][0],
                        **({"sig": mine["index_sig"][0]} if with_sig else {}),
                    }
                    for mine, f in zip(own, final, strict=True)
                ],
            )
        stats = self._stats(final, [*checked, *keys, *candidates, *chosen], rounds, n_part)
        stats["counters"]["indexed_parts"] = len(earlier)
        if p.mode == "minhash" and p.verify:
            for r in verified:
                for name in ("verified_pairs", "unverified_pairs"):
                    _count(stats, name, r["stats"].get(name, 0))
        return final, stats

    def _stats(self, final, records, rounds, n_part) -> dict:
        stats: dict = {"rejected": {}}
        for r in final:
            for key in ("docs_in", "bytes_in", "docs_out", "bytes_out", "docs_rejected"):
                stats[key] = stats.get(key, 0) + r["stats"].get(key, 0)
            for reason, n in r["stats"].get("rejected", {}).items():
                stats["rejected"][reason] = stats["rejected"].get(reason, 0) + n
        stats["task_s"] = sum(r["stats"]["task_s"] for r in final + records)
        for r in records:
            for name, n in r["stats"].get("counters", {}).items():
                _count(stats, name, n)
        counters = stats.setdefault("counters", {})
        largest = max((r["stats"].get("largest_cluster", 0) for r in records), default=0)
        counters["largest_cluster"] = max(largest, 1 if stats.get("docs_in") else 0)
        counters["star_rounds"] = rounds
        counters["partitions"] = n_part
        if self.params.mode == "minhash":
            counters["bands"], counters["rows"] = self.params.banding()
        return stats

    def extra_inputs(self, tasks) -> dict[str, str]:
        p = self.params
        if not p.index:
            return {}
        segments = DedupIndex(p.index, p).segments(segment_id(tasks, p))
        return {f"index:{seg['dir']}": seg["record_sha256"] for seg in segments}

    # the tasks -----------------------------------------------------------------------------

    def run_task(self, phase: str, payload: dict, out) -> dict:
        op = phase.rstrip("0123456789")
        return getattr(self, f"_task_{op}")(payload, out)

    def _task_ids(self, pl, out) -> dict:
        ids = read_part_file(pl["path"], pl["sha256"], ["id"]).column("id").to_pylist()
        keys = np.array([bytes_key(i.encode("utf-8")) for i in ids], dtype=np.uint64)
        keys = keys.reshape(-1, 2)
        table = pa.table(
            {
                "k1": pa.array(keys[:, 0], pa.uint64()),
                "k2": pa.array(keys[:, 1], pa.uint64()),
                "gid": pa.array(gids(pl["ord"], len(ids)), pa.int64()),
                "id": pa.array(ids, pa.string()),
            }
        )
        write_split(out, table, (keys[:, 0] % np.uint64(pl["P"])).astype(np.int64), "p")
        return {}

    def _task_idcheck(self, pl, out) -> dict:
        table = read_files(pl["files"])
        if table is None:
            return {}
        k1, k2 = table.column("k1").to_numpy(), table.column("k2").to_numpy()
        gid = table.column("gid").to_numpy()
        order = np.lexsort((gid, k2, k1))
        k1, k2, gid = k1[order], k2[order], gid[order]
        ids = table.column("id").take(pa.array(order)).to_pylist()
        repeat = np.zeros(len(gid), dtype=bool)
        repeat[1:] = (k1[1:] == k1[:-1]) & (k2[1:] == k2[:-1])
        first = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(gid))))
        dup = np.zeros(len(gid), dtype=bool)
        for i in np.flatnonzero(repeat):  # equal 128-bit hashes: confirm the ids are equal
            dup[i] = ids[i] == ids[first[i]]
        dup_gid = gid[dup]
        rows = pa.table({"gid": pa.array(dup_gid, pa.int64())})
        write_split(out, rows, ordinal_of(dup_gid), "o")
        return {"counters": {"duplicate_ids": int(dup.sum())}}

    def _task_keys(self, pl, out) -> dict:
        p = self.params
        if "keys" in pl:  # a part of an earlier run, from the index: its keys, renumbered
            rows = read_files(pl["keys"])
            if rows is None:
                return {}
            k1 = rows.column("k1").to_numpy()
            owner = (np.int64(pl["ord"]) << np.int64(ORD_SHIFT)) + rows.column("row").to_numpy()
            rows = rows.drop_columns(["row"]).append_column("gid", pa.array(owner, pa.int64()))
            write_split(out, rows, (k1 % np.uint64(pl["P"])).astype(np.int64), "p")
            sigs = read_files(pl["sig"])
            if sigs is not None:
                owner = (np.int64(pl["ord"]) << np.int64(ORD_SHIFT)) + sigs.column("row").to_numpy()
                sigs = pa.table({"gid": pa.array(owner), "sig": sigs.column("sig")})
                write_split(out, sigs, node_partition(owner, pl["P"]), "s")
            return {}
        columns = ["id", "text"] + (["url"] if p.mode == "url" else [])
        columns += [p.quality_column] if p.keep == "quality" else []
        table = read_part_file(pl["path"], pl["sha256"], columns)
        n = table.num_rows
        status = np.zeros(n, dtype=np.int8)
        dup = read_files(pl["dupids"])
        if dup is not None:
            status[dup.column("gid").to_numpy() & ROW_MASK] = DUPLICATE_ID
        score = self._scores(table)
        gid = gids(pl["ord"], n)
        stats: dict = {}
        if p.mode == "minhash":
            band, k1, k2, owner = self._minhash_keys(table, status, gid, out, pl)
        else:
            band, k1, k2, owner = self._exact_keys(table, status, gid)
        _count(stats, NO_KEY_COUNTER[p.mode], np.count_nonzero(status == NO_KEY))
        stats["docs_in"] = n  # for the progress line
        out.write(
            "docs",
            pa.table(
                {
                    "id": table.column("id"),
                    "score": pa.array(score, pa.float64()),
                    "status": pa.array(status, pa.int8()),
                }
            ),
        )
        rows = pa.table(
            {
                "band": pa.array(band, pa.int32()),
                "k1": pa.array(k1, pa.uint64()),
                "k2": pa.array(k2, pa.uint64()),
                "gid": pa.array(owner, pa.int64()),
            }
        )
        write_split(out, rows, (k1 % np.uint64(pl["P"])).astype(np.int64), "p")
        if pl["index"]:
            local = rows.drop_columns(["gid"]).append_column("row", pa.array(owner & ROW_MASK))
            out.write("index_keys", local)
        return stats

    def _scores(self, table: pa.Table) -> np.ndarray:
        p = self.params
        n = table.num_rows
        if p.keep == "first":
            return np.zeros(n)
        if p.keep == "longest":
            return pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False).astype(float)
        column = pc.cast(table.column(p.quality_column), pa.float64())
        return column.fill_null(-math.inf).to_numpy(zero_copy_only=False)

    def _minhash_keys(self, table, status, gid, out, pl):
        p = self.params
        bands, rows = p.banding()
        candidates = np.flatnonzero(status == OK)
        texts = table.column("text").take(pa.array(candidates)).to_pylist()
        matrix = signatures(texts, p.num_perm, p.ngram, p.seed)
        empty = (matrix == EMPTY).all(axis=1)  # no shingles: nothing to compare
        status[candidates[empty]] = NO_KEY
        sig_rows, matrix = candidates[~empty], matrix[~empty]
        if p.verify:  # to the partitions of their documents, for verify1 and verify2
            owners = gid[sig_rows]
            sigs = signature_table(owners, matrix, "gid")
            write_split(out, sigs, node_partition(owners, pl["P"]), "s")
            if pl["index"]:
                out.write("index_sig", signature_table(sig_rows, matrix, "row"))
        k1, k2 = band_keys(matrix, bands, rows)
        band = np.tile(np.arange(bands, dtype=np.int32), len(sig_rows))
        owner = np.repeat(gid[sig_rows], bands)
        return band, k1.ravel(), k2.ravel(), owner

    def _exact_keys(self, table, status, gid):
        p = self.params
        values = table.column("text" if p.mode == "exact" else "url").to_pylist()
        keys, owners = [], []
        for i, value in enumerate(values):
            if status[i] != OK:
                continue
            key = text_key(value) if p.mode == "exact" else url_key(value)
            if key is None or (p.mode == "exact" and not value.strip()):
                status[i] = NO_KEY
                continue
            keys.append(key)
            owners.append(gid[i])
        k = np.array(keys, dtype=np.uint64).reshape(-1, 2)
        owner = np.array(owners, dtype=np.int64)
        return np.zeros(len(owner), dtype=np.int32), k[:, 0], k[:, 1], owner

    def _task_candidates(self, pl, out) -> dict:
        table = read_files(pl["files"])
        if table is None:
            return {}
        band = table.column("band").to_numpy()
        k1, k2 = table.column("k1").to_numpy(), table.column("k2").to_numpy()
        gid = table.column("gid").to_numpy()
        order = np.lexsort((gid, k2, k1, band))
        band, k1, k2, gid = band[order], k1[order], k2[order], gid[order]
        new = np.ones(len(gid), dtype=bool)
        new[1:] = (band[1:] != band[:-1]) | (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
        starts = np.flatnonzero(new)
        sizes = np.diff(np.append(starts, len(gid)))
        head = np.repeat(gid[starts], sizes)
        x, m = unique_pairs(gid[~new], head[~new])
        stats = {
            "counters": {
                "buckets_with_duplicates": int(np.count_nonzero(sizes > 1)),
                "band_collisions": int(np.sum(sizes * (sizes - 1) // 2)),
                "candidate_pairs": len(x),
            }
        }
        if self.params.mode == "minhash" and self.params.verify:
            pairs = pa.table({"x": pa.array(x, pa.int64()), "m": pa.array(m, pa.int64())})
            write_split(out, pairs, node_partition(x, pl["P"]), "v")
        else:
            write_edges(out, x, m, pl["P"], both=True)
        return stats

    def _task_verify(self, pl, out) -> dict:
        """verify1 joins the first document's signature, verify2 the second's and decides; the
        pairs travel to the partition of the document whose signature they need."""
        num_perm = self.params.num_perm
        pairs = read_files(pl["pairs"])
        if pairs is None:
            return {}
        sig_table = read_files(pl["sigs"])
        owners = sig_table.column("gid").to_numpy()
        order = np.argsort(owners, kind="stable")
        owners = owners[order]
        matrix = signature_matrix(sig_table.column("sig"), num_perm)[order]
        x, m = pairs.column("x").to_numpy(), pairs.column("m").to_numpy()
        if "sig" not in pairs.column_names:  # verify1
            sx = matrix[np.searchsorted(owners, x)]
            with_sig = pairs.append_column("sig", signature_table(x, sx, "x").column("sig"))
            write_split(out, with_sig, node_partition(m, pl["P"]), "v")
            return {}
        sx = signature_matrix(pairs.column("sig"), num_perm)
        sm = matrix[np.searchsorted(owners, m)]
        agree = np.count_nonzero(sx == sm, axis=1)
        need = math.ceil(self.params.threshold * num_perm - 1e-9)
        ok = agree >= need
        write_edges(out, x[ok], m[ok], pl["P"], both=True)
        return {"verified_pairs": int(ok.sum()), "unverified_pairs": int((~ok).sum())}

    def _task_large(self, pl, out) -> dict:
        a, b = edges_of(pl["files"])
        larger, smaller, violations = large_star(a, b)
        write_edges(out, larger, smaller, pl["P"], both=False)
        return {"violations": violations}

    def _task_small(self, pl, out) -> dict:
        a, b = edges_of(pl["files"])
        larger, smaller = small_star(a, b)
        write_edges(out, larger, smaller, pl["P"], both=True)
        return {}

    def _task_labels(self, pl, out) -> dict:
        nodes, labels = star_labels(*edges_of(pl["files"]))
        table = pa.table({"gid": pa.array(nodes, pa.int64()), "cluster": pa.array(labels)})
        write_split(out, table, ordinal_of(nodes), "o")
        return {}

    def _task_members(self, pl, out) -> dict:
        labels = read_files(pl["labels"])
        docs = read_files(pl["docs"])
        gid = labels.column("gid").to_numpy()
        rows = pa.array(gid & ROW_MASK)
        table = pa.table(
            {
                "cluster": labels.column("cluster"),
                "score": docs.column("score").take(rows),
                "gid": labels.column("gid"),
                "id": docs.column("id").take(rows),
            }
        )
        write_split(out, table, node_partition(labels.column("cluster").to_numpy(), pl["P"]), "p")
        return {}

    def _task_reps(self, pl, out) -> dict:
        table = read_files(pl["files"])
        if table is None:
            return {}
        cluster = table.column("cluster").to_numpy()
        score = table.column("score").to_numpy()
        gid = table.column("gid").to_numpy()
        order = np.lexsort((gid, -score, cluster))
        cluster, gid = cluster[order], gid[order]
        ids = table.column("id").take(pa.array(order))
        starts = np.flatnonzero(np.concatenate(([True], cluster[1:] != cluster[:-1])))
        sizes = np.diff(np.append(starts, len(gid)))
        group = np.repeat(np.arange(len(starts)), sizes)
        centre = np.flatnonzero(gid == cluster)
        centre_of_group = np.empty(len(starts), dtype=np.int64)
        centre_of_group[group[centre]] = centre
        result = pa.table(
            {
                "gid": pa.array(gid),
                "cluster": ids.take(pa.array(centre_of_group[group])),
                "representative": ids.take(pa.array(starts[group])),
                "rep_gid": pa.array(gid[starts][group]),
                "size": pa.array(sizes[group].astype(np.int64)),
            }
        )
        write_split(out, result, ordinal_of(gid), "o")
        return {
            "counters": {"duplicate_clusters": len(starts)},
            "largest_cluster": int(sizes.max()),
        }

    def _task_final(self, pl, out) -> dict:
        p = self.params
        table = read_part_file(pl["path"], pl["sha256"])
        n = table.num_rows
        gid = gids(pl["ord"], n)
        status = read_files(pl["docs"]).column("status").to_numpy() if n else np.zeros(0)
        ids = table.column("id")
        cluster, representative = ids, ids
        size = np.ones(n, dtype=np.int64)
        rep_gid = gid.copy()
        members = read_files(pl["members"])
        if members is not None:
            rows = members.column("gid").to_numpy() & ROW_MASK
            index = np.full(n, -1, dtype=np.int64)
            index[rows] = np.arange(len(rows))
            has = index >= 0
            at = np.where(has, index, 0)
            mask = pa.array(has)
            cluster = pc.if_else(mask, members.column("cluster").take(pa.array(at)), ids)
            representative = pc.if_else(
                mask, members.column("representative").take(pa.array(at)), ids
            )
            size = np.where(has, members.column("size").to_numpy()[at], 1)
            rep_gid = np.where(has, members.column("rep_gid").to_numpy()[at], gid)
        bad_id = status == DUPLICATE_ID
        kept = (rep_gid == gid) & ~bad_id
        reasons = np.where(kept, None, f"{p.mode}_duplicate").astype(object)
        reasons[bad_id] = "duplicate_id"
        result = decide(table, reasons.tolist())
        earlier = ordinal_of(rep_gid) < pl["first_new"]
        errors = [
            "another document has the same id"
            if b
            else f"duplicate of {r}" + (" (from an earlier run, in the index)" if e else "")
            for b, r, e, k in zip(bad_id, representative.to_pylist(), earlier, kept, strict=True)
            if not k
        ]
        rejected = result.rejected.set_column(
            result.rejected.schema.get_field_index("error"), "error", pa.array(errors, pa.string())
        )
        null_str = pa.nulls(n, pa.string())
        clusters = pa.table(
            {
                "id": ids,
                "cluster": pc.if_else(pa.array(bad_id), null_str, cluster),
                "representative": pc.if_else(pa.array(bad_id), null_str, representative),
                "size": pa.array(np.where(bad_id, 0, size), pa.int64()),
                "kept": pa.array(kept),
            }
        )
        out.write("kept", conform(result.kept))
        out.write("rejected", rejected)
        out.write("clusters", clusters)
        if pl["index"]:
            standing = np.where(kept, KEPT_SCORE, DROPPED_SCORE)
            out.write(
                "index_docs",
                pa.table({"id": ids, "score": pa.array(standing), "status": pa.array(status)}),
            )
        rejected_counts: dict[str, int] = {}
        for reason in reasons[~kept]:
            rejected_counts[reason] = rejected_counts.get(reason, 0) + 1
        return {
            "docs_in": n,
            "bytes_in": text_bytes(table),
            "docs_out": result.kept.num_rows,
            "bytes_out": text_bytes(result.kept),
            "docs_rejected": rejected.num_rows,
            "rejected": rejected_counts,
        }
