"""The work of each dedup phase on a worker: one function per kind of task, given the stage's
params, the task's payload and where to write (`pipelines.phases.PhaseOutput`); each returns its
stats."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.dataset import read_part_file
from corpus.schema import conform
from corpus.stage import decide, text_bytes
from filters.dedup.graph import large_star, small_star, star_labels, unique_pairs
from filters.dedup.keys import text_key, url_key
from filters.dedup.lsh import band_keys, bytes_key
from filters.dedup.minhash import EMPTY, signatures
from pipelines.dedup.index import DROPPED_SCORE, KEPT_SCORE
from pipelines.dedup.params import DedupParams
from pipelines.dedup.payloads import (
    Decide,
    HashIds,
    KeyIndexedPart,
    KeyPart,
    Members,
    Partition,
    Repartition,
    VerifyPairs,
)
from pipelines.dedup.shuffle import (
    PAIRS,
    PART,
    PARTITION,
    ROW_MASK,
    SIG_GROUP_ROWS,
    SIGS,
    edges_of,
    gid_of,
    gids,
    key_partition,
    node_partition,
    ordinal_of,
    sig_type,
    signature_matrix,
    signature_table,
    write_edges,
    write_split,
)
from pipelines.phases import Dest, read_files, shuffle_batches

OK, DUPLICATE_ID, NO_KEY = 0, 1, 2
NO_KEY_COUNTER = {"minhash": "no_shingles", "exact": "empty_text", "url": "no_url"}


def count(stats: dict, key: str, value: int) -> None:
    counters = stats.setdefault("counters", {})
    counters[key] = counters.get(key, 0) + int(value)


def merged_stats(final: list[dict], others: list[dict]) -> dict:
    """A stage's stats from its `final` records (documents in, out and rejected, by reason) and
    every record's task time and counters."""
    stats: dict = {"rejected": {}}
    for r in final:
        for key in ("docs_in", "bytes_in", "docs_out", "bytes_out", "docs_rejected"):
            stats[key] = stats.get(key, 0) + r["stats"].get(key, 0)
        for reason, n in r["stats"].get("rejected", {}).items():
            stats["rejected"][reason] = stats["rejected"].get(reason, 0) + n
    stats["task_s"] = sum(r["stats"]["task_s"] for r in final + others)
    for r in final + others:
        for name, n in r["stats"].get("counters", {}).items():
            count(stats, name, n)
    return stats


def hash_ids(p: DedupParams, task: HashIds, out) -> dict:
    ids = read_part_file(task.part.path, task.part.sha256, ["id"]).column("id").to_pylist()
    keys = np.array([bytes_key(i.encode("utf-8")) for i in ids], dtype=np.uint64)
    keys = keys.reshape(-1, 2)
    table = pa.table(
        {
            "k1": pa.array(keys[:, 0], pa.uint64()),
            "k2": pa.array(keys[:, 1], pa.uint64()),
            "gid": pa.array(gids(task.ordinal, len(ids)), pa.int64()),
            "id": pa.array(ids, pa.string()),
        }
    )
    write_split(out, table, key_partition(keys[:, 0], task.partitions), PARTITION)
    return {}


def check_ids(p: DedupParams, task: Partition, out) -> dict:
    table = read_files(task.files)
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
    write_split(out, rows, ordinal_of(dup_gid), PART)
    return {"counters": {"duplicate_ids": int(dup.sum())}}


def keys(p: DedupParams, task: KeyPart | KeyIndexedPart, out) -> dict:
    if isinstance(task, KeyIndexedPart):
        return indexed_keys(task, out)
    columns = ["id", "text"] + (["url"] if p.mode == "url" else [])
    columns += [p.quality_column] if p.keep == "quality" else []
    table = read_part_file(task.part.path, task.part.sha256, columns)
    n = table.num_rows
    status = np.zeros(n, dtype=np.int8)
    dup = read_files(task.duplicate_ids)
    if dup is not None:
        status[dup.column("gid").to_numpy() & ROW_MASK] = DUPLICATE_ID
    score = scores(p, table)
    gid = gids(task.ordinal, n)
    stats: dict = {}
    if p.mode == "minhash":
        band, k1, k2, owner = minhash_keys(p, table, status, gid, out, task)
    else:
        band, k1, k2, owner = exact_keys(p, table, status, gid)
    count(stats, NO_KEY_COUNTER[p.mode], np.count_nonzero(status == NO_KEY))
    stats["docs_in"] = n  # for the progress line
    out.write(
        Dest("docs"),
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
    write_split(out, rows, key_partition(k1, task.partitions), PARTITION)
    if task.indexed:
        local = rows.drop_columns(["gid"]).append_column("row", pa.array(owner & ROW_MASK))
        out.write(Dest("index_keys"), local)
    return stats


def indexed_keys(task: KeyIndexedPart, out) -> dict:
    """A part of an earlier run, from the index: its keys and signatures, renumbered."""
    rows = read_files(task.keys)
    if rows is None:
        return {}
    k1 = rows.column("k1").to_numpy()
    owner = gid_of(task.ordinal, rows.column("row").to_numpy())
    rows = rows.drop_columns(["row"]).append_column("gid", pa.array(owner, pa.int64()))
    write_split(out, rows, key_partition(k1, task.partitions), PARTITION)
    sigs = read_files(task.sigs)
    if sigs is not None:
        owner = gid_of(task.ordinal, sigs.column("row").to_numpy())
        sigs = pa.table({"gid": pa.array(owner), "sig": sigs.column("sig")})
        write_split(out, sigs, node_partition(owner, task.partitions), SIGS)
    return {}


def scores(p: DedupParams, table: pa.Table) -> np.ndarray:
    n = table.num_rows
    if p.keep == "first":
        return np.zeros(n)
    if p.keep == "longest":
        return pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False).astype(float)
    column = pc.cast(table.column(p.quality_column), pa.float64())
    return column.fill_null(-math.inf).to_numpy(zero_copy_only=False)


