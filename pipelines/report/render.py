"""The quality report as one self-contained HTML page: inline CSS and SVG charts drawn here, no
script, no font or file from anywhere else, so it opens offline and from an archive as it is.

`render(data)` takes what `collect.py` gathered (the same object as report.json).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from pipelines.ablation import curves

COLORS = {
    "web": "#4e79a7",
    "article": "#59a14f",
    "book": "#f28e2b",
    "forum": "#b07aa1",
    "social": "#e15759",
}
ACCENT = "#4e79a7"
THRESHOLD = "#d62728"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:16px 28px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8}
main{padding:8px 28px 40px;max-width:1280px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 18px;
margin:16px 0}
h2{font-size:18px;margin:4px 0 10px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0}
td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th{background:#f3f3f3}
td.l,th.l{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #eee;border-radius:4px;padding:6px 8px}
.doc{font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;background:#f7f7f7;
border-left:3px solid #ccc;padding:6px 8px;margin:4px 0;max-height:12em;overflow:auto}
.drop{border-left-color:#d62728}
.keep{border-left-color:#2ca02c}
.muted{color:#777;font-size:12px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.legend span{display:inline-block;margin-right:12px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
code{background:#f0f0f0;padding:0 3px;border-radius:3px}
details{margin:4px 0}
summary{cursor:pointer}
"""


def _n(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def _mb(value) -> str:
    return "–" if value is None else f"{value / 1e6:,.2f} MB"


# --- charts ---------------------------------------------------------------------------------------


def bar_chart(labels: list[str], values: list[float], title: str, color: str = ACCENT) -> str:
    """Horizontal bars, one per label."""
    if not values:
        return ""
    width, row, left = 640, 22, 230
    height = row * len(values) + 10
    top = max(values) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row
        w = max(1.0, (width - left - 90) * value / top) if value else 0
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(str(label))[:34]}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}">'
            f"<title>{escape(str(label))}: {_n(value)}</title></rect>"
            f'<text x="{left + w + 5:.1f}" y="{y + 15}" font-size="12">{_n(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked_chart(rows: list[tuple[str, dict]], keys: list[str], title: str) -> str:
    """Horizontal bars split by key (source), one bar per row."""
    if not rows:
        return ""
    width, row, left = 700, 26, 150
    height = row * len(rows) + 10
    top = max(sum(v or 0 for v in values.values()) for _, values in rows) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, (label, values) in enumerate(rows):
        y, x = 5 + i * row, float(left)
        parts.append(
            f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
        )
        total = 0
        for key in keys:
            value = values.get(key) or 0
            total += value
            w = (width - left - 90) * value / top
            if w <= 0:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                f'fill="{COLORS.get(key, ACCENT)}"><title>{escape(label)}, {escape(key)}: '
                f"{_n(value)}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 5:.1f}" y="{y + 17}" font-size="12">{_n(total)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_chart(name: str, h: dict, log_x: bool = False) -> str:
    """A histogram with its thresholds drawn as red lines."""
    width, height, pad = 300, 150, 24
    edges, counts = h["edges"], h["counts"]
    lo, hi = edges[0], edges[-1]
    top = max(counts) or 1
    bar_w = (width - 2 * pad) / len(counts)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(name)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, c in enumerate(counts):
        if not c:
            continue
        bh = (height - 2 * pad) * c / top
        parts.append(
            f'<rect x="{pad + i * bar_w:.1f}" y="{height - pad - bh:.1f}" width="{bar_w - 1:.1f}" '
            f'height="{bh:.1f}" fill="{ACCENT}"><title>[{_edge(edges[i], log_x)}, '
            f"{_edge(edges[i + 1], log_x)}): {c:,}</title></rect>"
        )
    for t in h.get("thresholds", []):
        x = pad + (width - 2 * pad) * (t["value"] - lo) / (hi - lo)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad - 8}" y2="{height - pad}" '
            f'stroke="{THRESHOLD}" stroke-width="2"><title>{escape(t["param"])} = {t["value"]}'
            f"</title></line>"
        )
    parts.append(
        f'<line x1="{pad}" x2="{width - pad}" y1="{height - pad}" y2="{height - pad}" '
        'stroke="#999"/>'
        f'<text x="{pad}" y="{height - 6}" font-size="11">{_edge(lo, log_x)}</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">'
        f"{_edge(hi, log_x)}</text></svg>"
    )
    return "".join(parts)


