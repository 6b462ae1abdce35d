"""Sources: config, planning into bounded chunks, and reading a chunk into a document table.

Planning runs one task per file (counting lines or records), so chunk boundaries and row
numbers depend only on the files, never on workers. Each chunk becomes one partition.
A bad record is counted and sampled with its file and line (``on_error: skip``) or stops the
run with that file and line (``on_error: fail``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import fsspec
import pyarrow as pa

from datamill.typed_config import ConfigError, build

FORMATS = ("jsonl", "parquet", "text", "warc", "hf", "python_docs")
DOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()),
                        ("source", pa.string()), ("meta", pa.string())])


class DataError(RuntimeError):
    """Bad input under ``on_error: fail``; the message names the file and line."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    format: Literal["jsonl", "parquet", "text", "warc", "hf", "python_docs"]
    path: str = ""  # fsspec path or glob; for hf also a save_to_disk dir or a hub id
    text_field: str = "text"
    id_field: str = "id"  # missing ids become sha1(file relative path : line)
    url_field: str = "url"
    html_field: str = ""  # set to extract main text from an HTML field (trafilatura)
    label: str = ""  # value of the `source` column; defaults to the source name
    split: str = "train"  # hf datasets only
    on_error: Literal["skip", "fail"] = "skip"
    max_doc_bytes: int = 64 * 2**20  # larger records are bad input, not a worker OOM

    @classmethod
    def from_dict(cls, name: str, spec: dict, base: Path) -> SourceConfig:
        if not isinstance(spec, dict):
            raise ConfigError(f"source {name!r}: expected a mapping with 'format' and 'path'")
        spec = dict(spec)
        if spec.get("format") not in FORMATS:
            raise ConfigError(f"source {name!r}: key 'format' must be one of {list(FORMATS)}, "
                              f"got {spec.get('format')!r}")
        path = str(spec.get("path", ""))
        if path and "://" not in path and not Path(path).is_absolute() and spec["format"] != "hf":
            path = str((base / path).resolve())
        elif spec["format"] == "hf" and path and (base / path).exists():
            path = str((base / path).resolve())
        spec["path"] = path
        if not path and spec["format"] != "python_docs":
            raise ConfigError(f"source {name!r}: missing key 'path'")
        return build(cls, {"name": name, **spec}, f"source {name!r}")

    @property
    def source_label(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Chunk:
    """Rows [start, start + count) of one file (or a group of files for ``text``)."""

    path: str
    start: int  # first row/line/record index in the file (0-based)
    count: int
    byte_offset: int = -1  # where line `start` begins, for uncompressed jsonl
    files: tuple[str, ...] = ()  # text format: one document per file
    error: str = ""  # a file-level problem (truncation) found while planning, reported by the last chunk


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


def base_dir(cfg: SourceConfig) -> str:
    """The non-glob prefix of the path; ids hash paths relative to it, so moving a corpus keeps ids."""
    head = cfg.path.split("*")[0].split("?")[0].split("[")[0]
    return head if head.endswith("/") else str(Path(head).parent) + "/"


def stable_id(cfg: SourceConfig, path: str, row: int) -> str:
    rel = path[len(base_dir(cfg)):] if path.startswith(base_dir(cfg)) else Path(path).name
    return hashlib.sha1(f"{rel}:{row}".encode()).hexdigest()[:16]


def _compressed(path: str) -> bool:
    return path.endswith((".gz", ".zst", ".bz2", ".xz"))


class _ZstdRaw(io.RawIOBase):
    """zstandard's own stream reader cannot iterate lines and ends silently where a file was
    cut; this one decodes frame by frame and raises EOFError when the data stops inside one."""

    def __init__(self, f):
        import zstandard

        self._f, self._new = f, zstandard.ZstdDecompressor().decompressobj
        self._d, self._in_frame, self._buf, self._pos = self._new(), False, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            data = self._f.read(1 << 16)
            if not data:
                if self._in_frame:
                    raise EOFError("zstd stream ended inside a frame (truncated file)")
                return 0
            out = []
            while data:
                self._in_frame = True
                out.append(self._d.decompress(data))
                data = b""
                if self._d.eof:
                    data, self._d, self._in_frame = self._d.unused_data, self._new(), False
            self._buf, self._pos = b"".join(out), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n


@contextlib.contextmanager
def open_binary(path: str):
    """A binary reader that decompresses by extension and raises where a compressed file is cut."""
    if not path.endswith(".zst"):
        with fsspec.open(path, "rb", compression="infer") as f:
            yield f
        return
    with fsspec.open(path, "rb") as f:
        yield io.BufferedReader(_ZstdRaw(f), buffer_size=1 << 20)


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
        from datamill.pipeline.formats import count_warc_records

        n, error = count_warc_records(path)
        chunks = [Chunk(path, s, min(rows, n - s)) for s in range(0, n, rows)] or [Chunk(path, 0, 0)]
        return chunks[:-1] + [Chunk(path, chunks[-1].start, chunks[-1].count, error=error)]
    raise ValueError(f"plan_file does not handle format {cfg.format!r}")


def _plan_lines(path: str, rows: int, max_bytes: int) -> list[Chunk]:
    chunks, start, offset, chunk_offset, chunk_bytes, n, error = [], 0, 0, 0, 0, 0, ""
    compressed = _compressed(path)
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
        from datamill.pipeline.formats import count_rows

        n = count_rows(cfg)
        return [Chunk(cfg.path or cfg.format, s, min(rows, n - s)) for s in range(0, n, rows)]
    per_file = map_fn(lambda p: plan_file(cfg, p, rows, max_bytes), files)
    return [c for chunks in per_file for c in chunks]


class BadRecords:
    """Counts and samples bad input; raises at once under ``on_error: fail``."""

    def __init__(self, cfg: SourceConfig, samples: int):
        self.cfg, self.samples = cfg, samples
        self.counts: dict[str, int] = {}
        self.rows: list[dict] = []

    def add(self, path: str, line: int, reason: str, detail: str, raw: bytes | str = b"", n: int = 1) -> None:
        """``n`` rows from ``line`` on are bad (a whole unreadable block counts all its rows)."""
        where = f"{path}:{line}" if line else path
        if self.cfg.on_error == "fail":
            raise DataError(f"source {self.cfg.name!r}: {where}: {reason}: {detail}")
        self.counts[reason] = self.counts.get(reason, 0) + n
        if sum(1 for r in self.rows if r["_removal_reason"] == reason) < self.samples:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            self.rows.append({"id": where, "text": text[:2000], "_removal_reason": reason,
                              "file": path, "line": line, "detail": detail[:500]})


def read_chunk(cfg: SourceConfig, chunk: Chunk, samples: int) -> tuple[pa.Table, BadRecords]:
    from datamill.pipeline import formats

    bad = BadRecords(cfg, samples)
    reader = {"jsonl": formats.read_jsonl, "parquet": formats.read_parquet, "text": formats.read_text,
              "warc": formats.read_warc, "hf": formats.read_hf,
              "python_docs": formats.read_python_docs}[cfg.format]
    table = reader(cfg, chunk, bad)
    if chunk.error:
        bad.add(chunk.path, chunk.start + chunk.count + 1, "truncated_file", chunk.error)
    return table, bad


def doc_table(cfg: SourceConfig, rows: list[dict]) -> pa.Table:
    """Rows with id/text/url/meta (meta: dict of the record's other fields, stored as JSON)."""
    label = cfg.source_label
    return pa.table({
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "text": pa.array([r["text"] for r in rows], pa.string()),
        "url": pa.array([r.get("url") for r in rows], pa.string()),
        "source": pa.array([label] * len(rows), pa.string()),
        "meta": pa.array([json.dumps(r["meta"], ensure_ascii=False, sort_keys=True) if r.get("meta")
                          else None for r in rows], pa.string()),
    }, schema=DOC_SCHEMA)