def minhash_keys(p: DedupParams, table, status, gid, out, task: KeyPart):
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
        write_split(out, sigs, node_partition(owners, task.partitions), SIGS)
        if task.indexed:
            out.write(Dest("index_sig"), signature_table(sig_rows, matrix, "row"))
    k1, k2 = band_keys(matrix, bands, rows)
    band = np.tile(np.arange(bands, dtype=np.int32), len(sig_rows))
    owner = np.repeat(gid[sig_rows], bands)
    return band, k1.ravel(), k2.ravel(), owner


def exact_keys(p: DedupParams, table, status, gid):
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


def candidates(p: DedupParams, task: Repartition, out) -> dict:
    table = read_files(task.files)
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
    if p.mode == "minhash" and p.verify:
        pairs = pa.table({"x": pa.array(x, pa.int64()), "m": pa.array(m, pa.int64())})
        write_split(out, pairs, node_partition(x, task.partitions), PAIRS)
    else:
        write_edges(out, x, m, task.partitions, both=True)
    return stats


def verify(p: DedupParams, task: VerifyPairs, out) -> dict:
    """verify1 joins the first document's signature, verify2 the second's and decides; the
    pairs travel to the partition of the document whose signature they need.

    A pair found in several bands is verified once. Pairs with a signature each (4 bytes a
    permutation) are written and read a row group at a time, so what a task holds per pair is
    its two document numbers (16 bytes), not its signature (~500): the number of pairs grows
    faster than the corpus wherever documents repeat."""
    if task.first:
        pairs = read_files(task.pairs, ["x", "m"])
        if pairs is None:
            return {}
        x, m = unique_pairs(pairs.column("x").to_numpy(), pairs.column("m").to_numpy())
        del pairs
        target = node_partition(m, task.partitions)
        order = np.argsort(target, kind="stable")
        x, m = x[order], m[order]
        signatures_of = _signatures(p, task)

        def rows(start: int, end: int) -> pa.Table:
            with_sig = signature_table(x[start:end], signatures_of(x[start:end]), "x")
            return with_sig.add_column(1, "m", pa.array(m[start:end], pa.int64()))

        schema = pa.schema([("x", pa.int64()), ("m", pa.int64()), ("sig", sig_type(p.num_perm))])
        out.write_sorted_split(PAIRS, schema, target[order], rows, group_rows=SIG_GROUP_ROWS)
        return {}
    need = math.ceil(p.threshold * p.num_perm - 1e-9)
    signatures_of = None
    kept_x, kept_m, verified, unverified = [], [], 0, 0
    for batch in shuffle_batches(task.pairs):
        signatures_of = signatures_of or _signatures(p, task)
        x, m = batch.column("x").to_numpy(), batch.column("m").to_numpy()
        sx = signature_matrix(batch.column("sig"), p.num_perm)
        ok = np.count_nonzero(sx == signatures_of(m), axis=1) >= need
        kept_x.append(x[ok])
        kept_m.append(m[ok])
        verified += int(ok.sum())
        unverified += int((~ok).sum())
    if verified:
        write_edges(out, np.concatenate(kept_x), np.concatenate(kept_m), task.partitions, True)
    return {"verified_pairs": verified, "unverified_pairs": unverified}


def _signatures(p: DedupParams, task: VerifyPairs):
    """The signatures of the partition's documents, looked up by document number."""
    table = read_files(task.sigs)
    owners = table.column("gid").to_numpy()
    by_owner = np.argsort(owners, kind="stable")
    owners = owners[by_owner]
    matrix = signature_matrix(table.column("sig"), p.num_perm)

    def signatures_of(gid: np.ndarray) -> np.ndarray:
        return matrix[by_owner[np.searchsorted(owners, gid)]]

    return signatures_of


