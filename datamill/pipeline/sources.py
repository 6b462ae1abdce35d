"""Sources: listing files, planning them into bounded chunks, and reading a chunk.

Planning runs one task per file (counting lines or records), so chunk boundaries and row
numbers depend only on the files, never on workers. Each chunk becomes one partition.
A bad record is counted and sampled with its file and line (``on_error: skip``) or stops the
run with that file and line (``on_error: fail``).

Field mistakes are errors whatever ``on_error`` says: planning, which reads every file anyway,
checks that each required field (``SourceConfig.required_fields``) is in at least one record of
each file (a typo would otherwise drop 100% of rows with exit 0), and ``read_chunk`` stops the
run when more than ``max_bad_fraction`` of a chunk's rows are bad.
"""

from __future__ import annotations

import json

import fsspec
import pyarrow as pa

from datamill.fileio import filesystem
from datamill.pipeline import formats
from datamill.pipeline.io.compressed import is_compressed, open_binary
from datamill.pipeline.source_config import (MIN_ROWS_FOR_FRACTION, MISSING, BadRecords, Chunk, DataError,
                                             SourceConfig, field_value)
from datamill.typed_config import ConfigError


def list_files(cfg: SourceConfig) -> list[str]:
    fs, _, paths = fsspec.get_fs_token_paths(cfg.path)
    files = sorted(p for p in paths if not fs.isdir(p)) if any(c in cfg.path for c in "*?[") else \
        sorted(fs.find(cfg.path)) if fs.isdir(cfg.path) else list(paths)
    if not files:
        raise ConfigError(f"source {cfg.name!r}: no files match {cfg.path!r}")
    return [fs.unstrip_protocol(p) if "://" in cfg.path else p for p in files]


def fingerprint(cfg: SourceConfig, files: list[str]) -> list:
    """What identifies the input: paths, sizes and modification times (on S3 the ETag, which
    changes with the content, else LastModified)."""
    fs = filesystem(files[0]) if files else None
    out = []
    for f in files:
        info = fs.info(f)
        stamp = info.get("mtime") or info.get("ETag") or info.get("etag") or info.get("LastModified") or ""
        out.append([f, info.get("size"), str(stamp)])
    return out


def plan_file(cfg: SourceConfig, path: str, rows: int, max_bytes: int) -> list[Chunk]:
    """Cut one file into chunks of at most ``rows`` rows and about ``max_bytes`` bytes."""
    if cfg.format == "jsonl":
        return _plan_lines(cfg, path, rows, max_bytes)
    if cfg.format == "parquet":
        import pyarrow.parquet as pq

        try:
            with fsspec.open(path, "rb") as f:
                meta = pq.ParquetFile(f)
                n, schema = meta.metadata.num_rows, meta.schema_arrow
        except Exception as e:  # truncated or not Parquet: no row can be trusted, report the file
            return [Chunk(path, 0, 0, error=f"unreadable Parquet file: {type(e).__name__}: {e}")]
        for field in cfg.required_fields():
            if schema_field(schema, field) is None:
                raise cfg.field_error(field, path, schema.names)
        return [Chunk(path, s, min(rows, n - s)) for s in range(0, n, rows)] or [Chunk(path, 0, 0)]
    if cfg.format == "warc":
        n, error = formats.count_warc_records(path)
        chunks = [Chunk(path, s, min(rows, n - s)) for s in range(0, n, rows)] or [Chunk(path, 0, 0)]
        return chunks[:-1] + [Chunk(path, chunks[-1].start, chunks[-1].count, error=error)]
    raise ValueError(f"plan_file does not handle format {cfg.format!r}")


def schema_field(schema: pa.Schema, path: str) -> pa.Field | None:
    """The Arrow field at ``path``: a column, or a dotted path into struct columns."""
    if path in schema.names:
        return schema.field(path)
    fields, found = schema, None
    for part in path.split("."):
        idx = fields.get_field_index(part) if fields is not None else -1
        if idx < 0:
            return None
        found = fields.field(idx)
        fields = found.type if pa.types.is_struct(found.type) else None
    return found


