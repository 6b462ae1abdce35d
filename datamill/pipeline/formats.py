"""Per-format readers: one chunk of one source -> a document table, bad records counted."""

from __future__ import annotations

import json
import re
from itertools import islice

import fsspec
import pyarrow as pa

from datamill.pipeline.io.compressed import open_binary, read_document_file
from datamill.pipeline.html_reader import read_html
from datamill.pipeline.parquet_reader import read_parquet
from datamill.pipeline.source_config import (MISSING, BadRecords, Chunk, SourceConfig, doc_table, field_value,
                                             stable_id, without_fields)

# a \uD800-\uDFFF escape: json.loads accepts a lone one, Arrow (UTF-8) cannot store it
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _record(cfg: SourceConfig, obj: dict, path: str, row: int, bad: BadRecords, raw) -> dict | None:
    """Map one input record onto id/text/url/meta, or count it as bad and return None. Fields may
    be dotted paths into nested objects; ``meta`` keeps every other field once (a nested field
    mapped onto a column is removed from its parent)."""
    line = row + 1
    url = field_value(obj, cfg.url_field)
    url = url if isinstance(url, str) else None
    if cfg.html_field:
        html = field_value(obj, cfg.html_field)
        if not isinstance(html, str):
            bad.add(path, line, "missing_html", f"field {cfg.html_field!r} missing or not a string", raw)
            return None
        from datamill.pipeline.io.html import html_to_text

        text = html_to_text(html, url=url)
        if not text:
            bad.add(path, line, "empty_after_extraction", "no main text in the HTML", raw)
            return None
    else:
        text = field_value(obj, cfg.text_field)
        if not isinstance(text, str):
            reason = "missing_text" if text is None or text is MISSING else "wrong_type"
            kind = "missing" if text is MISSING else type(text).__name__
            bad.add(path, line, reason, f"field {cfg.text_field!r} is {kind}, not a string", raw)
            return None
    doc_id = field_value(obj, cfg.id_field)
    meta = without_fields(obj, [cfg.html_field or cfg.text_field, cfg.id_field, cfg.url_field])
    return {"id": str(doc_id) if doc_id not in (None, "", MISSING) else stable_id(cfg, path, row),
            "text": text, "url": url, "meta": meta or None}


