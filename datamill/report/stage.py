"""One stage's section of the report: what it wrote, what it removed and why."""

from __future__ import annotations

import json

from datamill.inspection import extra_tables
from datamill.pipeline.io import read_rejected
from datamill.report.charts import bars_svg, esc, histogram_svg
from datamill.report.data import duplicate_pairs, stage_config, thresholds


def stage_section(run_dir: str, run: dict, s: dict, columns: list[str]) -> str:
    name = s["name"]
    config = stage_config(run, name, s.get("use", ""))
    flagged = bool(s.get("flagged")) and not s.get("removed")
    hists = "".join(_hist(s, col, config, flagged) for col in columns)
    extra = "".join(_table(*t) for t in extra_tables(s))
    raw = json.dumps(s["extra"], indent=1, default=str)[:4000] if s.get("extra") else ""
    if raw:
        extra += f"<details><summary>raw statistics</summary><pre class='sample'>{esc(raw)}</pre></details>"
    legend = ("<p class='legend muted'><span><i class='swatch' style='background:#4f7cac'></i> kept</span>"
              f"<span><i class='swatch' style='background:#c0504d'></i> {'flagged' if flagged else 'removed'}</span>"
              "<span style='color:#b8860b'>┆ threshold</span></p>") if s.get("histograms_removed") else ""
    return (f"<h2 id='stage-{esc(name)}'>{esc(name)} <span class='muted'>({esc(s.get('use', ''))})</span></h2>"
            f"{legend}{hists}{_clusters(s)}{extra}{_pairs(run_dir, name)}{_samples(run_dir, name)}")


def _hist(s: dict, col: str, config: dict, flagged: bool) -> str:
    hist = s.get("histograms", {}).get(col, {})
    removed = s.get("histograms_removed", {}).get(col, {})
    svg = histogram_svg(f"hist-{s['name']}-{col}", hist, removed, thresholds(s.get("use", ""), config, col),
                        "flagged" if flagged else "removed")
    return f'<div class="hist"><div>{esc(col)}</div>{svg}</div>' if svg else ""


def _clusters(s: dict) -> str:
    """Duplicate-cluster sizes (``extra.clusters.size_histogram``: labels "2", "3-4", "5-8", ...)."""
    c = (s.get("extra") or {}).get("clusters")
    if not isinstance(c, dict) or not c.get("size_histogram"):
        return ""
    items = sorted(c["size_histogram"].items(), key=lambda kv: int(str(kv[0]).split("-")[0]))
    return (f"<h3>Duplicate clusters by size</h3><p class='muted'>{c.get('clusters', 0):,} clusters of two or more "
            f"documents; {c.get('duplicates', 0):,} duplicates removed; largest {c.get('largest', 0):,}</p>"
            + bars_svg(f"clusters-{s['name']}", [(f"{k} docs", v) for k, v in items], "clusters by size"))


def _pairs(run_dir: str, name: str) -> str:
    pairs = duplicate_pairs(run_dir, name)
    if not pairs:
        return ""
    blocks = "".join(
        f"<div class='pair'><div class='sample'><b>removed {esc(r.get('id'))}</b> ({esc(col)})\n"
        f"{esc((r.get('text') or '')[:800])}</div><div class='sample'><b>kept {esc(k.get('id'))}</b>\n"
        f"{esc((k.get('text') or '')[:800])}</div></div>" for col, r, k in pairs)
    return f"<h3>Removed duplicates beside the document kept</h3>{blocks}"


def _samples(run_dir: str, name: str, limit: int = 5) -> str:
    try:
        rejected = read_rejected(run_dir, name)
    except FileNotFoundError:
        return ""
    if not rejected.num_rows:
        return ""
    by_reason: dict[str, list[dict]] = {}
    for r in rejected.to_pylist():
        by_reason.setdefault(r.get("_removal_reason") or "?", []).append(r)
    parts = []
    for reason, items in sorted(by_reason.items()):
        block = "".join(f'<div class="sample"><b>{esc(r.get("id"))}</b>\n{esc((r.get("text") or "")[:1200])}</div>'
                        for r in items[:limit])
        panel = f"samples-{esc(name)}-{esc(reason)}"
        parts.append(f'<div><button data-toggle="{panel}">{esc(reason)}: show {min(len(items), limit)} '
                     f'removed examples</button><div id="{panel}" hidden>{block}</div></div>')
    return "".join(parts)


def _table(title: str, header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(f'{v:,}' if isinstance(v, int) else v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table class='extra'><caption>{esc(title)}</caption><tr>{head}</tr>{body}</table>"
