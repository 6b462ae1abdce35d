"""``exact_dedup``: one document per normalised-text hash, the smallest id kept.

Hashes are shuffled by value to buckets (so no task ever sees all hashes), each bucket picks
its keepers, and the removed rows are shuffled back to the partitions they came from.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import xxhash

from datamill.pipeline.partitions import Partitions, PlanContext
from datamill.stages.base import GlobalStage, register, set_column, with_reasons

_WS = re.compile(r"\s+")


@register("exact_dedup")
@dataclass(frozen=True)
class ExactDedup(GlobalStage):
    lowercase: bool = False  # True also merges documents that differ only in case
    mode: str = "drop"  # drop | annotate (writes exact_duplicate_of, keeps every row)

    version = "1"
    writes = ("exact_duplicate_of",)

    def __post_init__(self):
        if self.mode not in ("drop", "annotate"):
            raise ValueError("key 'mode' must be 'drop' or 'annotate'")

    def digest(self, text: str) -> int:
        text = _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()
        return xxhash.xxh3_64_intdigest((text.lower() if self.lowercase else text).encode())

    def plan(self, ctx: PlanContext, *inputs: Partitions) -> Partitions:
        (parts,) = inputs
        # hash records are ~40 bytes a row: a few buckets hold them, and the all-to-all exchange
        # costs n_in x n_out small tasks, so buckets grow as sqrt(partitions), not as partitions
        n = max(math.isqrt(len(parts)), 1)
        hashes = parts.map_indexed(self._hashes)
        duplicates = hashes.shuffle(_split_by_hash, n, self._pick_keepers)
        back = duplicates.shuffle(_split_by_partition, len(parts), _concat_records)
        return parts.map(self._apply, back)

    def _hashes(self, i: int, table: pa.Table) -> dict:
        ids = table.column("id").to_pylist()
        return {"hash": np.array([self.digest(t) for t in table.column("text").to_pylist()], np.uint64),
                "id": np.array(ids, dtype=object), "part": np.full(len(ids), i, np.int64),
                "row": np.arange(len(ids), dtype=np.int64)}

    @staticmethod
    def _pick_keepers(pieces: list[dict]) -> dict:
        rec = _concat_records(pieces)
        if not len(rec["hash"]):
            return {k: v[:0] for k, v in rec.items()} | {"keeper": np.array([], dtype=object)}
        order = np.lexsort((rec["id"].astype(str), rec["hash"]))
        rec = {k: v[order] for k, v in rec.items()}
        first = np.ones(len(order), bool)
        first[1:] = rec["hash"][1:] != rec["hash"][:-1]
        keeper = rec["id"][np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
        dup = ~first
        return {k: v[dup] for k, v in rec.items()} | {"keeper": keeper[dup]}

    def _apply(self, table: pa.Table, dups: dict) -> pa.Table:
        of = [None] * table.num_rows
        for row, keeper in zip(dups.get("row", []), dups.get("keeper", [])):
            of[int(row)] = str(keeper)
        table = set_column(table, "exact_duplicate_of", pa.array(of, pa.string()))
        return with_reasons(table, pa.array(["exact_duplicate" if k else None for k in of], pa.string()))


def _concat_records(pieces: list[dict]) -> dict:
    pieces = [p for p in pieces if p and len(next(iter(p.values())))]
    if not pieces:
        return {"hash": np.array([], np.uint64), "id": np.array([], dtype=object),
                "part": np.array([], np.int64), "row": np.array([], np.int64)}
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}


def _split_by_hash(rec: dict, n: int) -> list[dict]:
    bucket = rec["hash"] % np.uint64(n)
    return [{k: v[bucket == j] for k, v in rec.items()} for j in range(n)]


def _split_by_partition(rec: dict, n: int) -> list[dict]:
    return [{k: v[rec["part"] == j] for k, v in rec.items()} for j in range(n)]