def read_jsonl(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    rows = []
    with open_binary(chunk.path) as f:
        if chunk.byte_offset >= 0:
            f.seek(chunk.byte_offset)
            lines = islice(f, chunk.count)
        else:
            lines = islice(f, chunk.start, chunk.start + chunk.count)
        for row, raw in enumerate(lines, start=chunk.start):
            if not raw.strip():
                bad.add(chunk.path, row + 1, "empty_line", "blank line", raw)
                continue
            if len(raw) > cfg.max_doc_bytes:
                bad.add(chunk.path, row + 1, "too_large", f"{len(raw)} bytes > max_doc_bytes", raw[:2000])
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                bad.add(chunk.path, row + 1, "invalid_utf8", str(e), raw)
                continue
            except json.JSONDecodeError as e:
                bad.add(chunk.path, row + 1, "malformed_json", str(e), raw)
                continue
            if not isinstance(obj, dict):
                bad.add(chunk.path, row + 1, "malformed_json", f"a JSON {type(obj).__name__}, not an object", raw)
                continue
            if _SURROGATE_ESCAPE.search(raw):
                try:
                    json.dumps(obj, ensure_ascii=False).encode("utf-8")
                except UnicodeEncodeError as e:
                    bad.add(chunk.path, row + 1, "invalid_utf8", f"lone surrogate escape: {e}", raw)
                    continue
            rec = _record(cfg, obj, chunk.path, row, bad, raw)
            if rec is not None:
                rows.append(rec)
    return doc_table(cfg, rows)


def read_text(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    rows = []
    for path in chunk.files:
        raw = read_document_file(path, cfg.max_doc_bytes, bad)
        if raw is None:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            bad.add(path, 0, "invalid_utf8", str(e), raw[:2000])
            continue
        rows.append({"id": stable_id(cfg, path, 0), "text": text, "url": None, "meta": None})
    return doc_table(cfg, rows)


def _warc_responses(path: str):
    """(record, HTTP body) of each response record, in file order."""
    from warcio.archiveiterator import ArchiveIterator

    with fsspec.open(path, "rb") as f:
        records, end = ArchiveIterator(f), 0
        for record in records:
            body = record.content_stream().read() if record.rec_type == "response" else b""
            # warcio ends quietly inside a cut record: a header without Content-Length, a block
            # shorter than it, or bytes after the last whole record mean a truncated file
            if not hasattr(record.raw_stream, "limit"):
                raise EOFError("WARC record header without Content-Length (cut or corrupt)")
            record.raw_stream.read()
            if record.raw_stream.limit:
                raise EOFError(f"WARC record cut short ({record.raw_stream.limit} bytes of its block missing)")
            end = records.get_record_offset() + records.get_record_length()
            if record.rec_type == "response":
                yield record, body
        f.seek(end)
        if f.read(1 << 16).strip():
            raise EOFError(f"bytes after offset {end} are not a complete WARC record")


def count_warc_records(path: str) -> tuple[int, str]:
    n = 0
    try:
        for _ in _warc_responses(path):
            n += 1
    except Exception as e:  # truncated archive: keep the complete records before it
        return n, f"truncated or corrupt after record {n}: {type(e).__name__}: {e}"
    return n, ""


def read_warc(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    from datamill.pipeline.io.html import html_to_text

    rows = []
    for i, (record, body) in enumerate(islice(_warc_responses(chunk.path), chunk.start, chunk.start + chunk.count),
                                       start=chunk.start):
        url = record.rec_headers.get_header("WARC-Target-URI")
        ctype = (record.http_headers.get_header("Content-Type") or "") if record.http_headers else ""
        if "html" not in ctype.lower() and not body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html")):
            bad.add(chunk.path, i + 1, "not_html", f"Content-Type {ctype!r} ({url})")
            continue
        text = html_to_text(body, url=url)
        if not text:
            bad.add(chunk.path, i + 1, "empty_after_extraction", f"no main text ({url})")
            continue
        rec_id = record.rec_headers.get_header("WARC-Record-ID") or stable_id(cfg, chunk.path, i)
        rows.append({"id": rec_id.strip("<>"), "text": text, "url": url,
                     "meta": {"warc_date": record.rec_headers.get_header("WARC-Date")}})
    return doc_table(cfg, rows)


def _hf_dataset(cfg: SourceConfig):
    import datasets
    from pathlib import Path

    path = Path(cfg.path)
    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()):
        ds = datasets.load_from_disk(str(path))
        return ds[cfg.split] if isinstance(ds, datasets.DatasetDict) else ds
    suffix = cfg.path.rsplit(".", 1)[-1]
    builder = {"jsonl": "json", "json": "json", "parquet": "parquet", "csv": "csv"}.get(suffix)
    if builder:
        return datasets.load_dataset(builder, data_files=cfg.path, split=cfg.split)
    return datasets.load_dataset(cfg.path, split=cfg.split)


def count_rows(cfg: SourceConfig) -> int:
    if cfg.format == "python_docs":
        from datamill.pipeline.pydocs import python_docs

        return len(python_docs())
    ds = _hf_dataset(cfg)
    for field in cfg.required_fields():
        if field_value(ds.features, field) is MISSING:
            raise cfg.field_error(field, cfg.path, ds.features)
    return len(ds)


def read_hf(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    ds = _hf_dataset(cfg).select(range(chunk.start, chunk.start + chunk.count))
    rows = []
    for i, obj in enumerate(ds, start=chunk.start):
        rec = _record(cfg, obj, cfg.path, i, bad, "")
        if rec is not None:
            rows.append(rec)
    return doc_table(cfg, rows)


def read_python_docs(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    from datamill.pipeline.pydocs import python_docs

    docs = python_docs()[chunk.start:chunk.start + chunk.count]
    return doc_table(cfg, [{"id": d["id"], "text": d["text"], "url": d["url"], "meta": None} for d in docs])


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "text": read_text, "html": read_html, "warc": read_warc,
           "hf": read_hf, "python_docs": read_python_docs}  # one per source_config.FORMATS
