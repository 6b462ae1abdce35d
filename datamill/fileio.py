"""Atomic file I/O on any fsspec filesystem: a file either holds its whole content or does not
exist (write to a temporary name, then rename; a reader never sees a half-written file)."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any, Callable

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

# In a stage directory, every file that is not data lives under this name: Parquet readers
# (pyarrow, pandas, polars, duckdb and Hugging Face `datasets`) skip names that start with a dot,
# so a reader pointed at the directory loads the partitions and nothing else.
SIDECARS = ".datamill"


def sidecar(stage_dir: str, *parts: str) -> str:
    """A path under the stage's sidecar directory: ``sidecar(d, "stats", "part-00000.json")``."""
    return "/".join([str(stage_dir).rstrip("/"), SIDECARS, *parts])


def filesystem(path: str):
    """The fsspec filesystem of ``path``. Credentials and endpoints come from the environment or
    fsspec's config (``AWS_*`` variables, ``~/.aws``, ``FSSPEC_S3_ENDPOINT_URL``), never from us.
    Object stores get no listing cache: a driver that listed a stage dir before the workers wrote
    to it would otherwise believe their partitions absent (s3fs answers ``info`` from the cache)."""
    if "://" not in str(path) or str(path).startswith("file://"):
        return fsspec.core.url_to_fs(path)[0]
    return fsspec.core.url_to_fs(path, use_listings_cache=False)[0]


def is_url(path: str) -> bool:
    """A path on a non-local fsspec filesystem (``s3://``, ``gs://``, ``memory://`` …)."""
    return "://" in str(path) and not str(path).startswith("file://")


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Write to a temp file, then rename. A failed write (disk full, read-only) removes its
    temp file and raises an OSError that names ``path``."""
    fs = filesystem(path)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with fs.open(tmp, "wb") as f:
            write(f)
        fs.mv(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            fs.rm(tmp)
        raise OSError(e.errno, e.strerror, path) if e.errno else OSError(f"writing {path}: {e}") from e


def atomic_write_bytes(path: str, data: bytes) -> None:
    _atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: str, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())


def atomic_write_table(path: str, table: pa.Table) -> None:
    _atomic_write(path, lambda f: _write_parquet(table, f))


def _write_parquet(table: pa.Table, f) -> None:
    if table.num_rows:
        pq.write_table(table, f, compression="zstd")
    else:
        # schema and no row group: a 0-row row group makes `datasets` fail ("BatchSize must be
        # greater than 0"); a file without one is read as an empty table by every reader
        pq.ParquetWriter(f, table.schema, compression="zstd").close()


def read_json(path: str) -> Any | None:
    fs = filesystem(path)
    try:
        with fs.open(path, "rb") as f:
            return json.loads(f.read())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
