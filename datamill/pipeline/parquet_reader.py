"""Parquet reader: a chunk of row groups -> the document table, keeping the file's other columns.

Fields may be dotted paths into struct columns (``metadata.url``); the struct column stays with
that field taken out, so every input value appears once in the output.
"""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.compute as pc

from datamill.pipeline.source_config import BadRecords, Chunk, SourceConfig, doc_table, stable_id

_DOC_COLUMNS = ("id", "text", "url", "source")


def _column(table: pa.Table, path: str) -> pa.ChunkedArray | None:
    """A column, or the values at a dotted path into struct columns (None when absent)."""
    if path in table.column_names:
        return table.column(path)
    head, *rest = path.split(".")
    if head not in table.column_names:
        return None
    col = table.column(head)
    for part in rest:
        if not pa.types.is_struct(col.type) or col.type.get_field_index(part) < 0:
            return None
        col = pc.struct_field(col, part)
    return col


def _without(col: pa.ChunkedArray, rest: list[str]) -> pa.ChunkedArray | None:
    """A struct column with the field at path ``rest`` removed (None when nothing is left)."""
    arr = col.combine_chunks()
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    children = {n: arr.field(i) for i, n in enumerate(names)}
    if rest[0] not in children:
        return col
    if len(rest) > 1 and pa.types.is_struct(children[rest[0]].type):
        inner = _without(pa.chunked_array([children[rest[0]]]), rest[1:])
        if inner is None:
            del children[rest[0]]
        else:
            children[rest[0]] = inner.combine_chunks()
    else:
        del children[rest[0]]
    if not children:
        return None
    return pa.chunked_array([pa.StructArray.from_arrays(list(children.values()), list(children),
                                                        mask=arr.is_null() if arr.null_count else None)])


def _rest(table: pa.Table, used: list[str]) -> pa.Table:
    """The file's other columns: used fields dropped (a nested one taken out of its struct)."""
    for path in used:
        if not path:
            continue
        if path in table.column_names:
            table = table.drop_columns([path])
            continue
        head, *rest = path.split(".")
        if rest and head in table.column_names and pa.types.is_struct(table.column(head).type):
            col = _without(table.column(head), rest)
            i = table.column_names.index(head)
            table = table.remove_column(i) if col is None else table.set_column(i, head, col)
    return table.drop_columns([c for c in _DOC_COLUMNS if c in table.column_names])


def _texts(cfg: SourceConfig, table: pa.Table, urls: list, chunk: Chunk, bad: BadRecords) -> list | None:
    """The text of each row (None for a bad one), or None when the whole chunk is bad."""
    field = cfg.html_field or cfg.text_field
    col = _column(table, field)
    if col is None:  # planning checks every file, so only a file changed since then gets here
        bad.add(chunk.path, chunk.start + 1, "missing_text", f"no column {field!r}", n=table.num_rows)
        return None
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        bad.add(chunk.path, chunk.start + 1, "wrong_type", f"column {field!r} is {col.type}, not a string",
                n=table.num_rows)
        return None
    values = col.to_pylist()
    if not cfg.html_field:
        return values
    from datamill.pipeline.io.html import html_to_text

    out = []
    for i, (html, url) in enumerate(zip(values, urls)):
        text = html_to_text(html, url=url) if isinstance(html, str) else None
        if html is not None and not text:
            bad.add(chunk.path, chunk.start + i + 1, "empty_after_extraction", "no main text in the HTML")
            text = False  # (counted here, not again as missing below)
        out.append(text)
    return out


def read_parquet(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    """Parquet keeps its own columns; only id/text/url are renamed onto the document schema."""
    import pyarrow.parquet as pq

    if chunk.error and not chunk.count:  # planning could not open it; read_chunk reports the file
        return doc_table(cfg, [])
    end = chunk.start + chunk.count
    try:
        with fsspec.open(chunk.path, "rb") as f:
            pf = pq.ParquetFile(f)
            starts, seen = [], 0
            for g in range(pf.metadata.num_row_groups):
                starts.append(seen)
                seen += pf.metadata.row_group(g).num_rows
            groups = [g for g, s in enumerate(starts)
                      if s < end and s + pf.metadata.row_group(g).num_rows > chunk.start]
            table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    except Exception as e:  # corrupt pages: every row of the chunk is lost, and counted
        bad.add(chunk.path, chunk.start + 1, "corrupt_file", f"rows {chunk.start}..{end - 1}: {type(e).__name__}: {e}",
                n=chunk.count)
        return doc_table(cfg, [])
    offset = chunk.start - (starts[groups[0]] if groups else 0)
    table = table.slice(offset, chunk.count)
    url = _column(table, cfg.url_field)
    url = url.cast(pa.string()) if url is not None else pa.nulls(len(table), pa.string())
    texts = _texts(cfg, table, url.to_pylist(), chunk, bad)
    if texts is None:
        return doc_table(cfg, [])
    id_col = _column(table, cfg.id_field)
    ids = id_col.to_pylist() if id_col is not None else [None] * len(table)
    ids = [str(v) if v not in (None, "") else stable_id(cfg, chunk.path, chunk.start + i) for i, v in enumerate(ids)]
    keep = [i for i, t in enumerate(texts) if isinstance(t, str)]
    for i, t in enumerate(texts):
        if t is None:
            bad.add(chunk.path, chunk.start + i + 1, "missing_text", f"null {cfg.html_field or cfg.text_field!r}")
    rest = _rest(table, [cfg.html_field or cfg.text_field, cfg.id_field, cfg.url_field])
    texts = pa.array([t if isinstance(t, str) else None for t in texts], pa.string())
    out = pa.table({"id": pa.array(ids, pa.string()), "text": texts, "url": url,
                    "source": pa.array([cfg.source_label] * len(table), pa.string())})
    for name in rest.column_names:
        out = out.append_column(name, rest.column(name))
    return out.take(keep) if len(keep) < len(table) else out
