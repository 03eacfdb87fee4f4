"""An ablation's results: each arm's bits per byte on each eval text, over seeds, and its paired
difference to the first arm; the table `corpus ablate` prints and the report shows.

A difference is paired by seed: arm A and the first arm trained with seed k saw the same init and
batch order, so d_k = bpb(A, k) - bpb(first, k) cancels what the seed alone does, and its
standard error is std(d) / sqrt(K). A difference is called beyond noise when its t statistic,
diff / SE, passes the two-sided 95% point of Student's t with K - 1 degrees of freedom (12.7 for
2 seeds, 4.3 for 3, 2.8 for 5, near 2 for many): with few seeds, twice the standard error is
passed by chance far more often than 1 time in 20. One seed gives no error bar, and the table
says so.
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
    return {**out, "diff": diff, "se": se, "verdict": verdict(diff, se, len(d))}


# the two-sided 95% points of Student's t for 1..30 degrees of freedom
T95 = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
]  # fmt: skip


def t95(seeds: int) -> float:
    """How many standard errors a paired difference over `seeds` seeds must pass."""
    return T95[seeds - 2] if seeds - 1 <= len(T95) else 1.96


def verdict(diff: float, se: float | None, seeds: int) -> str:
    """A difference in bpb in words: lower is better."""
    if se is None:
        return "one seed: no error bar"
    word = "better" if diff < 0 else "worse"
    if se == 0:  # every seed gave the same difference
        return "no difference" if diff == 0 else f"{word} beyond noise (every seed alike)"
    t, cut = abs(diff) / se, t95(seeds)
    if t <= cut:
        return f"within noise ({t:.1f} SE, under {cut:.1f})"
    return f"{word} beyond noise ({t:.1f} SE, over {cut:.1f})"


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
