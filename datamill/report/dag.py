"""The run's DAG as inline SVG: sources and stages from ``run.json`` (``order``, ``inputs``),
laid out in layers left to right (a node's layer is one more than its deepest input's)."""

from __future__ import annotations

from datamill.report.charts import esc

NODE_W, NODE_H, GAP_X, GAP_Y = 175, 40, 45, 16


def layers(order: list[str], inputs: dict[str, list[str]]) -> dict[str, int]:
    """Layer of each node: sources (no inputs) 0, a stage one past its deepest input. ``order``
    is topological (run.json), so one pass suffices; an input not in ``order`` counts as a source."""
    out: dict[str, int] = {}
    for name in order:
        ins = inputs.get(name) or []
        out[name] = 1 + max((out.get(i, 0) for i in ins), default=-1)
    return out


def positions(order: list[str], inputs: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """Top-left corner of each node's box: x by layer, y by rank within the layer (run order)."""
    rank: dict[int, int] = {}
    out = {}
    for name, layer in layers(order, inputs).items():
        row = rank.get(layer, 0)
        rank[layer] = row + 1
        out[name] = (4 + layer * (NODE_W + GAP_X), 4 + row * (NODE_H + GAP_Y))
    return out


def dag_svg(order: list[str], inputs: dict[str, list[str]], stages: dict[str, dict]) -> str:
    """Boxes (name, ``use``, rows out; dashed when not finished) and input → stage edges."""
    if not order:
        return ""
    pos = positions(order, inputs)
    edges = []
    for name in order:
        x2, y2 = pos[name]
        for src in inputs.get(name) or []:
            if src not in pos:
                continue
            x1, y1 = pos[src]
            a, b = (x1 + NODE_W, y1 + NODE_H / 2), (x2, y2 + NODE_H / 2)
            mid = (a[0] + b[0]) / 2
            edges.append(f'<path class="edge" data-from="{esc(src)}" data-to="{esc(name)}" '
                         f'd="M{a[0]:.0f},{a[1]:.0f} C{mid:.0f},{a[1]:.0f} {mid:.0f},{b[1]:.0f} {b[0]:.0f},{b[1]:.0f}" '
                         f'marker-end="url(#arrow)"/>')
    nodes = []
    for name in order:
        x, y = pos[name]
        s = stages.get(name)
        cls = "node" if s else "node missing"
        sub = f"{s.get('use', '')} · {s['rows_out']:,} rows" if s else "not finished"
        nodes.append(f'<g class="{cls}" data-node="{esc(name)}"><a href="#stage-{esc(name)}">'
                     f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="5"/>'
                     f'<text x="{x + 8}" y="{y + 16}">{esc(name[:24])}</text>'
                     f'<text x="{x + 8}" y="{y + 32}" class="muted">{esc(sub[:30])}</text></a></g>')
    width = max(x for x, _ in pos.values()) + NODE_W + 8
    height = max(y for _, y in pos.values()) + NODE_H + 8
    arrow = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>')
    return (f'<svg class="chart dag" data-chart="dag" width="{width:.0f}" height="{height:.0f}" role="img" '
            f'aria-label="the run\'s DAG">{arrow}{"".join(edges)}{"".join(nodes)}</svg>')
