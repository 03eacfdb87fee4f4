"""What `corpus report RUN` gathers about a run, read from its folder.

It gathers, from the run's datasets and records alone:
- the funnel: documents, bytes and tokens after each stage, per source (tokens are counted at the
  shard stage and estimated before it from each source's bytes per token);
- why documents were dropped: per stage and reason, counts and shares, a few real rejected
  documents per reason, and kept documents that passed closest to that reason's threshold;
- distributions: a histogram of every score column with its configured thresholds, document
  lengths, language shares, dedup cluster sizes with two clusters side by side, tokenizer
  fertility per source, tokens per shard;
- run facts: config, versions, seeds, wall time and docs/s per stage.
`write_report` (in `__init__`) writes `report.json` and one self-contained `index.html`
(`render.py`).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.dataset import MANIFEST_NAME, Dataset
from corpus.errors import CorpusError
from corpus.schema import SOURCES
from corpus.shards import MANIFEST as SHARDS_MANIFEST
from filters.rules import Rule
from pipelines.params import ConfigError, parse_params
from pipelines.stages import stage_class

SAMPLES = 5  # documents shown per drop reason, and kept near its threshold
EXCERPT = 400  # characters of each shown document
BINS = 30
NOT_SCORES = {"id", "text", "source", "url", "title", "author", "date", "meta", "reason", "error"}


def dataset_at(path: Path) -> Dataset | None:
    return Dataset(path) if (path / MANIFEST_NAME).is_file() else None


def _read(ds: Dataset | None) -> pa.Table | None:
    if ds is None or not ds.parts:
        return None
    return pa.concat_tables(list(ds.tables()), promote_options="permissive")


def _per_source(table: pa.Table | None) -> dict[str, dict]:
    """Documents and text bytes per source."""
    out: dict[str, dict] = {}
    if table is None or table.num_rows == 0:
        return out
    sizes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
    sources = np.array(table.column("source").to_pylist(), dtype=object)
    for s in sorted(set(sources.tolist())):
        mask = sources == s
        out[s] = {"docs": int(mask.sum()), "bytes": int(sizes[mask].sum())}
    return out


def excerpt(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def _spread(ids: list[str], k: int) -> list[int]:
    """k row numbers spread over the rows by a hash of the id (the same ones every time)."""
    keyed = sorted(
        range(len(ids)), key=lambda i: hashlib.blake2b(ids[i].encode(), digest_size=8).digest()
    )
    return sorted(keyed[:k])


def _stage_rules(stage_type: str, params: dict) -> list[Rule]:
    """The threshold rules a stage dropped documents by, from its recorded parameters."""
    try:
        cls = stage_class(stage_type)
        return cls.rules(parse_params(cls.Params, params, f"stage type {stage_type}"))
    except ConfigError:  # a run recorded with parameters this version does not read
        return []


def _thresholds_by_column(rules: list[Rule], columns: list[str]) -> dict[str, list[dict]]:
    """Score column -> the thresholds set on it by a parameter, one for each bound of a rule."""
    found: dict[str, list[dict]] = {}
    for rule in rules:
        if rule.param is None or rule.column not in columns:
            continue
        for kind, value in (("min", rule.min), ("max", rule.max)):
            if value is not None:
                found.setdefault(rule.column, []).append(
                    {"param": rule.param, "value": value, "kind": kind, "reason": rule.name}
                )
    return found


def _histogram(values: np.ndarray, thresholds: list[dict]) -> dict | None:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    for t in thresholds:
        lo, hi = min(lo, t["value"]), max(hi, t["value"])
    if hi == lo:
        hi = lo + 1.0
    counts, edges = np.histogram(values, bins=BINS, range=(lo, hi))
    return {
        "edges": [round(float(e), 6) for e in edges],
        "counts": counts.tolist(),
        "n": int(len(values)),
        "mean": round(float(values.mean()), 6),
        "thresholds": thresholds,
    }


def _stage_params(pipeline: dict) -> tuple[dict, str | None]:
    """Each stage's parameters as the run recorded them, and the config's text (when the file
    is still there)."""
    params = {s["name"]: s.get("params") or {} for s in pipeline["stages"]}
    try:
        text = Path(pipeline["config"]).read_text()
    except (OSError, UnicodeDecodeError):
        text = None
    return params, text


def collect(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    record = run_dir / "_state" / "pipeline.json"
    if not record.is_file():
        raise CorpusError(f"{run_dir}: not a run folder (no _state/pipeline.json)")
    pipeline = json.loads(record.read_text())
    names = [s["name"] for s in pipeline["stages"]]
    types = {s["name"]: s["type"] for s in pipeline["stages"]}
    base_path = run_dir / "report" / "report.json"
    base = json.loads(base_path.read_text()) if base_path.is_file() else {}
    outcomes = {s["name"]: s for s in base.get("stages", [])}
    params, config_text = _stage_params(pipeline)
    shards_manifest = None
    for name in names:
        if types[name] == "shard" and (run_dir / name / SHARDS_MANIFEST).is_file():
            shards_manifest = json.loads((run_dir / name / SHARDS_MANIFEST).read_text())
    bytes_per_token = {
        s: v.get("bytes_per_token") for s, v in (shards_manifest or {}).get("sources", {}).items()
    }

    stages, funnel, drops, scores, extras = [], [], [], [], {}
    for name in names:
        kind = types[name]
        outcome = outcomes.get(name, {})
        stage = {
            "docs_in": None,
            "docs_out": None,
            "wall_s": None,
            **outcome,
            "name": name,
            "type": kind,
            "docs_per_s": (
                round(outcome["docs_in"] / outcome["wall_s"], 1)
                if outcome.get("wall_s") and outcome.get("docs_in")
                else None
            ),
            "params": params.get(name),
        }
        stages.append(stage)
        kept = _read(dataset_at(run_dir / name / "kept"))
        rejected = _read(dataset_at(run_dir / name / "rejected"))
        if kept is not None or rejected is not None:
            per = _per_source(kept)
            for s, v in per.items():
                bpt = bytes_per_token.get(s)
                v["tokens_est"] = int(v["bytes"] / bpt) if bpt else None
            if outcome.get("kind") == "source" and funnel and funnel[-1].get("merged"):
                _merge_sources(funnel[-1], name, per)  # several source stages: one first row
            elif outcome.get("kind") == "source":
                funnel.append({"stage": name, "type": kind, "sources": per, "merged": [name]})
            else:
                funnel.append({"stage": name, "type": kind, "sources": per})
        if rejected is not None and rejected.num_rows:
            rules = _stage_rules(kind, params.get(name) or {})
            drops.append(_drops(run_dir, name, kept, rejected, rules))
            if kind == "filter" or any(c.endswith("_score") for c in rejected.column_names):
                scores.append(_scores(name, kept, rejected, rules))
        if kind == "dedup" and dataset_at(run_dir / name / "clusters"):
            extras["dedup"] = _clusters(run_dir / name, kept, rejected)
        if kind == "filter":
            extras.setdefault("languages", _languages(kept, rejected))
            extras.setdefault("lengths", _lengths(kept, rejected, name))
    if shards_manifest:
        sources = shards_manifest["sources"]
        funnel.append(
            {
                "stage": next(n for n in names if types[n] == "shard"),
                "type": "shard",
                "sources": {
                    s: {
                        "docs": v["train_docs"] + v["val_docs"],
                        "bytes": None,
                        "tokens": v["train_tokens"] + v["val_tokens"],
                    }
                    for s, v in sources.items()
                },
            }
        )
        extras["fertility"] = {s: v.get("fertility") for s, v in sources.items()}
        extras["shards"] = [
            {"name": s["name"], "split": s["split"], "tokens": s["tokens"]}
            for s in shards_manifest["shards"]
        ]
        extras["shard_facts"] = {
            k: shards_manifest[k] for k in ("dtype", "magic", "version", "seed", "splits")
        }
        extras["mixture"] = {
            s: {k: v[k] for k in ("weight", "target_share", "realised_share")}
            for s, v in sources.items()
        }
    return {
        "pipeline": pipeline["name"],
        "config": pipeline["config"],
        "config_text": config_text,
        "run_dir": str(run_dir),
        "executor": base.get("executor"),
        "versions": base.get("versions", {}),
        "wall_s": base.get("wall_s"),
        "seeds": _seeds(params),
        "stages": stages,
        "funnel": funnel,
        "sources": [s for s in SOURCES if any(s in f["sources"] for f in funnel)],
        "drops": drops,
        "scores": scores,
        **extras,
    }


def _merge_sources(entry: dict, name: str, per: dict) -> None:
    """Add a source stage's documents to the funnel's first row, named "sources" once it
    holds more than one stage."""
    entry["merged"].append(name)
    entry["stage"], entry["type"] = "sources", "source"
    for s, v in per.items():
        into = entry["sources"].setdefault(s, {"docs": 0, "bytes": 0, "tokens_est": None})
        into["docs"] += v["docs"]
        into["bytes"] += v["bytes"]
        if v.get("tokens_est") is not None:
            into["tokens_est"] = (into.get("tokens_est") or 0) + v["tokens_est"]


def _seeds(params: dict) -> dict:
    return {
        f"{stage}.{k}": v
        for stage, p in params.items()
        for k, v in (p or {}).items()
        if k == "seed" or k.endswith("_seed")
    }


def _drops(run_dir: Path, name: str, kept, rejected, rules: list[Rule]) -> dict:
    reasons = rejected.column("reason").to_pylist()
    docs_in = rejected.num_rows + (kept.num_rows if kept is not None else 0)
    columns = [c for c in rejected.column_names if c not in NOT_SCORES]
    thresholds = _thresholds_by_column(rules, columns)
    by_reason = {}
    for reason in sorted(set(reasons), key=lambda r: (-reasons.count(r), r)):
        rows = rejected.filter(pc.equal(rejected.column("reason"), reason))
        ids = rows.column("id").to_pylist()
        related = [c for c, ts in thresholds.items() if any(t["reason"] == reason for t in ts)]
        samples = []
        for i in _spread(ids, SAMPLES):
            row = rows.slice(i, 1).to_pylist()[0]
            samples.append(
                {
                    "id": row["id"],
                    "source": row["source"],
                    "excerpt": excerpt(row.get("text")),
                    "error": row.get("error"),
                    "scores": {c: row.get(c) for c in related},
                    "trace": f"corpus trace {run_dir} {row['id']}",
                }
            )
        near = _near_threshold(kept, related, thresholds, reason)
        by_reason[reason] = {
            "count": len(ids),
            "share": round(len(ids) / docs_in, 6) if docs_in else 0.0,
            "per_source": dict(sorted(_count(rows.column("source").to_pylist()).items())),
            "column": related[0] if related else None,
            "threshold": next(
                (t for c in related for t in thresholds[c] if t["reason"] == reason), None
            ),
            "samples": samples,
            "kept_near_threshold": near,
        }
    return {"stage": name, "docs_in": docs_in, "rejected": len(reasons), "reasons": by_reason}


def _count(values: list) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _near_threshold(kept, related: list[str], thresholds: dict, reason: str) -> list[dict]:
    if kept is None or not related or related[0] not in kept.column_names:
        return []
    column = related[0]
    t = next(t for t in thresholds[column] if t["reason"] == reason)
    values = kept.column(column).to_numpy(zero_copy_only=False).astype(float)
    distance = np.abs(values - t["value"])
    distance[~np.isfinite(distance)] = np.inf
    order = np.argsort(distance, kind="stable")[:SAMPLES]
    out = []
    for i in order.tolist():
        if not math.isfinite(distance[i]):
            continue
        row = kept.slice(i, 1).to_pylist()[0]
        out.append(
            {
                "id": row["id"],
                "source": row["source"],
                "excerpt": excerpt(row.get("text")),
                "scores": {column: row.get(column)},
            }
        )
    return out


def _scores(name: str, kept, rejected, rules: list[Rule]) -> dict:
    tables = [t for t in (kept, rejected) if t is not None and t.num_rows]
    table = pa.concat_tables(
        [t.select([c for c in t.column_names if c != "reason" and c != "error"]) for t in tables],
        promote_options="permissive",
    )
    numeric = (pa.types.is_integer, pa.types.is_floating)
    columns = [
        f.name for f in table.schema if f.name not in NOT_SCORES and any(t(f.type) for t in numeric)
    ]
    thresholds = _thresholds_by_column(rules, columns)
    histograms = {}
    for c in columns:
        values = table.column(c).to_numpy(zero_copy_only=False).astype(float)
        h = _histogram(values, thresholds.get(c, []))
        if h is not None:
            histograms[c] = h
    return {"stage": name, "histograms": histograms}


def _languages(kept, rejected) -> dict:
    langs = []
    for t in (kept, rejected):
        if t is not None and "lang" in t.column_names:
            langs += t.column("lang").to_pylist()
    counts = _count([lang or "unknown" for lang in langs])
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _lengths(kept, rejected, name: str) -> dict | None:
    sizes = []
    for t in (kept, rejected):
        if t is not None and t.num_rows:
            sizes.append(pc.utf8_length(t.column("text")).to_numpy(zero_copy_only=False))
    if not sizes:
        return None
    values = np.log10(np.maximum(np.concatenate(sizes), 1).astype(float))
    h = _histogram(values, [])
    return {"stage": name, "log10_chars": h}


def _clusters(folder: Path, kept, rejected) -> dict:
    clusters = _read(dataset_at(folder / "clusters"))
    sizes = clusters.column("size").to_numpy()
    cluster_ids = clusters.column("cluster").to_pylist()
    # one row per cluster: its size
    seen: dict[str, int] = {}
    for c, s in zip(cluster_ids, sizes.tolist(), strict=True):
        if c is not None:
            seen[c] = s
    distribution = _count(list(seen.values()))
    texts = {}
    for t in (kept, rejected):
        if t is not None:
            texts.update(zip(t.column("id").to_pylist(), t.column("text").to_pylist(), strict=True))
    examples = []
    biggest = sorted((c for c, s in seen.items() if s > 1), key=lambda c: (-seen[c], c))[:2]
    members: dict[str, list[dict]] = {c: [] for c in biggest}
    if biggest:  # one pass over the table for both clusters
        chosen = clusters.filter(pc.is_in(clusters.column("cluster"), pa.array(biggest)))
        for r in chosen.to_pylist():
            members[r["cluster"]].append(r)
    for c in biggest:
        rows = sorted(members[c], key=lambda r: (not r["kept"], r["id"]))
        examples.append(
            {
                "cluster": c,
                "size": seen[c],
                "members": [
                    {
                        "id": r["id"],
                        "kept": r["kept"],
                        "representative": r["representative"],
                        "excerpt": excerpt(texts.get(r["id"])),
                    }
                    for r in rows[:2]
                ],
            }
        )
    return {
        "clusters": len(seen),
        "documents": int(len(sizes)),
        "size_distribution": {str(k): v for k, v in sorted(distribution.items())},
        "examples": examples,
    }
