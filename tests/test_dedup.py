"""Dedup: LSH parameters, distributed connected components, quality against brute force, exact
and URL rules, keep rules, bad input, determinism across executors, the command and the stage."""

from __future__ import annotations

import itertools
import json
import random
import signal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasketch.lsh import _optimal_param

from corpus.dataset import Dataset
from filters.dedup.graph import components, large_star, small_star, star_labels
from filters.dedup.keys import normalize_text
from filters.dedup.lsh import optimal_bands
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.phases import Dest
from pipelines.stages import REGISTRY
from pipelines.standalone import run_on_dataset
from samples.near_duplicates import jaccard, plant, planted_corpus, shingles
from samples.shared_data import SHARED_DATA, real_documents
from tests.commands import kill_when, run_corpus
from tests.datasets import snapshot, write_dataset

Dedup = REGISTRY["dedup"]


def dedup(dataset, out, executor=None, **params):
    """Run the dedup stage over `dataset` into `out`; returns (outcome, clusters by id)."""
    outcome = run_on_dataset("dedup", dataset, out, params, executor)
    rows = Dataset(out / "clusters").read_all().to_pylist()
    return outcome, rows


def by_id(rows):
    return {r["id"]: r for r in rows}


# --- parameters and graph algorithms --------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [32, 128, 256])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.1, 0.9), (0.8, 0.2)])
def test_bands_and_rows_minimize_the_same_error_as_datasketch(threshold, num_perm, weights):
    assert optimal_bands(threshold, num_perm, *weights) == _optimal_param(
        threshold, num_perm, *weights
    )


def union_find(edges):
    parent = {}

    def root(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: min(y for y in parent if root(y) == root(x)) for x in list(parent)}


def star_rounds(a, b, partitions):
    """The distributed algorithm as the stage runs it, each step split by node partition."""
    a, b = np.concatenate([a, b]), np.concatenate([b, a])
    rounds = 0
    while True:
        outs, violations = [], 0
        for j in range(partitions):
            mine = a % partitions == j
            x, y, v = large_star(a[mine], b[mine])
            outs.append((x, y))
            violations += v
        if violations == 0:
            break
        rounds += 1
        x, y = (np.concatenate(z) for z in zip(*outs, strict=True))
        outs = [
            small_star(x[x % partitions == j], y[x % partitions == j]) for j in range(partitions)
        ]
        x, y = (np.concatenate(z) for z in zip(*outs, strict=True))
        a, b = np.concatenate([x, y]), np.concatenate([y, x])
    labels = {}
    for j in range(partitions):
        mine = a % partitions == j
        nodes, lab = star_labels(a[mine], b[mine])
        labels.update(zip(nodes.tolist(), lab.tolist(), strict=True))
    return labels, rounds


@pytest.mark.parametrize("seed", range(12))
def test_star_steps_and_local_components_equal_union_find(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 400))
    m = int(rng.integers(1, 500))
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = a != b
    a, b = a[keep], b[keep]
    if seed == 0:  # a long chain, the worst case for label propagation
        a, b = np.arange(300)[::-1][:-1], np.arange(300)[::-1][1:]
    expected = union_find(zip(a.tolist(), b.tolist(), strict=True))
    nodes, labels = components(a, b)
    assert dict(zip(nodes.tolist(), labels.tolist(), strict=True)) == expected
    for partitions in (1, 3, 7):
        labels, rounds = star_rounds(a, b, partitions)
        assert labels == expected
        assert rounds < 30


