"""Reading a finished run's outputs."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from datamill.fileio import sidecar


def stage_files(run_dir: str, stage: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(f"{str(run_dir).rstrip('/')}/{stage}")
    if not fs.exists(sidecar(root, "success.json")):
        raise FileNotFoundError(f"stage {stage!r} has not finished in {run_dir} (no .datamill/success.json)")
    return sorted(p for p in fs.ls(root, detail=False) if p.rsplit("/", 1)[-1].startswith("part-")
                  and p.endswith(".parquet"))


def read_stage(run_dir: str, stage: str) -> pa.Table:
    """All partitions of a finished stage, in partition order."""
    files = stage_files(run_dir, stage)
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def read_rejected(run_dir: str, stage: str) -> pa.Table:
    fs, root = fsspec.core.url_to_fs(sidecar(f"{str(run_dir).rstrip('/')}/{stage}", "rejected"))
    files = sorted(p for p in fs.ls(root, detail=False) if p.endswith(".parquet")) if fs.exists(root) else []
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
