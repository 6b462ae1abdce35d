"""Per-document difficulty tables computed from token shards alone, for ``Curriculum(scores=...)``.

``compression_difficulty``: compressed / raw size of a document's text tokens under raw DEFLATE
(zlib, level 9): the inverse of the compression ratio, so higher is harder (less redundant).
Zhang et al. 2025 (arXiv 2506.11300) found compression ratio among the best curriculum
difficulty signals. Short documents compress poorly, so it correlates with length.

It returns ``pa.Table(id, compression_difficulty)`` in shard-index order; ``write_scores`` stores
one as Parquet. The difficulty under a trained model, and the CLI for both, are in
``datamill.train.difficulty`` (they need the model).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datamill.shards import ShardSet


def documents(shard_dirs: list[str]):
    """(id, text tokens) of every document of every shard dir, in index order."""
    for d in shard_dirs:
        s = ShardSet(d, verify="size")
        index = s.index()
        cols = {c: index.column(c).to_numpy() for c in ("shard", "offset", "length", "prefix_len")}
        for i, doc_id in enumerate(index.column("id").to_pylist()):
            start = int(cols["offset"][i] + cols["prefix_len"][i])
            end = int(cols["offset"][i] + cols["length"][i] - 1)  # the last token is EOS
            yield doc_id, s.shards[int(cols["shard"][i])].tokens[start:end]


def compression_difficulty(shard_dirs: list[str], *, level: int = 9) -> pa.Table:
    ids, values = [], []
    for doc_id, toks in documents(shard_dirs):
        raw = np.ascontiguousarray(toks).tobytes()
        c = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: no header to penalise short docs
        size = len(c.compress(raw) + c.flush())
        ids.append(doc_id)
        values.append(size / len(raw) if raw else float("nan"))
    return pa.table({"id": pa.array(ids, pa.string()), "compression_difficulty": pa.array(values, pa.float64())})


def write_scores(table: pa.Table, path: str) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
