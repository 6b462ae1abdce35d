"""What the report reads besides the merged stage statistics: stage configs and their
thresholds, the columns each stage wrote, rows per source, and removed duplicates with the
documents they duplicate."""

from __future__ import annotations

import dataclasses
import logging

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datamill.inspection import DUP_OF_COLUMNS
from datamill.pipeline.io import read_rejected, read_stage, stage_files

log = logging.getLogger(__name__)

# score column -> the config fields that threshold it, per stage ``use`` (the report draws the
# field's value as a line on the column's histogram); gopher_repetition's are ``max_<column>``
THRESHOLDS: dict[str, dict[str, tuple[str, ...]]] = {
    "length_filter": {"num_words": ("min_words", "max_words"), "num_chars": ("min_chars", "max_chars")},
    "language_filter": {"language_score": ("min_score",)},
    "toxicity_filter": {"toxicity_score": ("document_threshold",),
                        "toxicity_max_sentence_score": ("sentence_threshold",)},
    "gopher_quality": {"gopher_num_words": ("min_words", "max_words"),
                       "gopher_mean_word_length": ("min_mean_word_length", "max_mean_word_length"),
                       "gopher_hash_ratio": ("max_hash_ratio",), "gopher_ellipsis_ratio": ("max_ellipsis_ratio",),
                       "gopher_bullet_line_ratio": ("max_bullet_lines",),
                       "gopher_ellipsis_line_ratio": ("max_ellipsis_lines",),
                       "gopher_alpha_word_ratio": ("min_alpha_words",), "gopher_num_stop_words": ("min_stop_words",)},
    "fineweb_quality": {"fineweb_line_punct_ratio": ("line_punct_thr",),
                        "fineweb_short_line_ratio": ("short_line_thr",),
                        "fineweb_char_dup_ratio": ("char_duplicates_ratio",)},
}


def stage_config(run: dict, name: str, use: str) -> dict:
    """The stage's config as it ran: the class defaults overlaid with run.json's config entry."""
    from datamill.catalog import STAGES

    cls = STAGES.get(use)
    out = {f.name: f.default for f in dataclasses.fields(cls)
           if f.default is not dataclasses.MISSING} if cls and dataclasses.is_dataclass(cls) else {}
    items = (run.get("config") or {}).get("stages") or []
    if isinstance(items, dict):  # run.json keeps the config normalised: {name: entry}
        items = [{"name": k, **v} for k, v in items.items() if isinstance(v, dict)]
    for item in items:
        if isinstance(item, dict) and str(item.get("name", item.get("use"))) == name:
            out.update({k: v for k, v in item.items() if k not in ("use", "name", "input", "inputs")})
    return out


def stage_writes(use: str) -> tuple[str, ...]:
    from datamill.catalog import STAGES

    return tuple(getattr(STAGES.get(use), "writes", ()) or ())


def thresholds(use: str, config: dict, column: str) -> dict[str, float]:
    """{config field: value} of the numeric thresholds on ``column`` (per-language maps left out)."""
    fields = THRESHOLDS.get(use, {}).get(column, ())
    if use == "gopher_repetition" and column.startswith("gopher_"):
        fields = (f"max_{column[len('gopher_'):]}",)
    return {f: float(config[f]) for f in fields
            if isinstance(config.get(f), (int, float)) and not isinstance(config.get(f), bool)}


def own_columns(stages: list[dict], inputs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per stage, the histogram columns it wrote: those no upstream stage has (a global stage's
    statistics histogram every numeric column of its output) or that its class ``writes`` (a
    second length_filter rewrites num_words), then ``text_chars``."""
    seen: dict[str, set[str]] = {}
    out = {}
    for s in stages:
        upstream: set[str] = set()
        for i in inputs.get(s["name"], s.get("inputs") or []):
            upstream |= seen.get(i, set())
        writes = set(stage_writes(s.get("use", ""))) | set(s.get("histograms_removed") or {})
        cols = [c for c in {**s.get("histograms", {}), **(s.get("histograms_removed") or {})}
                if (c not in upstream or c in writes) and c != "text_chars"]
        seen[s["name"]] = upstream | set(cols)
        out[s["name"]] = cols + (["text_chars"] if s.get("histograms", {}).get("text_chars") else [])
    return out


def source_rows(run_dir: str, stages: list[dict]) -> dict[str, dict[str, int]]:
    """Rows per ``source`` value per stage: from the statistics, or (runs from before they
    counted sources) from each stage's ``source`` column, read alone."""
    out = {}
    for s in stages:
        if s.get("sources"):
            out[s["name"]] = s["sources"]
            continue
        counts: dict[str, int] = {}
        try:
            for f in stage_files(run_dir, s["name"]):
                if "source" not in pq.read_schema(f).names:
                    continue
                col = pq.read_table(f, columns=["source"]).column("source").cast(pa.string())
                for v in pc.value_counts(pc.fill_null(col, "(none)")):
                    counts[v["values"].as_py()] = counts.get(v["values"].as_py(), 0) + v["counts"].as_py()
        except (OSError, pa.ArrowException) as e:  # incl. FileNotFoundError; the breakdown is a nicety: the page still renders
            log.warning("report: cannot read sources of stage %s: %s", s["name"], e)
        if counts or not s.get("rows_out"):
            out[s["name"]] = dict(sorted(counts.items()))
    return out


def duplicate_pairs(run_dir: str, stage: str, limit: int = 3) -> list[tuple[str, dict, dict]]:
    """(column, removed row, kept row) for removed duplicates whose keeper is in the stage output."""
    try:
        rejected = read_rejected(run_dir, stage)
    except FileNotFoundError:
        return []
    cols = [c for c in DUP_OF_COLUMNS if c in rejected.column_names]
    if not rejected.num_rows or not cols:
        return []
    rows = [r for r in rejected.to_pylist() if any(r.get(c) is not None for c in cols)][:50]
    wanted = sorted({str(r[c]) for r in rows for c in cols if r.get(c) is not None})
    out_table = read_stage(run_dir, stage)
    if "id" not in out_table.column_names or not wanted:
        return []
    kept = {str(r["id"]): r for r in out_table.filter(
        pc.is_in(pc.cast(out_table.column("id"), pa.string()), value_set=pa.array(wanted))).to_pylist()}
    pairs = []
    for r in rows:
        col = next(c for c in cols if r.get(c) is not None)
        twin = kept.get(str(r[col]))
        if twin is not None and str(twin.get("id")) != str(r.get("id")):
            pairs.append((col, r, twin))
        if len(pairs) >= limit:
            break
    return pairs
