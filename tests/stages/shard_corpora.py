"""Real corpora from ../shared/data and helpers shared by the shard, mix, MeCo, loader and MinHash
tests, and by the benchmarks that need the same text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa


def copy_table(t: pa.Table) -> pa.Table:
    """A table with its own buffers. Dask's tokenize() hashes slices of one table alike, so
    scattering un-copied slices would turn different partitions into one."""
    return pa.Table.from_pylist(t.to_pylist(), schema=t.schema)


def split(t: pa.Table, n: int) -> list[pa.Table]:
    size = -(-t.num_rows // n)
    return [copy_table(t.slice(i * size, size)) for i in range(n)]


def stories(shared_data: Path, splits=("train", "dev", "test")) -> pa.Table:
    """SQuALITY's Project Gutenberg stories (one row per story)."""
    rows, seen = [], set()
    for sp in splits:
        for line in (shared_data / "squality" / f"v1-3_txt_{sp}.jsonl").read_text().splitlines():
            d = json.loads(line)
            pid = d["metadata"]["passage_id"]
            if pid not in seen:
                seen.add(pid)
                rows.append({"id": f"gutenberg-{pid}", "url": f"https://www.gutenberg.org/ebooks/{pid}",
                             "text": d["document"], "source": "stories"})
    return pa.Table.from_pylist(rows)


def clough(shared_data: Path) -> pa.Table:
    """The Clough & Stevenson short answers and their Wikipedia sources (CRLF kept as is)."""
    rows = []
    for p in sorted((shared_data / "neardup-clough").glob("*.txt")):
        text = p.read_bytes().decode("utf-8", errors="replace")
        rows.append({"id": f"clough-{p.stem}", "url": None, "text": text, "source": "clough"})
    return pa.Table.from_pylist(rows, schema=pa.schema([("id", pa.string()), ("url", pa.string()),
                                                        ("text", pa.string()), ("source", pa.string())]))


def web(web_text: pa.Table) -> pa.Table:
    return web_text.append_column("source", pa.array(["web"] * web_text.num_rows, pa.string()))


def window_pairs(shared_data: Path, n: int = 800, length: int = 300, seed: int = 0) -> tuple[list[str], list[str]]:
    """Pairs of overlapping word windows of real prose (SQuALITY dev): Jaccard spread over [0, 1]."""
    with open(shared_data / "squality" / "v1-3_txt_dev.jsonl") as f:
        words = " ".join(json.loads(line)["document"] for line in f).split()
    rng = np.random.default_rng(seed)
    a, b = [], []
    for _ in range(n):
        s, k = int(rng.integers(0, len(words) - 2 * length)), int(rng.integers(0, length))
        a.append(" ".join(words[s:s + length]))
        b.append(" ".join(words[s + k:s + k + length]))
    return a, b