def large(p: DedupParams, task: Repartition, out) -> dict:
    a, b = edges_of(task.files)
    larger, smaller, violations = large_star(a, b)
    write_edges(out, larger, smaller, task.partitions, both=False)
    return {"violations": violations}


def small(p: DedupParams, task: Repartition, out) -> dict:
    a, b = edges_of(task.files)
    larger, smaller = small_star(a, b)
    write_edges(out, larger, smaller, task.partitions, both=True)
    return {}


def labels(p: DedupParams, task: Partition, out) -> dict:
    nodes, label = star_labels(*edges_of(task.files))
    table = pa.table({"gid": pa.array(nodes, pa.int64()), "cluster": pa.array(label)})
    write_split(out, table, ordinal_of(nodes), PART)
    return {}


def members(p: DedupParams, task: Members, out) -> dict:
    label = read_files(task.labels)
    if label is None:  # no document of this part is in a cluster of two or more
        return {}
    docs = read_files(task.docs)
    gid = label.column("gid").to_numpy()
    rows = pa.array(gid & ROW_MASK)
    table = pa.table(
        {
            "cluster": label.column("cluster"),
            "score": docs.column("score").take(rows),
            "gid": label.column("gid"),
            "id": docs.column("id").take(rows),
        }
    )
    cluster = label.column("cluster").to_numpy()
    write_split(out, table, node_partition(cluster, task.partitions), PARTITION)
    return {}


def representatives(p: DedupParams, task: Partition, out) -> dict:
    table = read_files(task.files)
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
    # the row that counts its cluster in the report: the member of this run with the smallest
    # number (the centre may be an earlier run's document, in the index)
    mine = np.where(ordinal_of(gid) >= task.first_new, gid, np.iinfo(np.int64).max)
    first_mine = np.minimum.reduceat(mine, starts) if len(starts) else mine[:0]
    result = pa.table(
        {
            "gid": pa.array(gid),
            "cluster": ids.take(pa.array(centre_of_group[group])),
            "representative": ids.take(pa.array(starts[group])),
            "rep_gid": pa.array(gid[starts][group]),
            "size": pa.array(sizes[group].astype(np.int64)),
            "counted": pa.array(gid == first_mine[group]),
        }
    )
    write_split(out, result, ordinal_of(gid), PART)
    return {
        "counters": {"duplicate_clusters": len(starts)},
        "largest_cluster": int(sizes.max()),
    }


def final(p: DedupParams, task: Decide, out) -> dict:
    table = read_part_file(task.part.path, task.part.sha256)
    n = table.num_rows
    gid = gids(task.ordinal, n)
    status = read_files(task.docs).column("status").to_numpy() if n else np.zeros(0)
    ids = table.column("id")
    cluster, representative = ids, ids
    size = np.ones(n, dtype=np.int64)
    counted = np.ones(n, dtype=bool)  # a document alone is a cluster of one, counted here
    rep_gid = gid.copy()
    chosen = read_files(task.members)
    if chosen is not None:
        rows = chosen.column("gid").to_numpy() & ROW_MASK
        index = np.full(n, -1, dtype=np.int64)
        index[rows] = np.arange(len(rows))
        has = index >= 0
        at = np.where(has, index, 0)
        mask = pa.array(has)
        cluster = pc.if_else(mask, chosen.column("cluster").take(pa.array(at)), ids)
        representative = pc.if_else(mask, chosen.column("representative").take(pa.array(at)), ids)
        size = np.where(has, chosen.column("size").to_numpy()[at], 1)
        counted = np.where(has, chosen.column("counted").to_numpy(zero_copy_only=False)[at], True)
        rep_gid = np.where(has, chosen.column("rep_gid").to_numpy()[at], gid)
    bad_id = status == DUPLICATE_ID
    kept = (rep_gid == gid) & ~bad_id
    reasons = np.where(kept, None, f"{p.mode}_duplicate").astype(object)
    reasons[bad_id] = "duplicate_id"
    result = decide(table, reasons.tolist())
    earlier = ordinal_of(rep_gid) < task.first_new
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
    out.write(Dest("kept"), conform(result.kept))
    out.write(Dest("rejected"), rejected)
    counted = counted & ~bad_id
    out.write(Dest("clusters"), clusters, texts=table.column("text"), counted=counted)
    if task.indexed:
        standing = np.where(kept, KEPT_SCORE, DROPPED_SCORE)
        out.write(
            Dest("index_docs"),
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


TASKS = {  # by phase, less its round number
    "ids": hash_ids,
    "idcheck": check_ids,
    "keys": keys,
    "candidates": candidates,
    "verify": verify,
    "large": large,
    "small": small,
    "labels": labels,
    "members": members,
    "reps": representatives,
    "final": final,
}
