"""``datamill report``: one self-contained HTML page (no network) for a run.

The waterfall of documents and words through the DAG, per-stage histograms and removal
reasons, and samples of removed documents. Charts are inline SVG; the only script sorts
nothing and fetches nothing, it just toggles sample panels.
"""

from __future__ import annotations

import html
import json

from datamill.inspection import extra_tables, load_run_stats, partial_note
from datamill.pipeline.io import read_rejected
from datamill.pipeline.stats import fmt_edge

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1d2330}
h1{font-size:22px} h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left} .bar{fill:#4f7cac} .bar2{fill:#c0504d} .muted{color:#777}
.hist{display:inline-block;margin:6px 16px 6px 0;vertical-align:top} .sample{font:12px monospace;white-space:pre-wrap;
background:#f6f6f6;padding:6px;margin:4px 0;max-height:9em;overflow:auto} button{margin:4px 0}
"""

SCRIPT = """
document.querySelectorAll('button[data-toggle]').forEach(function (b) {
  b.addEventListener('click', function () {
    var el = document.getElementById(b.getAttribute('data-toggle'));
    el.hidden = !el.hidden;
  });
});
"""


def _e(x) -> str:
    return html.escape(str(x))


def waterfall_svg(stages: list[dict], key: str, label: str) -> str:
    width, row_h, left = 760, 22, 170
    top = max([s.get(f"{key}_in", 0) for s in stages] + [s.get(f"{key}_out", 0) for s in stages] + [1])
    rows = []
    for i, s in enumerate(stages):
        y = i * row_h
        w_in = (width - left - 90) * s.get(f"{key}_in", 0) / top
        w_out = (width - left - 90) * s.get(f"{key}_out", 0) / top
        rows.append(
            f'<text x="0" y="{y + 15}">{_e(s["name"])}</text>'
            f'<rect class="bar2" x="{left}" y="{y + 3}" width="{w_in:.1f}" height="16" opacity="0.35"/>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{w_out:.1f}" height="16"/>'
            f'<text x="{left + max(w_in, w_out) + 6:.1f}" y="{y + 15}" class="muted">{s.get(f"{key}_out", 0):,}</text>')
    return (f'<svg class="chart" data-chart="waterfall-{key}" role="img" aria-label="{_e(label)}" '
            f'width="{width}" height="{len(stages) * row_h + 4}">{"".join(rows)}</svg>')


def histogram_svg(name: str, column: str, hist: dict[str, int]) -> str:
    if not hist:
        return ""
    width, height = 300, 110
    items = list(hist.items())
    peak = max(c for _, c in items) or 1
    bw = width / len(items)
    bars = "".join(
        f'<rect class="bar" x="{i * bw:.1f}" y="{height - 20 - (height - 30) * c / peak:.1f}" '
        f'width="{max(bw - 2, 1):.1f}" height="{(height - 30) * c / peak:.1f}"><title>≥ {fmt_edge(e)}: {c:,}</title></rect>'
        for i, (e, c) in enumerate(items))
    axis = (f'<text x="0" y="{height - 5}" class="muted">{fmt_edge(items[0][0])}</text>'
            f'<text x="{width - 40}" y="{height - 5}" class="muted">{fmt_edge(items[-1][0])}</text>')
    return (f'<div class="hist"><div>{_e(column)}</div><svg class="chart" data-chart="hist-{_e(name)}-{_e(column)}" '
            f'width="{width}" height="{height}">{bars}{axis}</svg></div>')


def _samples(run_dir: str, name: str, limit: int = 5) -> str:
    try:
        rejected = read_rejected(run_dir, name)
    except FileNotFoundError:
        return ""
    if not rejected.num_rows:
        return ""
    rows = rejected.to_pylist()
    by_reason: dict[str, list[dict]] = {}
    for r in rows:
        by_reason.setdefault(r.get("_removal_reason") or "?", []).append(r)
    parts = []
    for reason, items in sorted(by_reason.items()):
        block = "".join(f'<div class="sample"><b>{_e(r.get("id"))}</b>\n{_e((r.get("text") or "")[:1200])}</div>'
                        for r in items[:limit])
        panel = f"samples-{_e(name)}-{_e(reason)}"
        parts.append(f'<div><button data-toggle="{panel}">{_e(reason)}: show {min(len(items), limit)} '
                     f'removed examples</button><div id="{panel}" hidden>{block}</div></div>')
    return "".join(parts)


def _table(title: str, header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(f'{v:,}' if isinstance(v, int) else v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table class='extra'><caption>{_e(title)}</caption><tr>{head}</tr>{body}</table>"


def render(run_dir: str) -> str:
    stats = load_run_stats(run_dir)
    stages = stats["stages"]
    summary = "".join(
        f"<tr><td>{_e(s['name'])}</td><td>{_e(s['use'])}</td><td>{s['rows_in']:,}</td><td>{s['rows_out']:,}</td>"
        f"<td>{s['words_out']:,}</td><td>{_e(', '.join(f'{k}={v:,}' for k, v in s['removed'].items()) or '-')}</td>"
        f"<td>{s['seconds']:.1f}</td></tr>" for s in stages)
    sections = []
    for s in stages:
        hists = "".join(histogram_svg(s["name"], col, h) for col, h in s.get("histograms", {}).items())
        extra = "".join(_table(*t) for t in extra_tables(s))
        extra += f"<pre class='sample'>{_e(json.dumps(s['extra'], indent=1, default=str)[:4000])}</pre>" \
            if s.get("extra") else ""
        sections.append(f"<h2 id='stage-{_e(s['name'])}'>{_e(s['name'])} <span class='muted'>({_e(s['use'])})</span></h2>"
                        f"{hists}{extra}{_samples(run_dir, s['name'])}")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>datamill report: {_e(stats['name'])}</title><style>{CSS}</style></head><body>
<h1>datamill run <code>{_e(stats['name'])}</code></h1>
<p class="muted">{_e(stats['run_dir'])} · {_took(stats)} · git {_e(stats.get('git_sha') or 'n/a')}</p>
{f'<p class="partial"><b>{_e(partial_note(stats))}</b></p>' if partial_note(stats) else ''}
<h2>Documents through the DAG</h2>{waterfall_svg(stages, 'rows', 'documents in and out per stage')}
<h2>Words through the DAG</h2>{waterfall_svg(stages, 'words', 'words in and out per stage')}
<h2>Stages</h2><table><tr><th>stage</th><th>use</th><th>rows in</th><th>rows out</th><th>words out</th>
<th>removed by reason</th><th>seconds</th></tr>{summary}</table>
{''.join(sections)}
<script>{SCRIPT}</script></body></html>"""


def _took(stats: dict) -> str:
    return f"{stats['seconds']:.1f} s" if stats["seconds"] is not None else _e(stats["status"])


def write_report(run_dir: str, output: str) -> None:
    with open(output, "w", encoding="utf-8") as f:
        f.write(render(run_dir))
