"""Configs and comparisons shared by the reliability tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from datamill.pipeline.io import read_stage

# the quickstart's shape: a fused map chain, a global stage (exact dedup), a chain after it
CHAIN = [{"use": "clean_text"}, {"use": "length_filter", "min_words": 20}, {"use": "exact_dedup"},
         {"use": "length_filter", "name": "long", "min_words": 60}]
STAGES = ["docs", "clean_text", "length_filter", "exact_dedup", "long"]


def docs_config(out, partition_rows: int, stages=CHAIN) -> dict:
    return {"name": "rel", "sources": {"docs": {"format": "python_docs"}}, "stages": stages,
            "output": str(out), "execution": {"partition_rows": partition_rows}}


def data_files(run_dir) -> dict[str, str]:
    """sha256 of every data file a run wrote (partitions, rejected samples, stage artifacts),
    leaving out what records time: stats, events, run.json, markers."""
    run_dir = Path(run_dir)
    out = {}
    for p in sorted(run_dir.rglob("*")):
        if p.is_file() and p.parent.name != "stats" and not p.name.endswith(("stats.json", ".jsonl", "run.json")) \
                and p.name not in ("success.json", "key.json"):
            out[str(p.relative_to(run_dir))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def stage_digests(run_dir, stages=STAGES) -> dict[str, str]:
    """One digest per stage of its rows in order (all columns): equal iff the outputs are equal,
    whatever the partitioning."""
    out = {}
    for s in stages:
        table = read_stage(str(run_dir), s)
        h = hashlib.sha256()
        for name in sorted(table.column_names):
            h.update(name.encode())
            for v in table.column(name).to_pylist():
                h.update(repr(v).encode())
        out[s] = h.hexdigest()
    return out


def assert_no_duplicates_or_losses(run_dir, stats: dict) -> None:
    """Every stage: ids unique, rows_in = rows_out + removed, rows_out = rows on disk."""
    for name, s in stats.items():
        table = read_stage(str(run_dir), name)
        ids = table.column("id").to_pylist()
        assert len(ids) == len(set(ids)), f"{name}: duplicate ids"
        assert table.num_rows == s["rows_out"], f"{name}: {table.num_rows} rows on disk, stats say {s['rows_out']}"
        assert s["rows_in"] == s["rows_out"] + sum(s["removed"].values()), f"{name}: rows lost"