# --- quality ----------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_near_duplicates_found_match_brute_force_jaccard(tmp_path):
    docs = planted_corpus(n_base=400, n_variants=280)
    write_dataset(tmp_path / "in", [{"id": i, "text": t} for i, t in docs], part_rows=170)
    outcome, rows = dedup(tmp_path / "in", tmp_path / "out")
    cluster = {r["id"]: r["cluster"] for r in rows}
    sets = {i: shingles(t) for i, t in docs}
    truth, found, near = set(), set(), []
    for (a, _), (b, _) in itertools.combinations(docs, 2):
        j = jaccard(sets[a], sets[b])
        if j >= 0.8:
            truth.add((a, b))
        if cluster[a] == cluster[b]:
            found.add((a, b))
            near.append(j)
    hits = len(truth & found)
    precision, recall = hits / len(found), hits / len(truth)
    print(
        f"\ndedup quality at threshold 0.8: {len(truth)} true pairs, {len(found)} found, "
        f"precision {precision:.3f}, recall {recall:.3f}; counters {outcome.stats['counters']}"
    )
    assert len(truth) > 150  # the planted levels at or above 0.85, and the exact copies
    assert precision >= 0.95
    assert recall >= 0.90
    assert min(near) > 0.6  # a false pair is a near miss, not an unrelated document


@pytest.mark.shared_data
def test_the_two_editions_of_book_972_land_in_one_cluster(tmp_path):
    books = SHARED_DATA / "books"
    res = run_corpus(
        "extract", "book", books / "pg972_*.txt.gz", books / "pg9198_*.txt.gz",
        "--out", tmp_path / "books", "--executor", "local",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    res = run_corpus("dedup", tmp_path / "books", "--out", tmp_path / "d", "--executor", "local")
    assert res.returncode == 0, res.stderr
    rows = Dataset(tmp_path / "d" / "clusters").read_all().to_pylist()
    assert len(rows) == 4
    cluster_of = {r["id"].removeprefix("book:"): r["cluster"] for r in rows}
    assert (
        cluster_of["pg972_devils-dictionary.txt.gz"]
        == cluster_of["pg972_old-edition_dvldc10.txt.gz"]
    )
    assert (
        cluster_of["pg9198_complete-angler_ascii.txt.gz"]
        == cluster_of["pg9198_complete-angler_latin1.txt.gz"]
    )
    assert (
        cluster_of["pg972_devils-dictionary.txt.gz"]
        != cluster_of["pg9198_complete-angler_ascii.txt.gz"]
    )
    assert len(Dataset(tmp_path / "d" / "kept").read_all(["id"])) == 2
    assert "minhash_duplicate 2" in res.stderr


# --- determinism ------------------------------------------------------------------------------


def mixed_documents():
    """Real documents with planted near-duplicates, exact copies spread over many parts, chains
    of successive edits (each near its neighbours, far from its ends: components that need
    several star rounds), and documents that cannot be compared."""
    docs = [{"id": i, "text": t} for i, t in planted_corpus(n_base=120, n_variants=60, seed=3)]
    rng = random.Random(5)
    for copy in range(9):
        original = docs[copy]
        docs.insert(rng.randrange(len(docs)), {**original, "id": f"copy-of-{original['id']}"})
    filler = docs[50]["text"].split()
    for chain in range(3):
        text = docs[20 + chain]["text"]
        for link in range(8):
            text = plant(text, "edit", 0.9, rng, filler)
            docs.insert(rng.randrange(len(docs)), {"id": f"chain-{chain}-{link}", "text": text})
    docs += [{"id": "empty", "text": ""}, {"id": "punct", "text": " ... !!"}]
    return docs


@pytest.mark.shared_data
def test_same_clusters_whatever_the_executor_workers_and_partitions(tmp_path, ray_session):
    write_dataset(tmp_path / "in", mixed_documents(), part_rows=23)
    results, checked = [], set()
    runs = [
        ("local-1", LocalExecutor(), 1),
        ("local-5", LocalExecutor(), 5),
        ("ray-2w-5", RayExecutor(workers=2), 5),
        ("ray-1w-3", RayExecutor(workers=1), 3),
    ]
    for name, executor, partitions in runs:
        outcome, _ = dedup(tmp_path / "in", tmp_path / name, executor, partitions=partitions)
        results.append(
            {k: v for k, v in snapshot(tmp_path / name).items() if not k.startswith("_")}
        )
        counters = outcome.stats["counters"]
        # a pair that several bands find is checked once: the pairs checked are the same
        # whatever the partitions, and no more than the band partitions found
        checked.add((counters["verified_pairs"], counters["unverified_pairs"]))
        assert (
            counters["verified_pairs"] + counters["unverified_pairs"] <= counters["candidate_pairs"]
        )
        if partitions == 5:
            assert counters["star_rounds"] >= 1  # the big clusters need rounds
    assert results[0] and all(r == results[0] for r in results[1:])
    assert len(checked) == 1 and min(next(iter(checked))) > 0
    rows = Dataset(tmp_path / "local-1" / "clusters").read_all().to_pylist()
    cluster = {r["id"]: r["cluster"] for r in rows}
    copies = [i for i in cluster if i.startswith("copy-of-")]
    assert len(copies) == 9
    assert all(cluster[i] == cluster[i.removeprefix("copy-of-")] for i in copies)
    for chain in range(3):  # a cluster is a connected component: a chain is one cluster
        assert len({r["cluster"] for r in rows if r["id"].startswith(f"chain-{chain}-")}) == 1


# --- exact and URL dedup ----------------------------------------------------------------------


def test_exact_rule_ignores_case_whitespace_punctuation_and_compatibility_forms():
    same = [
        "The Quick brown fox, jumps!",
        "the quick   brown fox jumps",
        "THE QUICK BROWN FOX — JUMPS…",
        "ｔｈｅ quick brown fox jumps",  # full-width letters
        "the quick\u200b brown\n\nfox jumps.",  # a zero-width space
    ]
    assert len({normalize_text(t) for t in same}) == 1
    assert normalize_text("Straße") == normalize_text("STRASSE")
    different = ["the quick brown fox jumps 2", "the quick brown fox jumped", "the quick brown fox"]
    assert len({normalize_text(t) for t in [same[0], *different]}) == 4


@pytest.mark.shared_data
def test_exact_mode_clusters_normalized_copies(tmp_path):
    real = [t for _, t in real_documents()[:40]]
    rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(real)]
    rows += [
        {"id": "upper", "text": real[0].upper()},
        {"id": "spaced", "text": "  " + "  ".join(real[0].split()) + "\n"},
        {"id": "edited", "text": real[0] + " one more word"},
        {"id": "blank", "text": "   "},
    ]
    write_dataset(tmp_path / "in", rows, part_rows=15)
    outcome, clusters = dedup(tmp_path / "in", tmp_path / "out", mode="exact")
    c = by_id(clusters)
    assert c["upper"]["cluster"] == c["spaced"]["cluster"] == c["d0"]["cluster"] == "d0"
    assert c["edited"]["cluster"] == "edited" and c["edited"]["kept"]
    assert c["d0"]["size"] == 3 and sum(r["kept"] for r in clusters if r["cluster"] == "d0") == 1
    assert outcome.stats["rejected"] == {"exact_duplicate": 2}
    assert outcome.stats["counters"]["empty_text"] == 1


