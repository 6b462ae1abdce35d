"""Export token shards as a Hugging Face dataset, for users of other trainers.

One row per document: ``input_ids`` (list<int32>: prefix tokens + text tokens + EOS, as stored;
without the prefix under ``--strip-metadata``), ``prefix_len`` (tokens to mask: MeCo), ``id``,
``source`` and the index's score columns. ``--format parquet`` writes one Parquet file per shard
(``datasets.load_dataset("parquet", data_files=...)`` reads them, as does any Arrow tool) with
pyarrow alone; ``--format disk`` (default) writes ``Dataset.save_to_disk`` output into OUT itself,
so ``datasets.load_from_disk(OUT)`` opens it (needs the ``datasets`` package). ``tokenizer.json``
is copied beside the data in both formats; the command prints the path to load.

    datamill export-hf SHARD_DIR -o OUT [--format disk|parquet] [--strip-metadata]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datamill.shards import INDEX_COLUMNS, Shard, ShardError, ShardSet

log = logging.getLogger(__name__)


def shard_table(shard: Shard, strip_metadata: bool = False) -> pa.Table:
    """One row per document of one shard, with its tokens as ``input_ids``."""
    idx = shard.index
    offset = idx.column("offset").to_numpy().astype(np.int64)
    length = idx.column("length").to_numpy().astype(np.int64)
    prefix = idx.column("prefix_len").to_numpy().astype(np.int64)
    start = offset + prefix if strip_metadata else offset
    size = length - prefix if strip_metadata else length
    keep = np.zeros(len(shard.tokens), bool)
    firsts = np.cumsum(size) - size
    keep[np.repeat(start - firsts, size) + np.arange(int(size.sum()))] = True
    values = pa.array(np.asarray(shard.tokens)[keep].astype(np.int32))
    offsets = pa.array(np.concatenate([[0], np.cumsum(size)]).astype(np.int32))
    scores = [c for c in idx.column_names if c not in INDEX_COLUMNS]
    return pa.table({"input_ids": pa.ListArray.from_arrays(offsets, values),
                     "prefix_len": pa.array(np.zeros_like(prefix) if strip_metadata else prefix, pa.int32()),
                     "id": idx.column("id"), "source": idx.column("source"),
                     **{c: idx.column(c) for c in scores}})


def export(shard_dir: str, out: str, *, fmt: str = "disk", strip_metadata: bool = False) -> Path:
    shards = ShardSet(shard_dir)
    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    tables = (shard_table(s, strip_metadata) for s in shards.shards)
    if fmt == "parquet":
        for s, table in zip(shards.shards, tables):
            pq.write_table(table, out_path / f"{s.name}.parquet", compression="zstd")
    elif fmt == "disk":
        import datasets  # only this format needs it

        from datasets.table import InMemoryTable

        ds = datasets.concatenate_datasets([datasets.Dataset(InMemoryTable(t)) for t in tables])
        # OUT itself, not a subfolder: load_from_disk reads state.json and ignores tokenizer.json
        ds.save_to_disk(str(out_path))
    else:
        raise ValueError(f"format: expected 'disk' or 'parquet', got {fmt!r}")
    shutil.copyfile(shards.tokenizer_path, out_path / "tokenizer.json")
    return out_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="datamill export-hf", description=__doc__.split("\n\n")[0])
    ap.add_argument("shard_dir", help="a token_shards stage directory (with manifest.json)")
    ap.add_argument("-o", "--output", required=True, help="output directory")
    ap.add_argument("--format", choices=("disk", "parquet"), default="disk")
    ap.add_argument("--strip-metadata", action="store_true", help="leave MeCo metadata prefixes out")
    args = ap.parse_args(argv)
    try:
        path = export(args.shard_dir, args.output, fmt=args.format, strip_metadata=args.strip_metadata)
    except ShardError as e:  # not a shard directory, or a damaged one: one line, not a traceback
        print(f"datamill export-hf: error: {e}", file=sys.stderr)
        return 2
    how = "datasets.load_from_disk(PATH)" if args.format == "disk" else 'datasets.load_dataset("parquet", data_dir=PATH)'
    log.info("open it with %s", how)
    print(f"wrote {path}")  # the path alone on the line, for scripts
    return 0
