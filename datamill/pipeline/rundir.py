"""The run directory: atomic writes, cache keys, and which partitions a later run may trust.

Layout per stage (docs/ARCHITECTURE.md, "The run directory"): ``part-NNNNN.parquet`` is the data
(an empty partition is a file with the schema and no row group); everything else lives under
``.datamill/`` so that Parquet readers pointed at the directory load data and nothing else:
``stats/part-NNNNN.json`` (written last: a partition is trusted only when its stats file exists
and carries the stage's key), ``rejected/part-NNNNN.parquet``, ``stats.json``, ``key.json`` and
``success.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datamill.fileio import atomic_write_json, atomic_write_table, filesystem as _fs, read_json, sidecar


def cache_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def part_path(stage_dir: str, i: int, suffix: str = "parquet") -> str:
    return f"{stage_dir}/part-{i:05d}.{suffix}"


def stats_path(stage_dir: str, i: int) -> str:
    """Partition ``i``'s statistics and key: the marker that makes the partition trusted."""
    return sidecar(stage_dir, "stats", f"part-{i:05d}.json")


def rejected_path(stage_dir: str, i: int) -> str:
    return sidecar(stage_dir, "rejected", f"part-{i:05d}.parquet")


def prepare_stage_dir(stage_dir: str, key: str) -> None:
    """Start (or resume) a stage: a dir holding another key's outputs is cleared first."""
    fs = _fs(stage_dir)
    old = read_json(sidecar(stage_dir, "key.json"))
    if fs.exists(stage_dir) and (old or {}).get("key") != key:
        fs.rm(stage_dir, recursive=True)
    fs.makedirs(sidecar(stage_dir, "rejected"), exist_ok=True)
    fs.makedirs(sidecar(stage_dir, "stats"), exist_ok=True)
    if (old or {}).get("key") != key:
        atomic_write_json(sidecar(stage_dir, "key.json"), {"key": key})


def completed(stage_dir: str, key: str) -> dict | None:
    """The stage's ``success.json`` record if it finished with this key."""
    done = read_json(sidecar(stage_dir, "success.json"))
    return done if done and done.get("key") == key else None


def trusted_parts(stage_dir: str, key: str, n: int) -> set[int]:
    """Partitions that finished with this key (stats file written after the data)."""
    fs = _fs(stage_dir)
    if not fs.exists(stage_dir):
        return set()
    names = {p.rsplit("/", 1)[-1] for p in fs.ls(stage_dir, detail=False)}
    marked = {p.rsplit("/", 1)[-1] for p in fs.ls(sidecar(stage_dir, "stats"), detail=False)} \
        if fs.exists(sidecar(stage_dir, "stats")) else set()
    out = set()
    for i in range(n):
        if f"part-{i:05d}.json" in marked and f"part-{i:05d}.parquet" in names:
            stats = read_json(stats_path(stage_dir, i))
            if stats and stats.get("key") == key:
                out.add(i)
    return out


def clean_temp_files(stage_dir: str) -> None:
    """Leftovers of a killed writer are never read, but are removed so they do not pile up."""
    fs = _fs(stage_dir)
    if fs.exists(stage_dir):
        for p in fs.find(stage_dir):
            if ".tmp-" in p.rsplit("/", 1)[-1]:
                fs.rm(p)


def write_partition(stage_dir: str, i: int, key: str, table: pa.Table, rejected: pa.Table | None,
                    stats: dict) -> None:
    if rejected is not None and rejected.num_rows:
        atomic_write_table(rejected_path(stage_dir, i), rejected)
    atomic_write_table(part_path(stage_dir, i), table)
    atomic_write_json(stats_path(stage_dir, i), {**stats, "key": key})


def read_partition(stage_dir: str, i: int) -> pa.Table:
    with _fs(stage_dir).open(part_path(stage_dir, i), "rb") as f:
        return pq.read_table(f)


def write_success(stage_dir: str, key: str, n_parts: int, stats: dict) -> None:
    atomic_write_json(stage_stats_path(stage_dir), stats)
    atomic_write_json(sidecar(stage_dir, "success.json"), {"key": key, "parts": n_parts})


def stage_stats_path(stage_dir: str) -> str:
    """The merged statistics of a finished stage."""
    return sidecar(stage_dir, "stats.json")


def append_event(output: str, event: dict) -> None:
    if "://" in output:
        return  # object stores have no append; events are a local convenience
    os.makedirs(output, exist_ok=True)
    with open(f"{output}/events.jsonl", "a") as f:
        f.write(json.dumps(event, default=str) + "\n")
