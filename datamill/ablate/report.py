"""``datamill report ABLATION_DIR``: the ablation's table, loss curves and final-loss bars as one
self-contained HTML page, in the run report's style (``datamill.report``)."""

from __future__ import annotations

import json
from pathlib import Path

from datamill.ablate.charts import curves_svg, final_bars_svg
from datamill.report.charts import esc
from datamill.report.page import CSS


def is_ablation(path: str) -> bool:
    return (Path(path) / "ablation.json").exists()


def _table(result: dict) -> str:
    sets, base = list(result["eval_sets"]), result["baseline"]
    head = "".join(f"<th>{esc(s)} loss</th><th>Δ vs {esc(base)}</th><th>{esc(s)} bits/byte</th>" for s in sets)
    rows = []
    for arm, rec in result["arms"].items():
        cells = []
        for s in sets:
            f, b = rec["final"][s], rec["final_bpb"][s]
            p = rec.get("paired", {}).get(s)
            delta = "—" if p is None else f"{p['mean']:+.4f} ± {p['std']:.4f} [{p['min']:+.4f}, {p['max']:+.4f}]"
            cells.append(f"<td>{f['mean']:.4f} ± {f['std']:.4f}</td><td>{delta}</td><td>{b['mean']:.4f}</td>")
        rows.append(f"<tr><td>{esc(arm)}</td>{''.join(cells)}<td>{rec['epochs']:.2f}</td>"
                    f"<td>{', '.join(f'{t:,}' for t in rec['tokens'])}</td></tr>")
    return (f"<table class='ablation'><tr><th>arm</th>{head}<th>epochs</th><th>tokens per run</th></tr>"
            f"{''.join(rows)}</table>")


def render(ablation_dir: str) -> str:
    result = json.loads((Path(ablation_dir) / "ablation.json").read_text())
    sets = "".join(f"<li>{esc(s)}: {esc(r['kind'])}, {r['documents']:,} documents, {r['windows']} windows, "
                   f"{r['target_tokens']:,} tokens</li>" for s, r in result["eval_sets"].items())
    charts = "".join(f"<h3>{esc(s)}</h3>{curves_svg(s, result['arms'])}{final_bars_svg(s, result['arms'])}"
                     for s in result["eval_sets"])
    warnings = "".join(f"<li>{esc(w)}</li>" for w in result.get("warnings", []))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>datamill ablation: {esc(result['name'])}</title><style>{CSS}</style></head><body>
<h1>datamill ablation <code>{esc(result['name'])}</code></h1>
<p class="muted">{esc(ablation_dir)} · {result['tokens']:,} training tokens per run · seeds {esc(result['seeds'])}
· baseline {esc(result['baseline'])}</p>
<h2>Final validation loss</h2><p class="muted">nats/token, mean ± sd over seeds; Δ = arm − baseline with the
same seed, mean ± sd [min, max].</p>{_table(result)}
{f'<h2>Warnings</h2><ul>{warnings}</ul>' if warnings else ''}
<h2>Evaluation sets</h2><ul>{sets}</ul>
<h2>Loss curves and final loss</h2>{charts}
</body></html>"""


def write_report(ablation_dir: str, output: str) -> None:
    Path(output).write_text(render(ablation_dir), encoding="utf-8")
