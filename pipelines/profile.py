"""Part profiles: what the report needs of a dataset, made where its parts are written.

The task that writes a part of a stage's `kept`, `rejected` or `clusters` dataset also makes its
profile, a small summary with a bounded size whatever the part holds:
- documents and text bytes per source;
- per drop reason: its count, its count per source, and the rejected documents with the smallest
  hash of their id (the same few every time, however the parts fall);
- per threshold: the kept documents whose score is closest to it;
- per numeric column, and for text length: a mergeable histogram (`Sketch`);
- language counts, and dedup cluster sizes with the largest clusters' first members.

The task commits the profile in its record and the driver merges the records into the stage's
record, so `corpus report` reads one small record per stage, never the documents. Merging is
exact: the counts, samples and kept-near-threshold rows are those a pass over the whole dataset
finds, and so are histograms of up to 2,048 distinct values; past that, values are rounded to
16 significant bits (fewer if still too many), so one close to a bin edge may fall in the next.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filters.rules import Rule

SAMPLES = 5  # documents kept per drop reason, and kept near each threshold
EXCERPT = 400  # characters of each shown document
PROFILE_FORMAT = 1  # a profile of another format is not merged nor trusted: the parts are read
KEYS = 2048  # distinct values a histogram summary holds before it rounds them
EXACT = 53  # significant bits of a float64: not rounded
NOT_SCORES = {"id", "text", "source", "url", "title", "author", "date", "meta", "reason", "error"}
TOP_CLUSTERS = 2  # clusters shown side by side
MEMBERS = 2  # members shown of each


def excerpt(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


# --- histograms ----------------------------------------------------------------------------


def sketch(values: np.ndarray) -> dict | None:
    """A mergeable summary of `values`' finite numbers: count, sum, min and max, and a
    count per distinct value; past `KEYS` distinct values they are cut to fewer significant bits
    (16, then one less at a time) until they fit, so the summary stays small.

    Cutting to b bits and then to fewer is cutting to fewer at once, so merged summaries do not
    depend on the order they are merged in: tasks' profiles merge as they finish."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)] + 0.0  # -0.0 is 0.0, whichever part has it
    if len(values) == 0:
        return None
    unique, counts = np.unique(values, return_counts=True)
    unique, counts, bits = _fit(unique, counts, EXACT)
    return {
        "n": int(len(values)),
        # the part's sum correctly rounded, added exactly to the others' (in any order)
        "sum": str(Fraction(math.fsum(values))),
        "min": float(values.min()),
        "max": float(values.max()),
        "bits": bits,
        "values": unique.tolist(),
        "counts": counts.tolist(),
    }


def _rounded(values: np.ndarray, bits: int) -> np.ndarray:
    if bits >= EXACT:
        return values
    mantissa, exponent = np.frexp(values)
    return np.ldexp(np.trunc(mantissa * 2.0**bits) / 2.0**bits, exponent) + 0.0


def _regroup(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, inverse = np.unique(values, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)


def _fit(values: np.ndarray, counts: np.ndarray, bits: int):
    while len(values) > KEYS:
        bits = min(bits - 1, 16)
        values, counts = _regroup(_rounded(values, bits), counts)
    return values, counts, bits


def merge_sketches(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a or b
    bits = min(a["bits"], b["bits"])
    values = np.concatenate(
        [_rounded(np.asarray(a["values"]), bits), _rounded(np.asarray(b["values"]), bits)]
    )
    counts = np.concatenate([a["counts"], b["counts"]]).astype(np.int64)
    values, counts, bits = _fit(*_regroup(values, counts), bits)
    return {
        "n": a["n"] + b["n"],
        "sum": str(Fraction(a["sum"]) + Fraction(b["sum"])),
        "min": min(a["min"], b["min"]),
        "max": max(a["max"], b["max"]),
        "bits": bits,
        "values": values.tolist(),
        "counts": counts.tolist(),
    }


def histogram(s: dict | None, thresholds: list[dict], bins: int = 30) -> dict | None:
    """`bins` equal bins from the smallest to the largest value or threshold, as the report
    draws them; min, max, count and mean are exact."""
    if s is None:
        return None
    lo, hi = s["min"], s["max"]
    for t in thresholds:
        lo, hi = min(lo, t["value"]), max(hi, t["value"])
    if hi == lo:
        hi = lo + 1.0
    values = np.clip(np.asarray(s["values"]), s["min"], s["max"])  # rounding stays in range
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi), weights=s["counts"])
    return {
        "edges": [round(float(e), 6) for e in edges],
        "counts": counts.astype(int).tolist(),
        "n": s["n"],
        "mean": round(float(Fraction(s["sum"]) / s["n"]), 6),
        "thresholds": thresholds,
    }


# --- one part ------------------------------------------------------------------------------


def _hash(doc_id: str) -> str:
    return hashlib.blake2b(doc_id.encode(), digest_size=8).hexdigest()