def _edge(value: float, log_x: bool) -> str:
    return _n(round(10**value)) if log_x else f"{value:.3g}"


def _legend(keys: list[str]) -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i class="sw" style="background:{COLORS.get(k, ACCENT)}"></i>{escape(k)}</span>'
            for k in keys
        )
        + "</p>"
    )


# --- sections -------------------------------------------------------------------------------------


def _funnel(data: dict) -> str:
    sources = data["sources"]
    rows_docs = [
        (f["stage"], {s: v["docs"] for s, v in f["sources"].items()}) for f in data["funnel"]
    ]
    out = ["<section id=funnel><h2>The funnel</h2>", _legend(sources)]
    out.append("<h3>Documents after each stage, per source</h3>")
    out.append(stacked_chart(rows_docs, sources, "documents after each stage"))
    tokens = []
    for f in data["funnel"]:
        values = {s: v.get("tokens", v.get("tokens_est")) for s, v in f["sources"].items()}
        if any(v for v in values.values()):
            tokens.append((f["stage"], values))
    if tokens:
        out.append("<h3>Tokens after each stage, per source</h3>")
        out.append(stacked_chart(tokens, sources, "tokens after each stage"))
        out.append(
            '<p class="muted">Counted at the shard stage (with each document\'s '
            "&lt;|endoftext|&gt;, repeats included); before it, estimated from each source's "
            "bytes per token.</p>"
        )
    head = "".join(f"<th colspan=3>{escape(s)}</th>" for s in sources)
    sub = "<th>docs</th><th>bytes</th><th>tokens</th>" * len(sources)
    out.append(f"<table><tr><th class=l>stage</th>{head}</tr><tr><th></th>{sub}</tr>")
    for f in data["funnel"]:
        cells = ""
        for s in sources:
            v = f["sources"].get(s, {})
            tok = v.get("tokens")
            tok = (
                _n(tok)
                if tok is not None
                else (f"~{_n(v['tokens_est'])}" if v.get("tokens_est") else "–")
            )
            cells += f"<td>{_n(v.get('docs'))}</td><td>{_mb(v.get('bytes'))}</td><td>{tok}</td>"
        label = f["stage"]
        if len(f.get("merged") or []) > 1:
            label += f" ({', '.join(f['merged'])})"
        out.append(f"<tr><td class=l>{escape(label)}</td>{cells}</tr>")
    out.append("</table></section>")
    return "".join(out)


def _doc(d: dict, cls: str) -> str:
    scores = ", ".join(f"{escape(k)} = {_n(v)}" for k, v in (d.get("scores") or {}).items())
    meta = f"<b>{escape(d['id'])}</b> ({escape(d.get('source') or '')}) {scores}"
    if d.get("error"):
        meta += f" <i>{escape(d['error'])}</i>"
    trace = f" <code>{escape(d['trace'])}</code>" if d.get("trace") else ""
    return f'<div class="doc {cls}">{meta}{trace}\n{escape(d.get("excerpt") or "")}</div>'


