"""A source's config and the types every reader shares: chunks, bad-record accounting, the
document table. Apart from the readers (``formats.py``) and planning (``sources.py``) so that
neither imports the other's module for its types."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa

from datamill.typed_config import ConfigError, build

Format = Literal["jsonl", "parquet", "text", "html", "warc", "hf", "python_docs"]
FORMATS: tuple[str, ...] = typing.get_args(Format)
# The keys each format reads. A key set for a format that does not read it was silently ignored
# (html_field on `text` made raw HTML the text), so it is a config error instead.
_COMMON = frozenset({"name", "format", "path", "label", "on_error", "max_bad_fraction"})
_FIELDS = frozenset({"text_field", "id_field", "url_field", "html_field"})
APPLIES: dict[str, frozenset[str]] = {
    "jsonl": _COMMON | _FIELDS | {"max_doc_bytes"},
    "parquet": _COMMON | _FIELDS,
    "hf": _COMMON | _FIELDS | {"split"},
    "text": _COMMON | {"max_doc_bytes"},
    "html": _COMMON | {"max_doc_bytes"},
    "warc": _COMMON,
    "python_docs": _COMMON - {"path"},  # the corpus ships with the package
}
MIN_ROWS_FOR_FRACTION = 20  # a chunk smaller than this never fails on max_bad_fraction: 1 bad row of 1 is noise
DOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()),
                        ("source", pa.string()), ("meta", pa.string())])


class DataError(RuntimeError):
    """Bad input under ``on_error: fail``, a field in no record of a file, or too many bad rows;
    the message names the source and the file (and line)."""


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
    # More bad rows than this in one chunk stop the run (1.0 = never). A majority of bad rows
    # means the reader is misconfigured (a pretty-printed JSON array read as jsonl), not that the
    # data is dirty: the real web pages here lose a quarter at most (docs/RELIABILITY.md, section 8).
    max_bad_fraction: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ValueError(f"key 'max_bad_fraction' must be between 0 and 1, got {self.max_bad_fraction}")
        if self.html_field and self.text_field != "text":  # the text comes from the HTML; text_field would be ignored
            raise ValueError("set either 'html_field' (text extracted from HTML) or 'text_field', not both")

    def required_fields(self) -> list[str]:
        """Fields that must be in some record of every file: the text (or HTML) field, and an
        id or url field the user renamed. The default `id`/`url` may be absent (ids are then made
        from file and line, urls are null): many corpora have neither."""
        req = [self.html_field or self.text_field]
        return req + [f for f, default in ((self.id_field, "id"), (self.url_field, "url")) if f and f != default]

    def field_error(self, field: str, path: str, seen) -> DataError:
        return DataError(f"source {self.name!r}: field {field!r} is in no record of {path} "
                         f"(fields seen: {', '.join(sorted(seen)[:20]) or 'none'})")

    @classmethod
    def from_dict(cls, name: str, spec: dict, base: Path) -> SourceConfig:
        if not isinstance(spec, dict):
            raise ConfigError(f"source {name!r}: expected a mapping with 'format' and 'path'")
        spec = dict(spec)
        if spec.get("format") not in FORMATS:
            raise ConfigError(f"source {name!r}: key 'format' must be one of {list(FORMATS)}, "
                              f"got {spec.get('format')!r}")
        fmt, known = spec["format"], {f.name for f in dataclasses.fields(cls)}
        for key in spec:  # (unknown keys are left to build(), which lists the allowed ones)
            if key in known and key not in APPLIES[fmt]:
                hint = "; for a directory of HTML files use format: html" if key == "html_field" else \
                    f"; keys for {fmt}: {sorted(APPLIES[fmt] - {'name', 'format'})}"
                raise ConfigError(f"source {name!r}: key {key!r} does not apply to format {fmt!r}{hint}")
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


MISSING = object()  # a field absent from a record, as opposed to present and null


def field_value(obj: dict, path: str):
    """The value at ``path`` in a record: a key, or a dotted path into nested mappings
    (``metadata.url``). A key that itself contains the dots wins. MISSING when absent."""
    if path in obj:
        return obj[path]
    node = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def without_fields(obj: dict, paths) -> dict:
    """A copy of ``obj`` without the fields at ``paths``, so ``meta`` holds each input field once:
    a nested field mapped onto a column is removed from its parent, and a parent left empty goes."""
    out = dict(obj)
    for path in paths:
        if not path:
            continue
        if path in out:
            del out[path]
            continue
        head, _, rest = path.partition(".")
        if rest and isinstance(out.get(head), dict):
            inner = without_fields(out[head], [rest])
            if inner or not out[head]:
                out[head] = inner
            else:
                del out[head]
    return out


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