def _plan_lines(cfg: SourceConfig, path: str, rows: int, max_bytes: int) -> list[Chunk]:
    chunks, start, offset, chunk_offset, chunk_bytes, n, error = [], 0, 0, 0, 0, 0, ""
    compressed = is_compressed(path)
    # parse lines only until every required field has been seen: one line when the config is right
    missing, seen, objects = list(cfg.required_fields()), set(), 0
    try:
        with open_binary(path) as f:
            for line in f:
                if n - start >= rows or chunk_bytes >= max_bytes:
                    chunks.append(Chunk(path, start, n - start, -1 if compressed else chunk_offset))
                    start, chunk_offset, chunk_bytes = n, offset, 0
                n += 1
                offset += len(line)
                chunk_bytes += len(line)
                if missing and len(line) <= cfg.max_doc_bytes:
                    try:
                        obj = json.loads(line)
                    except ValueError:  # (bad lines are counted when the chunk is read)
                        continue
                    if isinstance(obj, dict):
                        objects += 1
                        seen.update(obj)
                        missing = [m for m in missing if field_value(obj, m) is MISSING]
    except Exception as e:  # truncated gzip/zstd: keep the lines before the damage, report it
        error = f"truncated or corrupt after line {n}: {type(e).__name__}: {e}"
    if missing and objects:  # (a file of only malformed lines is bad input, counted when read)
        raise cfg.field_error(missing[0], path, seen)
    chunks.append(Chunk(path, start, n - start, -1 if compressed else chunk_offset, error=error))
    return chunks


def plan_source(cfg: SourceConfig, files: list[str], rows: int, max_bytes: int, map_fn) -> list[Chunk]:
    """Chunks for a whole source. ``map_fn(fn, items)`` runs per-file planning in parallel."""
    if cfg.format in ("text", "html"):
        return [Chunk(files[i], 0, len(files[i:i + rows]), files=tuple(files[i:i + rows]))
                for i in range(0, len(files), rows)]
    if cfg.format in ("hf", "python_docs"):
        n = formats.count_rows(cfg)  # (for hf, also checks the required fields against the features)
        return [Chunk(cfg.path or cfg.format, s, min(rows, n - s)) for s in range(0, n, rows)]
    per_file = map_fn(lambda p: plan_file(cfg, p, rows, max_bytes), files)
    return [c for chunks in per_file for c in chunks]


def read_chunk(cfg: SourceConfig, chunk: Chunk, samples: int) -> tuple[pa.Table, BadRecords]:
    bad = BadRecords(cfg, samples)
    reader = formats.READERS[cfg.format]
    table = reader(cfg, chunk, bad)
    if chunk.error:
        bad.add(chunk.path, chunk.start + chunk.count + 1, "truncated_file", chunk.error)
    # Damaged blocks (a cut or corrupt file) are facts about the files, already counted as such;
    # the fraction is meant to catch rows the config reads wrongly, so they do not count here.
    n_bad = sum(c for r, c in bad.counts.items() if r not in ("truncated_file", "corrupt_file"))
    rows = table.num_rows + n_bad
    if rows >= MIN_ROWS_FOR_FRACTION and n_bad > cfg.max_bad_fraction * rows:
        top = ", ".join(f"{r}: {c}" for r, c in sorted(bad.counts.items(), key=lambda kv: -kv[1])[:3])
        where = f"{chunk.path}" + (f" (rows {chunk.start + 1}..{chunk.start + chunk.count})" if not chunk.files else
                                   f" and {len(chunk.files) - 1} more files")
        raise DataError(f"source {cfg.name!r}: {n_bad} of {rows} rows of {where} are bad ({top}), more than "
                        f"max_bad_fraction={cfg.max_bad_fraction}; fix the source config, or raise max_bad_fraction")
    return table, bad


