"""An ablation's results: each arm's bits per byte on each eval text, over seeds, and its paired
difference to the first arm; the table `corpus ablate` prints and the report shows.

A difference is paired by seed: arm A and the first arm trained with seed k saw the same init and
batch order, so d_k = bpb(A, k) - bpb(first, k) cancels what the seed alone does, and its
standard error is std(d) / sqrt(K). A difference larger than twice its standard error is called
beyond noise; one seed gives no error bar, and the table says so.
"""

from __future__ import annotations

import math
from statistics import mean, stdev


def arm_summary(bpb: list[float], first: list[float] | None) -> dict:
    """Mean and std of one arm's final bpb over the seeds, and its paired difference to the
    first arm's (None for the first arm itself) with the standard error and the verdict."""
    out = {"mean": mean(bpb), "std": stdev(bpb) if len(bpb) > 1 else None}
    if first is None:
        return {**out, "diff": None, "se": None, "verdict": "baseline"}
    d = [a - b for a, b in zip(bpb, first, strict=True)]
    diff = mean(d)
    se = stdev(d) / math.sqrt(len(d)) if len(d) > 1 else None
    return {**out, "diff": diff, "se": se, "verdict": verdict(diff, se)}


def verdict(diff: float, se: float | None) -> str:
    """A difference in bpb in words: lower is better."""
    if se is None:
        return "one seed: no error bar"
    if abs(diff) <= 2 * se:
        return "within noise (under 2 SE)"
    return f"{'better' if diff < 0 else 'worse'} beyond noise ({abs(diff) / se:.1f} SE)"


def summarize(results: dict) -> dict:
    """results["summary"]: {eval: {arm: arm_summary}}, arms in their order, from the runs."""
    arms = [a["name"] for a in results["arms"]]
    summary = {}
    for ev in results["eval"]:
        final = {
            arm: [
                r["bpb"][ev]
                for r in sorted(results["runs"], key=lambda r: r["seed"])
                if r["arm"] == arm
            ]
            for arm in arms
        }
        summary[ev] = {
            arm: arm_summary(final[arm], None if i == 0 else final[arms[0]])
            for i, arm in enumerate(arms)
        }
    return summary


def curves(results: dict, ev: str) -> dict[str, list[tuple[int, float]]]:
    """Each arm's bpb on `ev` against tokens trained, the mean over its seeds at each eval."""
    out = {}
    for arm in (a["name"] for a in results["arms"]):
        points: dict[int, list[float]] = {}
        for run in results["runs"]:
            if run["arm"] == arm:
                for p in run["curve"]:
                    if ev in p["bpb"]:
                        points.setdefault(p["tokens"], []).append(p["bpb"][ev])
        out[arm] = [(t, mean(v)) for t, v in sorted(points.items())]
    return out


def _pm(value: float | None, spread: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    tail = "" if spread is None else f" ± {spread:.{digits}f}"
    return f"{value:.{digits}f}{tail}"


def table(results: dict) -> str:
    """The terminal table: per eval text, each arm's documents, repeat factor, documents removed
    as contaminated, bpb mean ± std and its paired difference to the first arm."""
    arms = results["arms"]
    first = arms[0]["name"]
    k = len(results["seeds"])
    lines = [
        f"ablation: {len(arms)} arms x {k} seed{'s' if k > 1 else ''}, "
        f"{results['tokens']:,} tokens each; bits per byte, lower is better"
    ]
    width = max(len(a["name"]) for a in arms) + 2
    for ev, by_arm in results["summary"].items():
        lines.append(f"\neval {ev}")
        lines.append(
            f"{'arm':<{width}}{'docs':>10}{'repeat':>8}{'contam.':>9}  {'bpb':<18}vs {first} (± SE)"
        )
        for a in arms:
            s = by_arm[a["name"]]
            diff = "" if s["diff"] is None else f"{s['diff']:+.4f}"
            if s["se"] is not None:
                diff += f" ± {s['se']:.4f}"
            versus = f"{diff}: {s['verdict']}" if s["diff"] is not None else "-"
            lines.append(
                f"{a['name']:<{width}}{a['docs']:>10,}{a['repeat']:>7.2f}x"
                f"{a['contaminated']:>9,}  {_pm(s['mean'], s['std']):<18}{versus}"
            )
    return "\n".join(lines)
