"""`corpus report RUN` and `corpus trace RUN DOC_ID`: what a run made, read from its folder.

- `collect.py` gathers the report's data (the same object as report.json);
- `render.py` draws it as one self-contained index.html;
- `trace.py` follows one document through the run.
"""

from __future__ import annotations

from pathlib import Path

from corpus import storage
from corpus.dataset import write_bytes_atomic, write_json_atomic
from pipelines.report.collect import collect
from pipelines.report.render import render
from pipelines.report.trace import trace

__all__ = ["collect", "render", "summary", "trace", "write_report"]


def write_report(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, dict]:
    """Collect the report of `run_dir` and write report.json and index.html into `out`."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "report"
    data = collect(run_dir)
    storage.makedirs(out)
    write_json_atomic(out / "report.json", data)
    write_bytes_atomic(out / "index.html", render(data).encode("utf-8"))
    return out / "index.html", data


def summary(data: dict) -> str:
    """The funnel and the drop reasons as a short table for the terminal."""
    lines = [f"{'stage':<14} {'type':<14} {'docs in':>9} {'docs out':>9}  top drop reasons"]
    drops = {d["stage"]: d for d in data["drops"]}
    for s in data["stages"]:
        d = drops.get(s["name"])
        reasons = ""
        if d:
            top = list(d["reasons"].items())[:3]
            reasons = ", ".join(f"{r} {v['count']:,}" for r, v in top)
        elif s.get("rejected"):  # a stage without a rejected dataset (a crawl's URLs)
            top = sorted(s["rejected"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            reasons = ", ".join(f"{r} {n:,}" for r, n in top)
        retried = (s.get("counters") or {}).get("extract_timeout_retried")
        if retried:  # pages over the extraction time limit, tried once more with a longer one
            recovered = s["counters"].get("extract_timeout_recovered", 0)
            note = f"timeouts retried {retried:,}, recovered {recovered:,}"
            reasons = f"{reasons}; {note}" if reasons else note
        docs_in = "-" if s["docs_in"] is None else f"{s['docs_in']:,}"
        docs_out = "-" if s["docs_out"] is None else f"{s['docs_out']:,}"
        lines.append(f"{s['name']:<14} {s['type']:<14} {docs_in:>9} {docs_out:>9}  {reasons}")
    return "\n".join(lines)