def _drops(data: dict) -> str:
    out = ["<section id=drops><h2>Why documents were dropped</h2>"]
    if not data["drops"]:
        out.append("<p>No stage rejected any document.</p>")
    for d in data["drops"]:
        out.append(
            f"<h3>{escape(d['stage'])}: {d['rejected']:,} of {d['docs_in']:,} documents "
            f"dropped</h3>"
        )
        reasons = list(d["reasons"].items())
        out.append(bar_chart([r for r, _ in reasons], [v["count"] for _, v in reasons],
                             f"drops in {d['stage']}", "#d62728"))  # fmt: skip
        out.append(
            "<table><tr><th class=l>reason</th><th>documents</th><th>share of input</th>"
            "<th class=l>per source</th><th class=l>threshold</th></tr>"
        )
        for reason, v in reasons:
            t = v.get("threshold")
            threshold = f"{escape(t['param'])} = {_n(t['value'])}" if t else ""
            per = ", ".join(f"{escape(s)} {n:,}" for s, n in v["per_source"].items())
            out.append(
                f"<tr><td class=l>{escape(reason)}</td><td>{v['count']:,}</td>"
                f"<td>{v['share']:.1%}</td><td class=l>{per}</td><td class=l>{threshold}</td></tr>"
            )
        out.append("</table>")
        for reason, v in reasons:
            near = ", and kept ones nearest the threshold" if v["kept_near_threshold"] else ""
            out.append(
                f"<details open><summary>{escape(reason)}: dropped documents{near}</summary>"
            )
            out.append('<div class="pair"><div>')
            out.extend(_doc(s, "drop") for s in v["samples"])
            out.append("</div><div>")
            out.extend(_doc(s, "keep") for s in v["kept_near_threshold"])
            out.append("</div></div></details>")
    out.append("</section>")
    return "".join(out)


def _distributions(data: dict) -> str:
    out = ["<section id=distributions><h2>Distributions</h2>"]
    lengths = data.get("lengths")
    if lengths and lengths.get("log10_chars"):
        out.append(
            f"<h3>Document length (characters, log scale) entering {escape(lengths['stage'])}</h3>"
        )
        out.append(histogram_chart("length", lengths["log10_chars"], log_x=True))
    for block in data["scores"]:
        out.append(f"<h3>Scores in {escape(block['stage'])}</h3><div class=grid>")
        for name, h in block["histograms"].items():
            lines = "; ".join(f"{escape(t['param'])} = {_n(t['value'])}" for t in h["thresholds"])
            out.append(
                f"<div class=card><b>{escape(name)}</b> <span class=muted>n {h['n']:,}, mean "
                f"{_n(h['mean'])}{'; ' + lines if lines else ''}</span><br>"
                f"{histogram_chart(name, h)}</div>"
            )
        out.append("</div>")
    if data.get("languages"):
        langs = list(data["languages"].items())[:20]
        out.append("<h3>Languages</h3>")
        out.append(bar_chart([k for k, _ in langs], [v for _, v in langs], "languages"))
    dedup = data.get("dedup")
    if dedup:
        sizes = list(dedup["size_distribution"].items())
        out.append(
            f"<h3>Dedup: {dedup['clusters']:,} clusters over {dedup['documents']:,} documents; "
            "clusters by size</h3>"
        )
        out.append(
            bar_chart([f"size {k}" for k, _ in sizes], [v for _, v in sizes], "cluster sizes")
        )
        for ex in dedup["examples"]:
            out.append(
                f"<h3>Cluster {escape(ex['cluster'])} ({ex['size']} documents)</h3><div class=pair>"
            )
            for m in ex["members"]:
                cls = "keep" if m["kept"] else "drop"
                label = (
                    "kept, representative"
                    if m["kept"]
                    else f"dropped, duplicate of {m['representative']}"
                )
                out.append(
                    f'<div class="doc {cls}"><b>{escape(m["id"])}</b> {escape(label)}\n'
                    f"{escape(m['excerpt'])}</div>"
                )
            out.append("</div>")
    if data.get("fertility"):
        items = [(k, v) for k, v in data["fertility"].items() if v is not None]
        out.append("<h3>Tokenizer fertility: tokens per word, per source</h3>")
        out.append(bar_chart([k for k, _ in items], [v for _, v in items], "fertility"))
    if data.get("mixture"):
        out.append(
            "<h3>Mixture</h3><table><tr><th class=l>source</th><th>weight</th>"
            "<th>target share</th><th>realised share</th></tr>"
        )
        for s, v in data["mixture"].items():
            out.append(
                f"<tr><td class=l>{escape(s)}</td><td>{_n(v['weight'])}</td>"
                f"<td>{v['target_share']:.1%}</td><td>{v['realised_share']:.1%}</td></tr>"
            )
        out.append("</table>")
    if data.get("shards"):
        shards = data["shards"]
        out.append(f"<h3>Tokens per shard ({len(shards)} shards)</h3>")
        out.append(
            bar_chart([s["name"] for s in shards], [s["tokens"] for s in shards], "shard tokens")
        )
    out.append("</section>")
    return "".join(out)


