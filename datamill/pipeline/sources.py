"""Sources: listing files, planning them into bounded chunks, and reading a chunk.

Planning runs one task per file (counting lines or records), so chunk boundaries and row
numbers depend only on the files, never on workers. Each chunk becomes one partition.
A bad record is counted and sampled with its file and line (``on_error: skip``) or stops the
run with that file and line (``on_error: fail``).
"""

from __future__ import annotations

import fsspec
import pyarrow as pa

from datamill.pipeline import formats
from datamill.pipeline.io.compressed import is_compressed, open_binary
from datamill.pipeline.source_config import BadRecords, Chunk, SourceConfig
from datamill.typed_config import ConfigError


def list_files(cfg: SourceConfig) -> list[str]:
    fs, _, paths = fsspec.get_fs_token_paths(cfg.path)
    files = sorted(p for p in paths if not fs.isdir(p)) if any(c in cfg.path for c in "*?[") else \
        sorted(fs.find(cfg.path)) if fs.isdir(cfg.path) else list(paths)
    if not files:
        raise ConfigError(f"source {cfg.name!r}: no files match {cfg.path!r}")
    return [fs.unstrip_protocol(p) if "://" in cfg.path else p for p in files]


def fingerprint(cfg: SourceConfig, files: list[str]) -> list:
    """What identifies the input: paths, sizes and modification times."""
    fs = fsspec.get_fs_token_paths(files[0])[0] if files else None
    out = []
    for f in files:
        info = fs.info(f)
        out.append([f, info.get("size"), str(info.get("mtime") or info.get("LastModified") or "")])
    return out


def plan_file(cfg: SourceConfig, path: str, rows: int, max_bytes: int) -> list[Chunk]:
    """Cut one file into chunks of at most ``rows`` rows and about ``max_bytes`` bytes."""
    if cfg.format == "jsonl":
        return _plan_lines(path, rows, max_bytes)
    if cfg.format == "parquet":
        import pyarrow.parquet as pq

        try:
            with fsspec.open(path, "rb") as f:
                n = pq.ParquetFile(f).metadata.num_rows
        except Exception as e:  # truncated or not Parquet: no row can be trusted, report the file
            return [Chunk(path, 0, 0, error=f"unreadable Parquet file: {type(e).__name__}: {e}")]
        return [Chunk(path, s, min(rows, n - s)) for s in range(0, n, rows)] or [Chunk(path, 0, 0)]
    if cfg.format == "warc":
        n, error = formats.count_warc_records(path)
        chunks = [Chunk(path, s, min(rows, n - s)) for s in range(0, n, rows)] or [Chunk(path, 0, 0)]
        return chunks[:-1] + [Chunk(path, chunks[-1].start, chunks[-1].count, error=error)]
    raise ValueError(f"plan_file does not handle format {cfg.format!r}")


def _plan_lines(path: str, rows: int, max_bytes: int) -> list[Chunk]:
    chunks, start, offset, chunk_offset, chunk_bytes, n, error = [], 0, 0, 0, 0, 0, ""
    compressed = is_compressed(path)
    try:
        with open_binary(path) as f:
            for line in f:
                if n - start >= rows or chunk_bytes >= max_bytes:
                    chunks.append(Chunk(path, start, n - start, -1 if compressed else chunk_offset))
                    start, chunk_offset, chunk_bytes = n, offset, 0
                n += 1
                offset += len(line)
                chunk_bytes += len(line)
    except Exception as e:  # truncated gzip/zstd: keep the lines before the damage, report it
        error = f"truncated or corrupt after line {n}: {type(e).__name__}: {e}"
    chunks.append(Chunk(path, start, n - start, -1 if compressed else chunk_offset, error=error))
    return chunks


def plan_source(cfg: SourceConfig, files: list[str], rows: int, max_bytes: int, map_fn) -> list[Chunk]:
    """Chunks for a whole source. ``map_fn(fn, items)`` runs per-file planning in parallel."""
    if cfg.format == "text":
        return [Chunk(files[i], 0, len(files[i:i + rows]), files=tuple(files[i:i + rows]))
                for i in range(0, len(files), rows)]
    if cfg.format in ("hf", "python_docs"):
        n = formats.count_rows(cfg)
        return [Chunk(cfg.path or cfg.format, s, min(rows, n - s)) for s in range(0, n, rows)]
    per_file = map_fn(lambda p: plan_file(cfg, p, rows, max_bytes), files)
    return [c for chunks in per_file for c in chunks]


def read_chunk(cfg: SourceConfig, chunk: Chunk, samples: int) -> tuple[pa.Table, BadRecords]:
    bad = BadRecords(cfg, samples)
    reader = formats.READERS[cfg.format]
    table = reader(cfg, chunk, bad)
    if chunk.error:
        bad.add(chunk.path, chunk.start + chunk.count + 1, "truncated_file", chunk.error)
    return table, bad