def _count(values: Iterable) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def numeric_columns(schema: pa.Schema) -> list[str]:
    numeric = (pa.types.is_integer, pa.types.is_floating)
    return [f.name for f in schema if f.name not in NOT_SCORES and any(t(f.type) for t in numeric)]


def first_bounds(rules: list[Rule]) -> list[tuple[str, str, dict]]:
    """(reason, column, threshold) for each rule's first bound set by a parameter, in rule
    order: the threshold the report measures a reason's kept documents against."""
    out = []
    for rule in rules:
        if rule.param is None:
            continue
        for kind, value in (("min", rule.min), ("max", rule.max)):
            if value is not None:
                t = {"param": rule.param, "value": value, "kind": kind, "reason": rule.name}
                out.append((rule.name, rule.column, t))
    return out


def profile_part(
    table: pa.Table,
    dataset: str,
    part: str,
    rules: list[Rule] = (),
    texts: pa.ChunkedArray | None = None,
    counted: np.ndarray | None = None,
) -> dict:
    """The profile of one part `part` (its name) of dataset `dataset` of a stage dropping by
    `rules`; a `clusters` part takes its members' `texts` (in its row order) and `counted`, the
    one row of each cluster that counts it (default: the row whose id names the cluster)."""
    head = {"format": PROFILE_FORMAT, "rows": table.num_rows, "parts": 1}
    if dataset == "clusters":
        return {**head, "clusters": _clusters(table, texts, part, counted)}
    profile: dict = {**head, "sources": _sources(table)}
    columns = {}
    numeric = numeric_columns(table.schema)
    for c in numeric:
        s = sketch(table.column(c).to_numpy(zero_copy_only=False).astype(np.float64))
        if s is not None:
            columns[c] = s
    # where each numeric column first appears (part, position), with or without finite values
    profile["numeric"] = {c: [part, table.column_names.index(c)] for c in numeric}
    profile["columns"] = columns
    if "lang" in table.column_names:
        profile["langs"] = _count(lang or "unknown" for lang in table.column("lang").to_pylist())
    if table.num_rows:
        chars = pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False)
        profile["log10_chars"] = sketch(np.log10(np.maximum(chars, 1).astype(np.float64)))
    if dataset == "rejected" and "reason" in table.column_names:
        profile["reasons"] = _reasons(table, rules, part)
    if dataset == "kept":
        profile["near"] = _near(table, rules, part)
    return profile


def _sources(table: pa.Table) -> dict:
    if table.num_rows == 0:
        return {}
    sizes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
    sources = np.array(table.column("source").to_pylist(), dtype=object)
    out = {}
    for s in sorted(set(sources.tolist())):
        mask = sources == s
        out[s] = {"docs": int(mask.sum()), "bytes": int(sizes[mask].sum())}
    return out


def _reasons(table: pa.Table, rules: list[Rule], part: str) -> dict:
    reasons = np.array(table.column("reason").to_pylist(), dtype=object)
    ids = table.column("id").to_pylist()
    sources = table.column("source").to_pylist()
    related_by_reason: dict[str, list[str]] = {}
    for reason, column, _ in first_bounds(rules):
        if column in table.column_names and column not in related_by_reason.get(reason, []):
            related_by_reason.setdefault(reason, []).append(column)
    out = {}
    for reason in sorted(set(reasons.tolist())):
        rows = np.flatnonzero(reasons == reason)
        keyed = sorted(rows.tolist(), key=lambda i: (_hash(ids[i]), i))[:SAMPLES]
        related = related_by_reason.get(reason, [])
        samples = [_shown(table, i, [_hash(ids[i]), part, i], related, error=True) for i in keyed]
        out[reason] = {
            "count": len(rows),
            "per_source": _count(sources[i] for i in rows.tolist()),
            "samples": samples,
        }
    return out


def _shown(table: pa.Table, i: int, key: list, columns: list[str], error: bool = False) -> dict:
    """Row `i` as the report shows it, with the `key` that orders it among the others' rows."""
    row = table.slice(i, 1).to_pylist()[0]
    shown = {"key": key, "id": row["id"], "source": row["source"]}
    shown["excerpt"] = excerpt(row.get("text"))
    if error:
        shown["error"] = row.get("error")
    shown["scores"] = {c: row.get(c) for c in columns}
    return shown


def _near(table: pa.Table, rules: list[Rule], part: str) -> dict:
    """Per (reason, column) with a threshold: the kept documents closest to it."""
    out = {}
    for reason, column, t in first_bounds(rules):
        key = f"{reason}|{column}"
        if key in out or column not in table.column_names:
            continue
        values = table.column(column).to_numpy(zero_copy_only=False).astype(float)
        distance = np.abs(values - t["value"])
        finite = np.flatnonzero(np.isfinite(distance))
        order = finite[np.argsort(distance[finite], kind="stable")[:SAMPLES]]
        rows = [_shown(table, i, [float(distance[i]), part, i], [column]) for i in order.tolist()]
        out[key] = rows
    return out


