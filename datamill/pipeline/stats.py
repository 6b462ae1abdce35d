"""Per-partition statistics computed by tasks and merged by the driver (docs/ARCHITECTURE.md, "A partition through a chain").

Histograms use one fixed binning for every column so partitions merge by adding counts:
20 bins of width 0.05 on [0, 1] (scores, fractions), powers of two above 1 (lengths, sizes),
and the mirror image below 0.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.whitespace import word_counts

UNIT_BINS = 20


def bin_edges(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.float64)
    out = np.empty_like(v)
    unit = (v >= 0) & (v <= 1)
    out[unit] = np.minimum(np.floor(v[unit] * UNIT_BINS), UNIT_BINS - 1) / UNIT_BINS
    big = v > 1
    out[big] = 2.0 ** np.floor(np.log2(v[big]))
    neg = v < 0
    out[neg] = -(2.0 ** np.ceil(np.log2(-v[neg])))
    return out


def histogram(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    values = column.to_numpy(zero_copy_only=False)
    values = values[~np.isnan(values.astype(np.float64))] if values.dtype.kind == "f" else values
    if values.dtype == object:
        values = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(values):
        return {}
    edges, counts = np.unique(bin_edges(values), return_counts=True)
    return {repr(float(e)): int(c) for e, c in zip(edges, counts)}


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def text_measures(table: pa.Table) -> tuple[int, int]:
    """(UTF-8 bytes, whitespace words) of the text column."""
    if "text" not in table.column_names or not table.num_rows:
        return 0, 0
    text = table.column("text")
    nbytes = pc.sum(pc.binary_length(text.cast(pa.binary()))).as_py() or 0
    words = pc.sum(word_counts(text)).as_py() or 0
    return int(nbytes), int(words)


def partition_stats(table_in: pa.Table | None, table_out: pa.Table, removed: dict[str, int],
                    flagged: dict[str, int], seconds: float, cpu_seconds: float,
                    rows_in: int | None = None, histograms_removed: dict | None = None,
                    writes: tuple[str, ...] = ()) -> dict:
    bytes_out, words_out = text_measures(table_out)
    bytes_in, words_in = text_measures(table_in) if table_in is not None else (0, 0)
    written = [c for c in table_out.column_names
               if (table_in is None or c not in table_in.column_names or c in writes)
               and _is_numeric(table_out.schema.field(c).type)]
    hists = {c: histogram(pc.cast(table_out.column(c), pa.float64(), safe=False)) for c in written}
    if "text" in table_out.column_names:
        hists["text_chars"] = histogram(pc.utf8_length(table_out.column("text")))
    return {
        "rows_in": int(rows_in if rows_in is not None else (table_in.num_rows if table_in is not None else 0)),
        "rows_out": table_out.num_rows, "bytes_in": bytes_in, "bytes_out": bytes_out,
        "words_in": words_in, "words_out": words_out, "removed": removed, "flagged": flagged,
        "seconds": seconds, "cpu_seconds": cpu_seconds, "histograms": hists, "partitions": 1,
        "histograms_removed": histograms_removed or {}, "sources": source_counts(table_out),
    }


def numeric_histograms(table: pa.Table, columns) -> dict[str, dict[str, int]]:
    """Histograms of the numeric ones of ``columns`` (the report's kept-vs-removed score charts)."""
    return {c: histogram(pc.cast(table.column(c), pa.float64(), safe=False)) for c in columns
            if c in table.column_names and _is_numeric(table.schema.field(c).type)}


def source_counts(table: pa.Table) -> dict[str, int]:
    """Rows per ``source`` value (the report's per-source breakdown through the DAG)."""
    if "source" not in table.column_names or not table.num_rows:
        return {}
    vc = pc.value_counts(pc.fill_null(table.column("source").cast(pa.string()), "(none)"))
    return {v["values"].as_py(): v["counts"].as_py() for v in vc}


def _add_counts(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def merge(parts: list[dict]) -> dict:
    total: dict = {"rows_in": 0, "rows_out": 0, "bytes_in": 0, "bytes_out": 0, "words_in": 0,
                   "words_out": 0, "removed": {}, "flagged": {}, "seconds": 0.0, "cpu_seconds": 0.0,
                   "histograms": {}, "histograms_removed": {}, "sources": {}, "partitions": 0}
    for p in parts:
        for k in ("rows_in", "rows_out", "bytes_in", "bytes_out", "words_in", "words_out",
                  "seconds", "cpu_seconds", "partitions"):
            total[k] += p.get(k, 0)
        total["removed"] = _add_counts(total["removed"], p.get("removed", {}))
        total["flagged"] = _add_counts(total["flagged"], p.get("flagged", {}))
        total["sources"] = _add_counts(total["sources"], p.get("sources", {}))
        for key in ("histograms", "histograms_removed"):
            for col, h in p.get(key, {}).items():
                total[key][col] = _add_counts(total[key].get(col, {}), h)
    for key in ("removed", "flagged", "sources"):
        total[key] = dict(sorted(total[key].items()))
    for key in ("histograms", "histograms_removed"):
        for col, h in total[key].items():
            total[key][col] = dict(sorted(h.items(), key=lambda kv: float(kv[0])))
    return total


def fmt_edge(edge: str) -> str:
    e = float(edge)
    if 0 <= e < 1:
        return f"{e:.2f}"
    return f"{int(e)}" if math.isfinite(e) else edge
