"""The report page: a header, the DAG, the waterfalls and per-source table, a summary table,
then one section per stage (``datamill.report.stage``)."""

from __future__ import annotations

from datamill.inspection import load_run_stats, partial_note
from datamill.pipeline import rundir
from datamill.report.charts import bars_svg, esc, waterfall_svg
from datamill.report.dag import dag_svg
from datamill.report.data import own_columns, source_rows
from datamill.report.stage import stage_section

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1d2330}
h1{font-size:22px} h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd} h3{font-size:14px}
table{border-collapse:collapse;margin:8px 0} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left} .bar{fill:#4f7cac} .bar2{fill:#c0504d} .muted{color:#777;fill:#777}
.hist{display:inline-block;margin:6px 16px 6px 0;vertical-align:top} .sample{font:12px monospace;white-space:pre-wrap;
background:#f6f6f6;padding:6px;margin:4px 0;max-height:9em;overflow:auto} button{margin:4px 0}
.tick{font-size:10px;fill:#777} .thr{font-size:10px;fill:#b8860b} line.threshold{stroke:#b8860b;stroke-width:2;stroke-dasharray:4 2}
.dag .node rect{fill:#eef3f9;stroke:#4f7cac} .dag .missing rect{fill:#fafafa;stroke:#aaa;stroke-dasharray:4 3}
.dag text{font-size:12px} .dag .edge{fill:none;stroke:#888;stroke-width:1.5} .dag .artifact{stroke:#b8860b;stroke-dasharray:6 4}
.legend span{margin-right:12px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px} .swatch{display:inline-block;width:10px;height:10px}
"""

SCRIPT = """
document.querySelectorAll('button[data-toggle]').forEach(function (b) {
  b.addEventListener('click', function () {
    var el = document.getElementById(b.getAttribute('data-toggle'));
    el.hidden = !el.hidden;
  });
});
"""


def render(run_dir: str) -> str:
    stats = load_run_stats(run_dir)
    run = rundir.read_json(f"{run_dir}/run.json") or {}
    stages = stats["stages"]
    by_name = {s["name"]: s for s in stages}
    inputs = {**{s["name"]: s.get("inputs") or [] for s in stages}, **(run.get("inputs") or {})}
    order = run.get("order") or [s["name"] for s in stages]
    own = own_columns(stages, inputs)
    summary = "".join(
        f"<tr><td><a href='#stage-{esc(s['name'])}'>{esc(s['name'])}</a></td><td>{esc(s['use'])}</td>"
        f"<td>{s['rows_in']:,}</td><td>{s['rows_out']:,}</td><td>{s['words_out']:,}</td>"
        f"<td>{esc(', '.join(f'{k}={v:,}' for k, v in s['removed'].items()) or '-')}</td>"
        f"<td>{s['seconds']:.1f}</td></tr>" for s in stages)
    note = partial_note(stats)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>datamill report: {esc(stats['name'])}</title><style>{CSS}</style></head><body>
<h1>datamill run <code>{esc(stats['name'])}</code></h1>
<p class="muted">{esc(stats['run_dir'])} · {_took(stats)} · git {esc(stats.get('git_sha') or 'n/a')}</p>
{f'<p class="partial"><b>{esc(note)}</b></p>' if note else ''}
<h2>The DAG</h2>{dag_svg(order, inputs, by_name, run.get('artifacts'))}{_artifact_legend(run)}
<h2>Documents through the DAG</h2>{waterfall_svg(stages, 'rows', 'documents in and out per stage')}
<h2>Words through the DAG</h2>{waterfall_svg(stages, 'words', 'words in and out per stage')}
{_tokens(stages)}
{_sources(run_dir, stages)}
<h2>Stages</h2><table><tr><th>stage</th><th>use</th><th>rows in</th><th>rows out</th><th>words out</th>
<th>removed by reason</th><th>seconds</th></tr>{summary}</table>
{''.join(stage_section(run_dir, run, s, own.get(s['name'], [])) for s in stages)}
<script>{SCRIPT}</script></body></html>"""


def _artifact_legend(run: dict) -> str:
    if not run.get("artifacts"):
        return ""
    return ('<p class="muted">dashed: a file one stage writes and another reads '
            '(<code>{stage: NAME}</code> in the config, e.g. a trained classifier)</p>')


def _tokens(stages: list[dict]) -> str:
    """Rows, words and tokens per stage, ending with the token shards' manifest totals."""
    shards = [s for s in stages if isinstance((s.get("extra") or {}).get("token_shards"), dict)]
    if not shards:
        return ""
    rows = [[s["name"], s["rows_out"], s["words_out"], ""] for s in stages]
    bars = [(s["name"] + " (words)", s["words_out"]) for s in stages if s not in shards]
    for s in shards:
        t = s["extra"]["token_shards"]
        rows.append([f"{s['name']}: manifest", t.get("docs", 0), "", t.get("tokens", 0)])
        bars.append((f"{s['name']} (tokens)", t.get("tokens", 0)))
    body = "".join("<tr>" + "".join(f"<td>{esc(f'{v:,}' if isinstance(v, int) else v)}</td>" for v in r) + "</tr>"
                   for r in rows)
    return (f"<h2>Tokens</h2>{bars_svg('token-waterfall', bars, 'words per stage, then tokens written')}"
            f"<table><tr><th>stage</th><th>rows</th><th>words</th><th>tokens</th></tr>{body}</table>")


def _sources(run_dir: str, stages: list[dict]) -> str:
    """A table: one row per ``source`` value, one column per stage (rows out)."""
    counts = source_rows(run_dir, stages)
    names = sorted({src for c in counts.values() for src in c})
    if not names:
        return ""
    cols = [s["name"] for s in stages if s["name"] in counts]
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join(f"<tr><td>{esc(src)}</td>" + "".join(f"<td>{counts[c].get(src, 0):,}</td>" for c in cols)
                   + "</tr>" for src in names)
    return (f"<h2>Rows per source through the DAG</h2><table class='sources'><tr><th>source</th>{head}</tr>"
            f"{body}</table>")


def _took(stats: dict) -> str:
    return f"{stats['seconds']:.1f} s" if stats["seconds"] is not None else esc(stats["status"])


def write_report(run_dir: str, output: str) -> None:
    with open(output, "w", encoding="utf-8") as f:
        f.write(render(run_dir))
