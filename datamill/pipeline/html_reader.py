"""The ``html`` format: a directory (or glob) of saved HTML pages, one document per file, main
text extracted with trafilatura as for ``warc``. Ids hash the path relative to the source's base
directory (as for ``text``), so moving the corpus keeps them."""

from __future__ import annotations

import pyarrow as pa

from datamill.pipeline.io.compressed import read_document_file
from datamill.pipeline.source_config import BadRecords, Chunk, SourceConfig, base_dir, doc_table, stable_id


def read_html(cfg: SourceConfig, chunk: Chunk, bad: BadRecords) -> pa.Table:
    from datamill.pipeline.io.html import html_to_text, page_url

    rows = []
    for path in chunk.files:
        raw = read_document_file(path, cfg.max_doc_bytes, bad)
        if raw is None:
            continue
        url = page_url(raw)  # bytes: trafilatura and lxml read the page's own charset declaration
        text = html_to_text(raw, url=url)
        if not text:
            bad.add(path, 0, "empty_after_extraction", "no main text in the HTML", raw[:2000])
            continue
        rel = path[len(base_dir(cfg)):] if path.startswith(base_dir(cfg)) else path.rsplit("/", 1)[-1]
        rows.append({"id": stable_id(cfg, path, 0), "text": text, "url": url, "meta": {"file": rel}})
    return doc_table(cfg, rows)
