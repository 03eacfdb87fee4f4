"""What `corpus report RUN` gathers about a run, read from its folder.

It gathers, from the run's records alone (each stage's record holds the profiles its tasks made of
the parts they wrote, merged: `pipelines/profile.py`), so its memory does not grow with the run:
- the funnel: documents, bytes and tokens after each stage, per source (tokens are counted at the
  shard stage and estimated before it from each source's bytes per token);
- why documents were dropped: per stage and reason, counts and shares, a few real rejected
  documents per reason, and kept documents that passed closest to that reason's threshold;
- distributions: a histogram of every score column with its configured thresholds, document
  lengths, language shares, dedup cluster sizes with two clusters side by side, tokenizer
  fertility per source, tokens per shard;
- run facts: config, versions, seeds, wall time and docs/s per stage.
A stage recorded by a version that made no profiles is profiled here, one part at a time.
`write_report` (in `__init__`) writes `report.json` and one self-contained `index.html`
(`render.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from corpus import storage
from corpus.dataset import MANIFEST_NAME, PART_SUFFIX, Dataset
from corpus.errors import CorpusError
from corpus.schema import SOURCES
from corpus.shards import MANIFEST as SHARDS_MANIFEST
from filters.rules import Rule
from pipelines.params import ConfigError, parse_params
from pipelines.phases import PROFILED
from pipelines.profile import (
    PROFILE_FORMAT,
    histogram,
    in_order,
    merge,
    merge_sketches,
    profile_part,
)
from pipelines.runner import STAGE_RECORD
from pipelines.stages import stage_class

BINS = 30


def dataset_at(path: Path) -> Dataset | None:
    return Dataset(path) if storage.is_file(path / MANIFEST_NAME) else None


def stage_profiles(run_dir: Path, name: str, rules: list[Rule]) -> dict[str, dict | None]:
    """The profiles of stage `name`'s kept, rejected and clusters datasets: merged by the run
    into the stage's record, or, for a stage recorded by a version that made none, made here one
    part at a time. None for a dataset that is absent or has no parts."""
    try:
        record = json.loads(storage.read_text(run_dir / "_state" / name / STAGE_RECORD))
    except (FileNotFoundError, json.JSONDecodeError):
        record = {}
    recorded = record.get("profiles") or {}
    out: dict[str, dict | None] = {}
    for kind in PROFILED:
        dataset = dataset_at(run_dir / name / kind)
        if dataset is None or not dataset.parts:
            out[kind] = None
        elif _current(recorded.get(kind), dataset):
            out[kind] = recorded[kind]
        else:
            out[kind] = _profile_parts(run_dir / name, kind, dataset, rules)
    return out


def _current(profile: dict | None, dataset: Dataset) -> bool:
    """Whether a recorded profile is of this version's making and of these parts."""
    if not profile or profile.get("format") != PROFILE_FORMAT:
        return False
    return profile["rows"] == dataset.num_rows and profile.get("parts") == len(dataset.parts)


def _profile_parts(folder: Path, kind: str, dataset: Dataset, rules: list[Rule]) -> dict | None:
    total = None
    for part in dataset.parts:
        table = dataset.read_part(part)
        stem = part.name.removesuffix(PART_SUFFIX)
        texts = _texts_of(folder, part.name, table) if kind == "clusters" else None
        total = merge(total, profile_part(table, kind, stem, rules, texts))
    return total