def _clusters(table: pa.Table, texts, part: str, counted: np.ndarray | None) -> dict:
    ids = table.column("id").to_pylist()
    cluster = table.column("cluster").to_pylist()
    size = table.column("size").to_pylist()
    kept = table.column("kept").to_pylist()
    if counted is None:
        counted = np.array([c is not None and c == i for c, i in zip(cluster, ids, strict=True)])
    centres = [i for i in np.flatnonzero(counted).tolist() if cluster[i] is not None]
    sizes = _count(str(size[i]) for i in centres)
    big = sorted({(-size[i], cluster[i]) for i in range(len(ids)) if (size[i] or 0) > 1})
    top = {}
    for minus_size, c in big[:TOP_CLUSTERS]:
        rows = [i for i in range(len(ids)) if cluster[i] == c]
        rows.sort(key=lambda i: (not kept[i], ids[i]))
        top[c] = {
            "size": -minus_size,
            "members": [
                {
                    "id": ids[i],
                    "kept": kept[i],
                    "representative": table.column("representative")[i].as_py(),
                    "excerpt": excerpt(texts[i].as_py() if texts is not None else None),
                }
                for i in rows[:MEMBERS]
            ],
        }
    return {"documents": len(ids), "sizes": sizes, "top": top}


# --- merging -------------------------------------------------------------------------------


def _add_counts(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def merge(a: dict | None, b: dict | None) -> dict | None:
    """The profile of the parts of `a` and `b` together."""
    if a is None or b is None:
        return a or b
    if a.get("format") != PROFILE_FORMAT or b.get("format") != PROFILE_FORMAT:
        raise ValueError("profiles of another format cannot be merged")
    out: dict = {"format": PROFILE_FORMAT, "rows": a["rows"] + b["rows"]}
    out["parts"] = a["parts"] + b["parts"]
    if "clusters" in a or "clusters" in b:
        out["clusters"] = _merge_clusters(a.get("clusters"), b.get("clusters"))
        return out
    sources = {k: dict(v) for k, v in a.get("sources", {}).items()}
    for s, v in b.get("sources", {}).items():
        into = sources.setdefault(s, {"docs": 0, "bytes": 0})
        into["docs"] += v["docs"]
        into["bytes"] += v["bytes"]
    out["sources"] = dict(sorted(sources.items()))
    numeric = dict(a.get("numeric", {}))
    for c, at in b.get("numeric", {}).items():
        numeric[c] = min(numeric.get(c, at), at)
    out["numeric"] = dict(sorted(numeric.items()))
    columns = dict(a.get("columns", {}))
    for c, s in b.get("columns", {}).items():
        columns[c] = merge_sketches(columns.get(c), s)
    out["columns"] = dict(sorted(columns.items()))
    if "langs" in a or "langs" in b:
        out["langs"] = dict(sorted(_add_counts(a.get("langs", {}), b.get("langs", {})).items()))
    if "log10_chars" in a or "log10_chars" in b:
        out["log10_chars"] = merge_sketches(a.get("log10_chars"), b.get("log10_chars"))
    if "reasons" in a or "reasons" in b:
        reasons = dict(a.get("reasons", {}))
        for r, v in b.get("reasons", {}).items():
            if r not in reasons:
                reasons[r] = v
                continue
            w = reasons[r]
            reasons[r] = {
                "count": w["count"] + v["count"],
                "per_source": dict(sorted(_add_counts(w["per_source"], v["per_source"]).items())),
                "samples": _smallest(w["samples"] + v["samples"]),
            }
        out["reasons"] = dict(sorted(reasons.items()))
    if "near" in a or "near" in b:
        near = dict(a.get("near", {}))
        for k, rows in b.get("near", {}).items():
            near[k] = _smallest(near.get(k, []) + rows)
        out["near"] = dict(sorted(near.items()))
    return out


def in_order(numeric: dict) -> list[str]:
    """A profile's numeric columns in the order they first appear in its parts."""
    return sorted(numeric, key=lambda c: (numeric[c], c))


def _smallest(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: tuple(r["key"]))[:SAMPLES]


def _merge_clusters(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a or b
    top = {c: dict(v) for c, v in a["top"].items()}
    for c, v in b["top"].items():
        if c in top:
            members = top[c]["members"] + v["members"]
            members.sort(key=lambda m: (not m["kept"], m["id"]))
            top[c] = {"size": v["size"], "members": members[:MEMBERS]}
        else:
            top[c] = v
    order = sorted(top, key=lambda c: (-top[c]["size"], c))[:TOP_CLUSTERS]
    return {
        "documents": a["documents"] + b["documents"],
        "sizes": dict(sorted(_add_counts(a["sizes"], b["sizes"]).items())),
        "top": {c: top[c] for c in order},
    }


def merge_all(profiles: Iterable[dict | None]) -> dict | None:
    total = None
    for p in profiles:
        total = merge(total, p)
    return total
