"""Reading a finished run's outputs."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from datamill.fileio import filesystem, sidecar


def stage_files(run_dir: str, stage: str) -> list[str]:
    fs, root = _fs_root(f"{str(run_dir).rstrip('/')}/{stage}")
    if not fs.exists(sidecar(root, "success.json")):
        raise FileNotFoundError(f"stage {stage!r} has not finished in {run_dir} (no .datamill/success.json)")
    return sorted(p for p in fs.ls(root, detail=False) if p.rsplit("/", 1)[-1].startswith("part-")
                  and p.endswith(".parquet"))


def read_stage(run_dir: str, stage: str) -> pa.Table:
    """All partitions of a finished stage, in partition order."""
    files = stage_files(run_dir, stage)
    fs = filesystem(str(run_dir))
    tables = [pq.read_table(f, filesystem=fs) for f in files]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def read_rejected(run_dir: str, stage: str) -> pa.Table:
    fs, root = _fs_root(sidecar(f"{str(run_dir).rstrip('/')}/{stage}", "rejected"))
    files = sorted(p for p in fs.ls(root, detail=False) if p.endswith(".parquet")) if fs.exists(root) else []
    tables = [pq.read_table(f, filesystem=fs) for f in files]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def _fs_root(path: str):
    """(filesystem, path without protocol): ``fs.ls`` answers protocol-less names, so every read
    of them passes ``filesystem=fs`` (pyarrow would take ``bucket/run/...`` for a local path)."""
    fs = filesystem(path)
    return fs, fsspec.core.url_to_fs(path)[1]
