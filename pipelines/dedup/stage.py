"""The `dedup` stage: exact, URL or MinHash LSH near-duplicate removal over a whole dataset.

Phases (each a list of tasks on the executor; `pipelines/phases.py` commits and resumes them, and
`pipelines/dedup/tasks.py` does their work):
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
Modes `lines` and `paragraphs` remove repeated spans from documents instead, in phases of their
own (`pipelines/dedup/spans.py`).
"""

from __future__ import annotations

from corpus import storage
from corpus.errors import CorpusError
from filters.dedup.spans import UNITS
from pipelines.dedup import spans
from pipelines.dedup.index import DedupIndex, segment_id
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
from pipelines.dedup.shuffle import PAIRS, PART, PARTITION, SIGS, partition_count
from pipelines.dedup.tasks import TASKS, count, merged_stats
from pipelines.phases import Dest, files_by_dest, input_parts, shuffled
from pipelines.stages import GlobalStage

ROWS_PER_PARTITION = 100_000  # documents per shuffle partition when `partitions` is not given
MAX_ROUNDS = 200


def index_files(part: dict, kind: str) -> list[dict]:
    """The file of `kind` ("keys", "sig", "docs") that an index segment holds for `part`."""
    f = part.get(kind)
    return [{"dir": part["dir"], "name": f["name"], "sha256": f["sha256"]}] if f else []


class Dedup(GlobalStage):
    """Exact, URL or MinHash LSH near-dedup, keeping one document per cluster and recording the
    clusters; or lines and paragraphs repeated across documents removed from them."""

    Params = DedupParams
    output_datasets = ("kept", "rejected", "clusters")

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        if p.mode in UNITS:
            return spans.drive(self, driver, tasks)
        footers = [storage.parquet_metadata(t.input_path) for t in tasks]
        total = sum(m.num_rows for m in footers)
        if p.keep == "quality":
            for t, m in zip(tasks, footers, strict=True):
                if p.quality_column not in m.schema.to_arrow_schema().names:
                    raise CorpusError(
                        f"{storage.show(t.input_path)}: keep: quality needs the column "
                        f"'{p.quality_column}', "
                        "which these documents lack; run a filter stage with a quality "
                        "classifier first, or set quality_column"
                    )
        n_part = p.partitions or partition_count(driver, total, ROWS_PER_PARTITION)
        index = DedupIndex(p.index, p) if p.index else None
        earlier = [
            {"dir": seg["dir"], **part}
            for seg in (index.segments(segment_id(tasks, p)) if index else [])
            for part in seg["parts"]
        ]
        first_new = len(earlier)  # earlier runs' parts come first: their documents win ties
        ords = list(range(first_new + len(tasks)))
        new = list(zip(ords[first_new:], input_parts(tasks), strict=True))

        run = driver.run_payloads

        partitions = range(n_part)
        ids = files_by_dest(run("ids", [HashIds(part, o, n_part) for o, part in new]))
        checked = run("idcheck", [Partition(shuffled(ids, PARTITION, j)) for j in partitions])
        idcheck = files_by_dest(checked)
        keys = run(
            "keys",
            [
                KeyIndexedPart(o, n_part, index_files(e, "keys"), index_files(e, "sig"))
                for o, e in enumerate(earlier)
            ]
            + [
                KeyPart(part, o, n_part, shuffled(idcheck, PART, o), indexed=bool(index))
                for o, part in new
            ],
            show=True,
        )
        key_files = files_by_dest(keys)
        candidates = run(
            "candidates",
            [Repartition(shuffled(key_files, PARTITION, j), n_part) for j in partitions],
        )
        edges = verified = candidates
        if p.mode == "minhash" and p.verify:
            for phase in ("verify1", "verify2"):  # bring each pair's two signatures together
                pairs = files_by_dest(edges)
                edges = run(
                    phase,
                    [
                        VerifyPairs(
                            shuffled(pairs, PAIRS, j),
                            shuffled(key_files, SIGS, j),
                            n_part,
                            first=phase == "verify1",
                        )
                        for j in partitions
                    ],
                )
            verified = edges
        rounds = 0
        while True:
            inputs = files_by_dest(edges)
            large = run(
                f"large{rounds}",
                [Repartition(shuffled(inputs, PARTITION, j), n_part) for j in partitions],
            )
            if sum(r["stats"]["violations"] for r in large) == 0:
                break
            rounds += 1
            if rounds > MAX_ROUNDS:
                raise CorpusError(f"connected components did not converge in {MAX_ROUNDS} rounds")
            stars = files_by_dest(large)
            edges = run(
                f"small{rounds}",
                [Repartition(shuffled(stars, PARTITION, j), n_part) for j in partitions],
            )
        labels = files_by_dest(
            run("labels", [Partition(shuffled(inputs, PARTITION, j)) for j in partitions])
        )
        own = [files_by_dest([keys[o]]) for o, _ in new]  # each new part's own files
        docs = {o: index_files(e, "docs") for o, e in enumerate(earlier)}
        docs.update({o: mine[Dest("docs")] for (o, _), mine in zip(new, own, strict=True)})
        members = files_by_dest(
            run(
                "members",
                [Members(shuffled(labels, PART, o), docs[o], n_part) for o in ords],
            )
        )
        chosen = run(
            "reps", [Partition(shuffled(members, PARTITION, j), first_new) for j in partitions]
        )
        reps = files_by_dest(chosen)
        final = run(
            "final",
            [
                Decide(part, o, first_new, shuffled(reps, PART, o), docs[o], indexed=bool(index))
                for o, part in new
            ],
            keys=[t.key for t in tasks],
            show=True,
        )
        if index:
            with_sig = p.mode == "minhash" and p.verify
            index.add(
                segment_id(tasks, p),
                [
                    {
                        "keys": mine[Dest("index_keys")][0],
                        "docs": files_by_dest([f])[Dest("index_docs")][0],
                        **({"sig": mine[Dest("index_sig")][0]} if with_sig else {}),
                    }
                    for mine, f in zip(own, final, strict=True)
                ],
            )
        stats = self._stats(final, [*checked, *keys, *candidates, *chosen], rounds, n_part)
        stats["counters"]["indexed_parts"] = len(earlier)
        if p.mode == "minhash" and p.verify:
            for r in verified:
                for name in ("verified_pairs", "unverified_pairs"):
                    count(stats, name, r["stats"].get(name, 0))
        return final, stats

    def _stats(self, final, records, rounds, n_part) -> dict:
        stats = merged_stats(final, records)
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

    def run_task(self, phase: str, payload, out) -> dict:
        tasks = spans.TASKS if self.params.mode in UNITS else TASKS
        return tasks[phase.rstrip("0123456789")](self.params, payload, out)
