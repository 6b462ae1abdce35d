"""A source's config and the types every reader shares: chunks, bad-record accounting, the
document table. Apart from the readers (``formats.py``) and planning (``sources.py``) so that
neither imports the other's module for its types."""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa

from datamill.typed_config import ConfigError, build

Format = Literal["jsonl", "parquet", "text", "warc", "hf", "python_docs"]
FORMATS: tuple[str, ...] = typing.get_args(Format)
DOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()),
                        ("source", pa.string()), ("meta", pa.string())])


class DataError(RuntimeError):
    """Bad input under ``on_error: fail``; the message names the file and line."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    format: Format
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


def base_dir(cfg: SourceConfig) -> str:
    """The non-glob prefix of the path; ids hash paths relative to it, so moving a corpus keeps ids."""
    head = cfg.path.split("*")[0].split("?")[0].split("[")[0]
    return head if head.endswith("/") else str(Path(head).parent) + "/"


def stable_id(cfg: SourceConfig, path: str, row: int) -> str:
    rel = path[len(base_dir(cfg)):] if path.startswith(base_dir(cfg)) else Path(path).name
    return hashlib.sha1(f"{rel}:{row}".encode()).hexdigest()[:16]


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