def _texts_of(folder: Path, part_name: str, clusters: pa.Table) -> pa.ChunkedArray:
    """The texts of a clusters part's documents, from the kept and rejected parts of its name
    (one task wrote the three)."""
    texts: dict[str, str] = {}
    for kind in ("kept", "rejected"):
        ds = dataset_at(folder / kind)
        for part in ds.parts if ds else []:
            if part.name == part_name:
                t = ds.read_part(part, ["id", "text"])
                texts.update(
                    zip(t.column("id").to_pylist(), t.column("text").to_pylist(), strict=True)
                )
    return pa.chunked_array(
        [[texts.get(i) for i in clusters.column("id").to_pylist()]], pa.string()
    )


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
    if not storage.is_file(record):
        raise CorpusError(f"{storage.show(run_dir)}: not a run folder (no _state/pipeline.json)")
    pipeline = json.loads(storage.read_text(record))
    names = [s["name"] for s in pipeline["stages"]]
    types = {s["name"]: s["type"] for s in pipeline["stages"]}
    base_path = run_dir / "report" / "report.json"
    base = json.loads(storage.read_text(base_path)) if storage.is_file(base_path) else {}
    outcomes = {s["name"]: s for s in base.get("stages", [])}
    params, config_text = _stage_params(pipeline)
    shards_manifest = None
    for name in names:
        if types[name] == "shard" and storage.is_file(run_dir / name / SHARDS_MANIFEST):
            shards_manifest = json.loads(storage.read_text(run_dir / name / SHARDS_MANIFEST))
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
        rules = _stage_rules(kind, params.get(name) or {})
        profiles = stage_profiles(run_dir, name, rules)
        kept, rejected = profiles["kept"], profiles["rejected"]
        if kept is not None or rejected is not None:
            per = {s: dict(v) for s, v in (kept or {}).get("sources", {}).items()}
            for s, v in per.items():
                bpt = bytes_per_token.get(s)
                v["tokens_est"] = int(v["bytes"] / bpt) if bpt else None
            if outcome.get("kind") == "source" and funnel and funnel[-1].get("merged"):
                _merge_sources(funnel[-1], name, per)  # several source stages: one first row
            elif outcome.get("kind") == "source":
                funnel.append({"stage": name, "type": kind, "sources": per, "merged": [name]})
            else:
                funnel.append({"stage": name, "type": kind, "sources": per})
        if rejected is not None and rejected["rows"]:
            drops.append(_drops(run_dir, name, kept, rejected, rules))
            if kind == "filter" or any(c.endswith("_score") for c in rejected["numeric"]):
                scores.append(_scores(name, kept, rejected, rules))
        if kind == "dedup" and outcome.get("top_spans"):
            mode = (params.get(name) or {}).get("mode", "lines")
            found = {"stage": name, "unit": mode, "spans": outcome["top_spans"]}
            extras.setdefault("repeated_spans", []).append(found)
        if kind == "dedup" and profiles["clusters"] is not None:
            extras["dedup"] = _clusters(profiles["clusters"])
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
    ablations = [n for n in names if types[n] == "ablate"]
    ablations += [] if "ablation" in names else ["ablation"]  # `corpus ablate RUN` writes there
    for name in ablations:
        results = run_dir / name / "results.json"
        if storage.is_file(results):
            found = json.loads(storage.read_text(results))
            extras.setdefault("ablation", []).append({"stage": name, **found})
    return {
        "pipeline": pipeline["name"],
        "config": pipeline["config"],
        "config_text": config_text,
        "run_dir": storage.show(run_dir),
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
    """Each drop reason of a stage: count, share, per source, a few rejected documents, and the
    kept documents that passed closest to its threshold."""
    docs_in = rejected["rows"] + (kept["rows"] if kept is not None else 0)
    thresholds = _thresholds_by_column(rules, in_order(rejected["numeric"]))
    by_reason = {}
    reasons = rejected["reasons"]
    for reason in sorted(reasons, key=lambda r: (-reasons[r]["count"], r)):
        found = reasons[reason]
        related = [c for c, ts in thresholds.items() if any(t["reason"] == reason for t in ts)]
        samples = [
            {**_shown(row), "error": row["error"], "trace": f"corpus trace {run_dir} {row['id']}"}
            for row in sorted(found["samples"], key=lambda r: r["key"][1:])  # in dataset order
        ]
        near = []
        if kept is not None and related:
            near = [_shown(row) for row in kept.get("near", {}).get(f"{reason}|{related[0]}", [])]
        by_reason[reason] = {
            "count": found["count"],
            "share": round(found["count"] / docs_in, 6) if docs_in else 0.0,
            "per_source": dict(sorted(found["per_source"].items())),
            "column": related[0] if related else None,
            "threshold": next(
                (t for c in related for t in thresholds[c] if t["reason"] == reason), None
            ),
            "samples": samples,
            "kept_near_threshold": near,
        }
    return {"stage": name, "docs_in": docs_in, "rejected": rejected["rows"], "reasons": by_reason}


def _shown(row: dict) -> dict:
    return {k: row[k] for k in ("id", "source", "excerpt", "scores")}


def _scores(name: str, kept, rejected, rules: list[Rule]) -> dict:
    profiles = [p for p in (kept, rejected) if p is not None and p["rows"]]
    columns: list[str] = []
    for p in profiles:  # the kept documents' columns, then the rejected ones' others
        columns += [c for c in in_order(p["numeric"]) if c not in columns]
    thresholds = _thresholds_by_column(rules, columns)
    histograms = {}
    for c in columns:
        merged = None
        for p in profiles:
            merged = merge_sketches(merged, p["columns"].get(c))
        h = histogram(merged, thresholds.get(c, []), BINS)
        if h is not None:
            histograms[c] = h
    return {"stage": name, "histograms": histograms}


def _languages(kept, rejected) -> dict:
    counts: dict[str, int] = {}
    for p in (kept, rejected):
        for lang, n in (p or {}).get("langs", {}).items():
            counts[lang] = counts.get(lang, 0) + n
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _lengths(kept, rejected, name: str) -> dict | None:
    merged = merge_sketches((kept or {}).get("log10_chars"), (rejected or {}).get("log10_chars"))
    if merged is None:
        return None
    return {"stage": name, "log10_chars": histogram(merged, [], BINS)}


def _clusters(profile: dict) -> dict:
    found = profile["clusters"]
    return {
        "clusters": sum(found["sizes"].values()),
        "documents": found["documents"],
        "size_distribution": dict(sorted(found["sizes"].items(), key=lambda kv: int(kv[0]))),
        "examples": [
            {"cluster": c, "size": v["size"], "members": v["members"]}
            for c, v in found["top"].items()
        ],
    }
