"""Inline SVG charts for the report: histograms on the engine's fixed bins (``pipeline.stats``),
in numeric order, and horizontal bar charts (waterfalls, cluster sizes, token totals).

Every histogram bin is a ``<g class="bin" data-lo=...>`` so the browser test can check that
bins increase left to right.
"""

from __future__ import annotations

import html

from datamill.pipeline.stats import UNIT_BINS

UNIT = 1 / UNIT_BINS


def esc(x) -> str:
    return html.escape(str(x))


def bin_hi(lo: float) -> float:
    """Upper edge of the fixed bin starting at ``lo``: 0.05 wide on [0, 1), doubling above 1,
    halving towards 0 below it (``bin_edges``)."""
    if lo < 0:
        return lo / 2
    if lo < 1:
        return round(lo + UNIT, 10)
    return lo * 2


def sorted_bins(*hists: dict[str, int]) -> list[float]:
    """The lower edges of the bins of one or more histograms (``repr(float)`` keys), in numeric
    order, with the empty unit and power-of-two bins between them filled in so gaps show."""
    present = {float(k) for h in hists for k in h}
    if not present:
        return []
    lo, hi = min(present), max(present)
    filled = set(present)
    filled |= {i / UNIT_BINS for i in range(UNIT_BINS) if lo <= i / UNIT_BINS <= hi}
    p = 1.0
    while p <= hi:
        if p >= lo:
            filled.add(p)
        p *= 2
    return sorted(filled)


def short_number(x: float) -> str:
    """1024 → "1024", 16384 → "16k", 2097152 → "2.1M"; fractions with two decimals."""
    if x != x:  # NaN
        return "nan"
    a = abs(x)
    if a >= 1_000_000:
        return f"{x / 1e6:.3g}M"
    if a >= 10_000:
        return f"{x / 1e3:.3g}k"
    if a >= 1 and float(x).is_integer():
        return str(int(x))
    if a < 0.01 and x:
        return f"{x:.1e}"
    return f"{x:.2f}"


def bin_label(lo: float) -> str:
    """A bin as a range, e.g. "0.35–0.40", "128–256", "-2–-1"."""
    return f"{short_number(lo)}–{short_number(bin_hi(lo))}"


def _x_of(value: float, bins: list[float], left: float, bw: float) -> float | None:
    """Where ``value`` falls on a histogram's x axis (linear within its bin); None off the axis."""
    for i, lo in enumerate(bins):
        hi = bin_hi(lo)
        if lo <= value < hi or (i == len(bins) - 1 and value == hi):
            return left + bw * (i + (value - lo) / (hi - lo))
    return None


def histogram_svg(chart: str, hist: dict[str, int], removed: dict[str, int] | None = None,
                  thresholds: dict[str, float] | None = None, removed_label: str = "removed") -> str:
    """Bars per bin (kept, and removed beside them when given) with the thresholds as lines."""
    removed = removed or {}
    bins = sorted_bins(hist, removed)
    if not bins:
        return ""
    width, height, left, bottom = 340, 130, 4, 30
    plot = height - bottom - 14
    bw = (width - 2 * left) / len(bins)
    kept = {float(k): v for k, v in hist.items()}
    gone = {float(k): v for k, v in removed.items()}
    peak = max([*kept.values(), *gone.values(), 1])
    groups = []
    for i, lo in enumerate(bins):
        x = left + i * bw
        series = [("bar", kept.get(lo, 0), "kept" if removed else "rows")]
        if removed:
            series.append(("bar2", gone.get(lo, 0), removed_label))
        sw = max(bw / len(series) - 1, 0.8)
        rects = "".join(
            f'<rect class="{cls}" x="{x + j * sw:.1f}" y="{14 + plot - plot * c / peak:.1f}" width="{sw:.1f}" '
            f'height="{plot * c / peak:.1f}"><title>{esc(bin_label(lo))}: {c:,} {what}</title></rect>'
            for j, (cls, c, what) in enumerate(series))
        groups.append(f'<g class="bin" data-lo="{lo!r}">{rects}</g>')
    ticks = _ticks(bins, left, bw, height)
    lines = ""
    for field, value in (thresholds or {}).items():
        x = _x_of(value, bins, left, bw)
        if x is None:
            continue
        lines += (f'<line class="threshold" data-threshold="{value!r}" x1="{x:.1f}" x2="{x:.1f}" y1="10" '
                  f'y2="{14 + plot}"><title>{esc(field)} = {value:g}</title></line>'
                  f'<text x="{min(x + 3, width - 60):.1f}" y="10" class="thr">{esc(field)}={value:g}</text>')
    return (f'<svg class="chart hist" data-chart="{esc(chart)}" width="{width}" height="{height}" role="img">'
            f'{"".join(groups)}{ticks}{lines}</svg>')


def _ticks(bins: list[float], left: float, bw: float, height: int) -> str:
    """Edge labels under the bars: at most about six, so they never overlap."""
    step = max(1, -(-len(bins) // 6))
    out = []
    for i in range(0, len(bins), step):
        out.append(f'<text x="{left + i * bw:.1f}" y="{height - 16}" class="tick">{esc(short_number(bins[i]))}</text>')
    last = bin_hi(bins[-1])
    out.append(f'<text x="{left + len(bins) * bw:.1f}" y="{height - 4}" class="tick" text-anchor="end">'
               f'{esc(short_number(last))}</text>')
    return "".join(out)


def waterfall_svg(stages: list[dict], key: str, label: str) -> str:
    """Per stage: input (pale) and output bars, the output count to their right."""
    width, row_h, left = 760, 22, 170
    top = max([s.get(f"{key}_in", 0) for s in stages] + [s.get(f"{key}_out", 0) for s in stages] + [1])
    rows = []
    for i, s in enumerate(stages):
        y = i * row_h
        w_in = (width - left - 90) * s.get(f"{key}_in", 0) / top
        w_out = (width - left - 90) * s.get(f"{key}_out", 0) / top
        rows.append(
            f'<text x="0" y="{y + 15}">{esc(s["name"])}</text>'
            f'<rect class="bar2" x="{left}" y="{y + 3}" width="{w_in:.1f}" height="16" opacity="0.35"/>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{w_out:.1f}" height="16"/>'
            f'<text x="{left + max(w_in, w_out) + 6:.1f}" y="{y + 15}" class="muted">{s.get(f"{key}_out", 0):,}</text>')
    return (f'<svg class="chart" data-chart="waterfall-{key}" role="img" aria-label="{esc(label)}" '
            f'width="{width}" height="{len(stages) * row_h + 4}">{"".join(rows)}</svg>')


def bars_svg(chart: str, items: list[tuple[str, float]], label: str, width: int = 560) -> str:
    """Horizontal bars, one per (label, value), in the given order."""
    if not items:
        return ""
    row_h, left = 20, 150
    top = max([v for _, v in items] + [1])
    rows = []
    for i, (name, v) in enumerate(items):
        y, w = i * row_h, max((width - left - 90) * v / top, 1)
        rows.append(f'<text x="0" y="{y + 14}">{esc(name)}</text>'
                    f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="14"><title>{esc(name)}: {v:,}</title></rect>'
                    f'<text x="{left + w + 6:.1f}" y="{y + 14}" class="muted">{v:,}</text>')
    return (f'<svg class="chart" data-chart="{esc(chart)}" role="img" aria-label="{esc(label)}" '
            f'width="{width}" height="{len(items) * row_h + 4}">{"".join(rows)}</svg>')
