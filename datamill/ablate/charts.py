"""Inline SVG for ablations, in the report's style (``datamill.report.charts``): validation loss
against training tokens per eval set (one line per run, arms by colour), and final-loss bars."""

from __future__ import annotations

from datamill.report.charts import bars_svg, esc, short_number

COLOURS = ["#4f7cac", "#c0504d", "#9bbb59", "#8064a2", "#f79646", "#4bacc6", "#7f7f7f", "#b8860b"]


def curves_svg(eval_set: str, arms: dict[str, dict], width: int = 560, height: int = 300) -> str:
    """Loss curves of every (arm, seed) on ``eval_set``; x: training tokens, y: loss (nats/token)."""
    lines = [(arm, seed, [(p["tokens"], p[eval_set]) for p in run["curve"] if eval_set in p])
             for arm, rec in arms.items() for seed, run in rec["runs"].items()]
    points = [pt for _, _, pts in lines for pt in pts]
    if not points:
        return ""
    left, right, top, bottom = 56, 120, 24, 36
    x1 = max(t for t, _ in points)
    y0, y1 = min(v for _, v in points), max(v for _, v in points)
    y0, y1 = (y0 - 0.05, y1 + 0.05) if y1 - y0 < 1e-9 else (y0, y1)
    pw, ph = width - left - right, height - top - bottom

    def xy(t: float, v: float) -> str:
        return f"{left + pw * t / x1:.1f},{top + ph * (y1 - v) / (y1 - y0):.1f}"

    colour = {arm: COLOURS[i % len(COLOURS)] for i, arm in enumerate(arms)}
    out = [f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#999"/>']
    for k in range(5):
        v = y0 + (y1 - y0) * k / 4
        t = x1 * k / 4
        out.append(f'<text class="tick" x="{left - 4}" y="{top + ph * (1 - k / 4) + 3:.1f}" '
                   f'text-anchor="end">{v:.2f}</text>')
        out.append(f'<text class="tick" x="{left + pw * k / 4:.1f}" y="{top + ph + 14}" '
                   f'text-anchor="middle">{short_number(round(t)) if t else 0}</text>')
    out.append(f'<text class="tick" x="{left + pw / 2}" y="{height - 4}" text-anchor="middle">training tokens</text>'
               f'<text class="tick" x="{left}" y="12">{esc(eval_set)}: validation loss, nats/token</text>')
    for arm, seed, pts in lines:
        path = " ".join(xy(t, v) for t, v in pts)
        out.append(f'<polyline fill="none" stroke="{colour[arm]}" stroke-width="1.5" points="{path}">'
                   f'<title>{esc(arm)} seed {esc(seed)}</title></polyline>')
    for i, arm in enumerate(arms):
        y = top + 14 * i + 8
        out.append(f'<rect x="{left + pw + 10}" y="{y - 8}" width="10" height="10" fill="{colour[arm]}"/>'
                   f'<text x="{left + pw + 24}" y="{y + 1}" font-size="11">{esc(arm)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="curves-{esc(eval_set)}" '
            f'role="img" aria-label="validation loss on {esc(eval_set)}" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="10">{"".join(out)}</svg>')


def final_bars_svg(eval_set: str, arms: dict[str, dict]) -> str:
    """Mean final loss per arm on ``eval_set`` (the table gives the spread)."""
    items = [(arm, round(rec["final"][eval_set]["mean"], 4)) for arm, rec in arms.items()]
    return bars_svg(f"final-{eval_set}", items, f"final validation loss on {eval_set}")


def standalone(svg: str) -> str:
    """An SVG fragment as a file of its own (styles inlined where the report's CSS would apply)."""
    svg = svg.replace('class="bar"', 'class="bar" fill="#4f7cac"').replace('class="muted"', 'fill="#777"')
    if 'xmlns=' not in svg:
        svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11" ', 1)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + svg + "\n"