def test_url_mode_uses_the_normalized_url(tmp_path):
    rows = [
        {"id": "a", "text": "first", "url": "https://Example.com:443/a/./b?x=1&utm_source=z#top"},
        {"id": "b", "text": "second, longer text", "url": "https://example.com/a/b?x=1"},
        {"id": "c", "text": "third", "url": "https://example.com/a/b?x=2"},
        {"id": "d", "text": "fourth", "url": None},
        {"id": "e", "text": "fifth", "url": "gutenberg/972.txt"},
        {"id": "f", "text": "sixth", "url": "gutenberg/972.txt"},
    ]
    write_dataset(tmp_path / "in", rows, part_rows=2)
    outcome, clusters = dedup(tmp_path / "in", tmp_path / "out", mode="url")
    c = by_id(clusters)
    assert c["a"]["cluster"] == c["b"]["cluster"] == "a"
    assert c["b"]["representative"] == "b" and not c["a"]["kept"]  # the longer text stays
    assert c["c"]["cluster"] == "c" and c["d"]["cluster"] == "d"
    assert c["e"]["cluster"] == c["f"]["cluster"] == "e"
    assert outcome.stats["counters"]["no_url"] == 1
    assert outcome.stats["rejected"] == {"url_duplicate": 2}


# --- keep rules -------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_keep_rules_pick_the_longest_the_first_or_the_best(tmp_path):
    text = real_documents()[5][1]
    rows = [
        {"id": "short", "text": text, "quality_score": 0.2},
        {"id": "long", "text": text + " And a final sentence.", "quality_score": 0.1},
        {"id": "best", "text": text.replace("\n\n", "\n"), "quality_score": 0.9},
        {"id": "none", "text": text + "!", "quality_score": None},
    ]
    write_dataset(tmp_path / "in", rows, part_rows=3)
    kept = {}
    for rule in ("longest", "first", "quality"):
        _, clusters = dedup(tmp_path / "in", tmp_path / rule, keep=rule)
        assert len({r["cluster"] for r in clusters}) == 1
        kept[rule] = [r["id"] for r in clusters if r["kept"]]
    assert kept == {"longest": ["long"], "first": ["short"], "quality": ["best"]}
    ids = Dataset(tmp_path / "quality" / "kept").read_all(["id"]).column("id").to_pylist()
    assert ids == ["best"]
    reasons = Dataset(tmp_path / "quality" / "rejected").read_all(["reason", "error"]).to_pylist()
    assert reasons == [{"reason": "minhash_duplicate", "error": "duplicate of best"}] * 3


