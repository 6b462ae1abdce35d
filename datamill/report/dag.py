"""The run's DAG as inline SVG: sources and stages from ``run.json`` (``order``, ``inputs``, and
``artifacts``: the ``{stage: NAME}`` files a stage reads, drawn dashed), laid out in layers left
to right (a node's layer is one more than its deepest input's or artifact producer's)."""

from __future__ import annotations

from datamill.report.charts import esc

NODE_W, NODE_H, GAP_X, GAP_Y = 175, 40, 45, 16


def layers(order: list[str], inputs: dict[str, list[str]],
           artifacts: dict[str, dict[str, str]] | None = None) -> dict[str, int]:
    """Layer of each node: sources (no inputs) 0, a stage one past its deepest input or artifact
    producer. ``order`` is topological (run.json), so one pass suffices; an input not in ``order``
    counts as a source."""
    out: dict[str, int] = {}
    for name in order:
        ins = [*(inputs.get(name) or []), *((artifacts or {}).get(name) or {}).values()]
        out[name] = 1 + max((out.get(i, 0) for i in ins), default=-1)
    return out


def positions(order: list[str], inputs: dict[str, list[str]],
              artifacts: dict[str, dict[str, str]] | None = None) -> dict[str, tuple[float, float]]:
    """Top-left corner of each node's box: x by layer, y by rank within the layer (run order)."""
    rank: dict[int, int] = {}
    out = {}
    for name, layer in layers(order, inputs, artifacts).items():
        row = rank.get(layer, 0)
        rank[layer] = row + 1
        out[name] = (4 + layer * (NODE_W + GAP_X), 4 + row * (NODE_H + GAP_Y))
    return out


def _edge(src: str, dst: str, pos: dict[str, tuple[float, float]], lanes: dict[float, int],
          cls: str = "edge", extra: str = "") -> str:
    """An S-curve into the next layer. An edge that skips layers would cut through the boxes
    between: it turns into the gap between rows next to its target's row within the first gap
    between layers, runs along it (``lanes`` counts the edges there, each 4 px apart), and turns
    into the target within the last one."""
    (x1, y1), (x2, y2) = pos[src], pos[dst]
    a, b = (x1 + NODE_W, y1 + NODE_H / 2), (x2, y2 + NODE_H / 2)
    if b[0] - a[0] <= GAP_X:
        mid = (a[0] + b[0]) / 2
        d = f"M{a[0]:.0f},{a[1]:.0f} C{mid:.0f},{a[1]:.0f} {mid:.0f},{b[1]:.0f} {b[0]:.0f},{b[1]:.0f}"
    else:
        gap = y2 - GAP_Y / 2 if y1 < y2 else y2 + NODE_H + GAP_Y / 2  # above the target's row when coming from above
        lanes[gap] = lanes.get(gap, 0) + 1
        lane = gap + 4 * ((lanes[gap] // 2) * (-1) ** lanes[gap])  # 0, +4, -4, +8 ... from the middle
        p, q = a[0] + GAP_X / 2, b[0] - GAP_X / 2
        d = (f"M{a[0]:.0f},{a[1]:.0f} C{p:.0f},{a[1]:.0f} {p:.0f},{lane:.0f} {a[0] + GAP_X:.0f},{lane:.0f} "
             f"L{b[0] - GAP_X:.0f},{lane:.0f} C{q:.0f},{lane:.0f} {q:.0f},{b[1]:.0f} {b[0]:.0f},{b[1]:.0f}")
    return f'<path class="{cls}" data-from="{esc(src)}" data-to="{esc(dst)}"{extra} d="{d}" marker-end="url(#arrow)"/>'


def dag_svg(order: list[str], inputs: dict[str, list[str]], stages: dict[str, dict],
            artifacts: dict[str, dict[str, str]] | None = None) -> str:
    """Boxes (name, ``use``, rows out; dashed when not finished), input → stage edges, and dashed
    producer → stage edges for ``artifacts`` ({stage: {field: producing stage}})."""
    if not order:
        return ""
    pos = positions(order, inputs, artifacts)
    edges: list[str] = []
    lanes: dict[float, int] = {}
    for name in order:
        edges += [_edge(src, name, pos, lanes) for src in inputs.get(name) or [] if src in pos]
        edges += [_edge(up, name, pos, lanes, "edge artifact", f' data-field="{esc(field)}"')
                  for field, up in ((artifacts or {}).get(name) or {}).items() if up in pos]
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
    height = max(y for _, y in pos.values()) + NODE_H + GAP_Y  # room for a lane below the last row
    arrow = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>')
    return (f'<svg class="chart dag" data-chart="dag" width="{width:.0f}" height="{height:.0f}" role="img" '
            f'aria-label="the run\'s DAG">{arrow}{"".join(edges)}{"".join(nodes)}</svg>')