def _facts(data: dict) -> str:
    out = ["<section id=facts><h2>Run facts</h2><table>"]
    facts = {
        "pipeline": data["pipeline"],
        "config": data["config"],
        "run folder": data["run_dir"],
        "executor": data.get("executor"),
        "wall time": f"{data['wall_s']:.1f} s" if data.get("wall_s") else None,
        "seeds": ", ".join(f"{k} = {v}" for k, v in data["seeds"].items()) or None,
        "versions": ", ".join(f"{k} {v}" for k, v in data["versions"].items() if v) or None,
    }
    for k, v in facts.items():
        out.append(f"<tr><th class=l>{escape(k)}</th><td class=l>{escape(str(v or '–'))}</td></tr>")
    out.append("</table><h3>Stages</h3><table><tr><th class=l>stage</th><th class=l>type</th>"
               "<th>docs in</th><th>docs out</th><th>wall s</th><th>docs/s</th></tr>")  # fmt: skip
    for s in data["stages"]:
        out.append(
            f"<tr><td class=l>{escape(s['name'])}</td><td class=l>{escape(s['type'])}</td>"
            f"<td>{_n(s['docs_in'])}</td><td>{_n(s['docs_out'])}</td><td>{_n(s['wall_s'])}</td>"
            f"<td>{_n(s['docs_per_s'])}</td></tr>"
        )
    out.append("</table>")
    if data.get("config_text"):
        out.append(f"<h3>Config</h3><pre class=doc>{escape(data['config_text'])}</pre>")
    out.append("</section>")
    return "".join(out)


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, x_label: str) -> str:
    """One line per series (an arm): y against x, both axes labelled at their ends."""
    points = [p for line in series.values() for p in line]
    if not points:
        return ""
    width, height, left, bottom, top_pad, right = 640, 260, 60, 30, 12, 120
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or 0.05
    y0, y1 = y0 - pad, y1 + pad

    def at(x: float, y: float) -> str:
        px = left + (width - left - right) * (x - x0) / ((x1 - x0) or 1)
        py = top_pad + (height - top_pad - bottom) * (y1 - y) / (y1 - y0)
        return f"{px:.1f},{py:.1f}"

    palette = list(COLORS.values()) + [ACCENT]
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f'<text x="{left - 6}" y="{top_pad + 10}" text-anchor="end" font-size="11">{y1:.3f}</text>'
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11">'
        f"{y0:.3f}</text>"
        f'<text x="{left}" y="{height - 8}" font-size="11">{_n(x0)}</text>'
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" font-size="11">'
        f"{_n(x1)} {escape(x_label)}</text>",
    ]
    for i, (name, line) in enumerate(series.items()):
        color = palette[i % len(palette)]
        path = " ".join(at(x, y) for x, y in line)
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        if line:
            x, y = line[-1]
            px, py = at(x, y).split(",")
            parts.append(
                f'<text x="{float(px) + 6:.1f}" y="{float(py) + 4:.1f}" font-size="12" '
                f'fill="{color}">{escape(name)} {y:.4f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _ablation(data: dict) -> str:
    if not data.get("ablation"):
        return ""
    out = ["<section id=ablation><h2>Ablation</h2>"]
    for ab in data["ablation"]:
        k = len(ab["seeds"])
        out.append(
            f"<p>{escape(ab['stage'])}: {len(ab['arms'])} arms, each trained {k} time"
            f"{'s' if k > 1 else ''} (seeds {', '.join(map(str, ab['seeds']))}) on "
            f"{_n(ab['tokens'])} tokens with {escape(Path(ab['config']).name)}; every arm "
            f"decontaminated against the eval texts ({ab['ngram']}-grams): "
            f"{'removed' if ab['decontaminated'] else 'counted, not removed'}. Bits per byte "
            "on held-out text, lower is better; a difference is paired by seed, and within "
            "noise while its t statistic (difference over standard error) is under the "
            "two-sided 95% point of Student's t with seeds - 1 degrees of freedom.</p>"
        )
        first = ab["arms"][0]["name"]
        for ev, by_arm in ab["summary"].items():
            out.append(f"<h3>{escape(ev)}</h3>")
            out.append(line_chart(curves(ab, ev), f"bpb on {ev} against tokens", "tokens"))
            out.append(
                "<table><tr><th>arm</th><th>stages</th><th>documents</th><th>contaminated"
                f"</th><th>repeat</th><th>bpb (mean ± std)</th><th>vs {escape(first)} "
                "(± SE)</th><th>in words</th></tr>"
            )
            for a in ab["arms"]:
                s = by_arm[a["name"]]
                std = "" if s["std"] is None else f" ± {s['std']:.4f}"
                diff = "–" if s["diff"] is None else f"{s['diff']:+.4f}"
                if s["se"] is not None:
                    diff += f" ± {s['se']:.4f}"
                out.append(
                    f"<tr><td>{escape(a['name'])}</td><td>{escape(' + '.join(a['stages']))}"
                    f"</td><td>{_n(a['docs'])}</td><td>{_n(a['contaminated'])}</td>"
                    f"<td>{a['repeat']:.2f}x</td><td>{s['mean']:.4f}{std}</td><td>{diff}</td>"
                    f"<td>{escape(s['verdict'])}</td></tr>"
                )
            out.append("</table>")
    out.append("</section>")
    return "".join(out)


def _repeated_spans(data: dict) -> str:
    """Sub-document dedup: the most repeated spans it removed, each with its count of documents
    and the first document holding it."""
    out = []
    for found in data.get("repeated_spans", []):
        stage = next((s for s in data["stages"] if s["name"] == found["stage"]), {})
        c = stage.get("counters", {})
        out.append(f"<h3>{escape(found['stage'])}: repeated {escape(found['unit'])}</h3>")
        out.append(
            f"<p>{_n(c.get('spans_removed'))} {escape(found['unit'])} removed "
            f"({_n(c.get('chars_removed'))} characters) from {_n(c.get('docs_with_spans_removed'))}"
            f" documents: {_n(c.get('repeated_spans'))} distinct spans held by enough documents. "
            f"Of {_n(c.get('spans'))} spans read, {_n(c.get('keyed_spans'))} were long enough to "
            f"count. Empty documents: {_n(c.get('empty_docs'))}; documents of one span: "
            f"{_n(c.get('one_span_docs'))}; spans of 100,000 characters or more (counted like "
            f"any other): {_n(c.get('long_spans'))}. The most repeated:</p>"
        )
        out.append("<table><tr><th>documents</th><th>span</th><th>first held by</th></tr>")
        for span in found["spans"]:
            out.append(
                f"<tr><td>{_n(span['docs'])}</td><td><pre class=doc>{escape(span['text'])}</pre>"
                f"</td><td>{escape(span['first'])}</td></tr>"
            )
        out.append("</table>")
    if not out:
        return ""
    return "<section id=spans><h2>Repeated spans</h2>" + "".join(out) + "</section>"


def render(data: dict) -> str:
    title = f"corpus report: {data['pipeline']}"
    body = _funnel(data) + _drops(data) + _repeated_spans(data) + _ablation(data)
    body += _distributions(data) + _facts(data)
    embedded = escape(json.dumps({"pipeline": data["pipeline"], "stages": len(data["stages"])}))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(data['run_dir'])} · "
        f'<a style="color:#cde" href="report.json">report.json</a></p></header>'
        f'<main data-report="{embedded}">{body}</main></body></html>'
    )