def test_keep_quality_without_the_column_is_one_line(tmp_path):
    write_dataset(tmp_path / "in", [{"id": "a", "text": "some words here"}])
    res = run_corpus(
        "dedup", tmp_path / "in", "--out", tmp_path / "out", "--keep", "quality",
        "--executor", "local",
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "quality_score" in res.stderr


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_bad_input_is_counted_never_a_crash(tmp_path):
    book = real_documents(books=("pg972",))
    big = " ".join(t for _, t in book)
    big = " ".join([big] * (10_500_000 // len(big) + 1))[:10_500_000]  # 10 MB, one document
    rows = [
        {"id": "empty", "text": ""},
        {"id": "empty2", "text": ""},
        {"id": "space", "text": " \n\t "},
        {"id": "word", "text": "Hello"},
        {"id": "word2", "text": "hello!"},
        {"id": "other-word", "text": "goodbye"},
        {"id": "big", "text": big},
        {"id": "big-copy", "text": big[:-2000]},
        {"id": "dup-id", "text": book[1][1]},
        {"id": "dup-id", "text": book[2][1]},
        {"id": "dup-id", "text": book[1][1]},
    ]
    write_dataset(tmp_path / "in", rows, part_rows=4)
    outcome, clusters = dedup(tmp_path / "in", tmp_path / "out")
    s = outcome.stats
    assert s["docs_in"] == len(rows) == len(clusters)
    assert s["docs_in"] == s["docs_out"] + s["docs_rejected"]
    assert s["rejected"] == {"duplicate_id": 2, "minhash_duplicate": 2}
    assert s["counters"]["no_shingles"] == 3 and s["counters"]["duplicate_ids"] == 2
    c = {(r["id"], i): r for i, r in enumerate(clusters)}
    assert c[("empty", 0)]["kept"] and c[("empty2", 1)]["kept"]  # not compared: both stay
    assert c[("word", 3)]["cluster"] == c[("word2", 4)]["cluster"] == "word"
    assert c[("other-word", 5)]["cluster"] == "other-word"
    assert c[("big", 6)]["cluster"] == c[("big-copy", 7)]["cluster"] == "big"
    assert c[("dup-id", 8)]["kept"]
    assert [c[("dup-id", i)]["cluster"] for i in (9, 10)] == [None, None]
    errors = Dataset(tmp_path / "out" / "rejected").read_all(["reason", "error"]).to_pylist()
    assert {"reason": "duplicate_id", "error": "another document has the same id"} in errors


def test_bad_arguments_give_one_line(tmp_path):
    write_dataset(tmp_path / "in", [{"id": "a", "text": "x"}])
    cases = [
        (["--bands", "4"], "give both bands and rows"),
        (["--bands", "20", "--rows", "10"], "at most num_perm"),
        (["--threshold", "1.5"], "threshold"),
        (["--mode", "fuzzy"], "invalid choice"),
    ]
    for extra, message in cases:
        res = run_corpus("dedup", tmp_path / "in", "--out", tmp_path / "o", *extra)
        assert res.returncode == 2, extra
        assert message in res.stderr and "Traceback" not in res.stderr
    res = run_corpus("dedup", tmp_path / "missing", "--out", tmp_path / "o")
    assert res.returncode == 1 and "no such dataset" in res.stderr


# --- incremental ------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_index_dedups_a_new_dataset_against_earlier_runs(tmp_path):
    docs = [{"id": i, "text": t} for i, t in planted_corpus(n_base=150, n_variants=90, seed=9)]
    first, second = docs[:140], docs[140:] + [{**d, "id": f"again-{d['id']}"} for d in docs[:30]]
    write_dataset(tmp_path / "a", first, part_rows=50)
    write_dataset(tmp_path / "b", second, part_rows=50)
    write_dataset(tmp_path / "ab", first + second, part_rows=50)
    index = tmp_path / "index"

    def run(dataset, out, *extra):
        res = run_corpus(
            "dedup", tmp_path / dataset, "--out", tmp_path / out, "--keep", "first",
            "--executor", "local", *extra,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        return by_id(Dataset(tmp_path / out / "clusters").read_all().to_pylist())

    run("a", "out-a", "--index", index)
    alone = run("b", "out-b-alone")
    incremental = run("b", "out-b", "--index", index)
    together = run("ab", "out-ab")
    assert {i for i, r in incremental.items() if r["kept"]} == {
        i for i in incremental if together[i]["kept"]
    }  # as if both datasets had been deduplicated in one run, earlier documents first
    assert all(incremental[f"again-{d['id']}"]["cluster"] == together[d["id"]]["cluster"]
               for d in first[:30])  # fmt: skip
    assert sum(r["kept"] for r in incremental.values()) < sum(r["kept"] for r in alone.values())
    errors = Dataset(tmp_path / "out-b" / "rejected").read_all(["error"]).column("error")
    assert any("earlier run" in e for e in errors.to_pylist())
    # the report counts each cluster once, also one named by an earlier run's document
    record = json.loads((tmp_path / "out-b" / "_state" / "_stage.json").read_text())
    sizes = record["profiles"]["clusters"]["clusters"]["sizes"]
    clusters = {r["cluster"] for r in incremental.values() if r["cluster"] is not None}
    assert any(c not in incremental for c in clusters)  # named by an earlier document
    assert sum(sizes.values()) == len(clusters)
    before = snapshot(tmp_path / "out-b")
    res = run_corpus(
        "dedup", tmp_path / "b", "--out", tmp_path / "out-b", "--keep", "first",
        "--executor", "local", "--index", index,
    )  # fmt: skip
    assert res.returncode == 0 and "reused" in res.stderr  # its own segment is not an input
    assert snapshot(tmp_path / "out-b") == before
    assert len(list((index / "segments").iterdir())) == 2
    res = run_corpus(
        "dedup", tmp_path / "b", "--out", tmp_path / "o2", "--num-perm", "64", "--index", index,
        "--executor", "local",
    )  # fmt: skip
    assert res.returncode == 2 and "other settings" in res.stderr and "num_perm" in res.stderr


# --- exactly once -----------------------------------------------------------------------------


@pytest.mark.shared_data
def test_killed_dedup_resumes_to_the_uninterrupted_result(tmp_path):
    docs = [{"id": i, "text": t} for i, t in planted_corpus(n_base=300, n_variants=150, seed=4)]
    write_dataset(tmp_path / "in", docs, part_rows=15)
    args = ["dedup", tmp_path / "in", "--partitions", "3", "--executor", "local"]
    assert run_corpus(*args, "--out", tmp_path / "whole").returncode == 0
    out = tmp_path / "killed"
    work = out / "_state" / "work"
    kills = 0
    for phase, records in (("keys", 4), ("candidates", 1), ("verify2", 1), ("final", 3)):
        status = kill_when([*args, "--out", out], work / phase, records)
        if status == -signal.SIGKILL and not (out / "_state" / "_stage.json").exists():
            kills += 1
    res = run_corpus(*args, "--out", out)
    assert res.returncode == 0, res.stderr
    print(f"\ndedup killed {kills} times, then resumed")
    assert kills >= 3
    whole = {k: v for k, v in snapshot(tmp_path / "whole").items() if not k.startswith("_")}
    assert whole == {k: v for k, v in snapshot(out).items() if not k.startswith("_")}


# --- the shuffle ----------------------------------------------------------------------------


class CountingExecutor(LocalExecutor):
    """Runs tasks in this process, keeping each task's commit record."""

    def __init__(self):
        self.records: list[dict] = []
        self.row_groups: list[int] = []  # of each split file, while it is there

    def map_unordered(self, fn, calls):
        for record in super().map_unordered(fn, calls):
            self.records.append(record)
            for f in record.get("files", []):
                if f["dest"][1] is None and f["dest"][0] == "p":
                    meta = pq.read_metadata(Path(f["dir"]) / f["name"])
                    self.row_groups.append(meta.num_row_groups)
            yield record


@pytest.mark.shared_data
def test_a_map_task_writes_one_file_per_shuffle_not_one_per_partition(tmp_path):
    """However many partitions, each task of a shuffle commits one file per kind of output
    (rows for every partition, a row group each), so a phase's bookkeeping is O(tasks)."""
    write_dataset(tmp_path / "in", mixed_documents(), part_rows=23)
    executor = CountingExecutor()
    dedup(tmp_path / "in", tmp_path / "out", executor, partitions=16)
    keys = [r for r in executor.records if r.get("phase") == "keys"]
    assert len(keys) == len(Dataset(tmp_path / "in").parts) > 3
    for r in keys:  # its shuffles (keys and signatures) and its documents' standing
        kinds = sorted(f["dest"][0] for f in r["files"])
        assert kinds == ["docs", "p", "s"]
    assert max(executor.row_groups) > 8  # one file holds rows for many of the 16 partitions
    assert max(len(r.get("files", [])) for r in executor.records) <= 4


def test_a_reducer_reads_its_row_groups_and_a_damaged_one_is_named(tmp_path, monkeypatch):
    import pipelines.phases
    from corpus.errors import CorruptPartError
    from pipelines.phases import PhaseOutput, PhaseTask, read_files, shuffled

    monkeypatch.setattr(pipelines.phases, "GROUP_ROWS", 300)  # several row groups a partition

    class Job:  # what PhaseOutput reads of a job
        state_dir, config_hash = str(tmp_path), "h"

    class Stage:
        output_datasets = ("kept", "rejected")

    out = PhaseOutput(Job(), PhaseTask("keys", "000003", None), Stage())
    rng = np.random.default_rng(0)
    target = rng.integers(0, 7, 5000)
    table = pa.table({"v": pa.array(np.arange(5000)), "t": pa.array(target)})
    out.write_split("p", table, target)
    (entry,) = out.files
    assert pq.read_metadata(Path(entry["dir"]) / entry["name"]).num_row_groups > 14
    groups = {Dest(*entry["dest"]): [entry]}
    for j in range(7):
        rows = read_files(shuffled(groups, "p", j))
        assert rows.column("v").to_pylist() == np.flatnonzero(target == j).tolist()
    assert read_files(shuffled(groups, "p", 9)) is None  # a partition it wrote nothing to
    path = Path(entry["dir"]) / entry["name"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a row group's pages
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptPartError, match=entry["name"]):
        for j in range(7):
            read_files(shuffled(groups, "p", j))
