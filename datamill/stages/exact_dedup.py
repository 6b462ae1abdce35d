"""``exact_dedup``: one document per normalised-text hash, the smallest id kept.

Hashes are shuffled by value to buckets (so no task ever sees all hashes), each bucket picks
its keepers, and the removed rows are shuffled back to the partitions they came from.
"""

from __future__ import annotations

from typing import ClassVar

import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from datamill.partitions import Partitions, PlanContext
from datamill.stage import GlobalStage, Mode, set_column, with_reasons
from datamill.stages.minhash.clusters import merge_sizes, size_stats
from datamill.stages.table_groups import group_starts, split_rows

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class ExactDedup(GlobalStage):
    """Keep the first document (smallest id) of each group with the same normalised text."""

    use: ClassVar[str] = "exact_dedup"
    lowercase: bool = False  # True also merges documents that differ only in case
    mode: Mode = "drop"  # drop | annotate (writes exact_duplicate_of, keeps every row)

    version = "1"
    writes = ("exact_duplicate_of",)

    def digest(self, text: str) -> int:
        text = _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()
        return xxhash.xxh3_64_intdigest((text.lower() if self.lowercase else text).encode())

    def plan(self, ctx: PlanContext, parts: Partitions) -> Partitions:
        # hash records are ~30 bytes a row plus the id: a few buckets hold them, and the all-to-all
        # exchange costs n_in x n_out small tasks, so buckets grow as sqrt(partitions), not as partitions
        n = max(math.isqrt(len(parts)), 1)
        hashes = parts.map_indexed(self._hashes)
        duplicates = hashes.shuffle(_split_by_hash, n, self._pick_keepers)
        # a group's duplicates share one hash bucket, so per-bucket sizes add up exactly
        ctx.add_stats("clusters", duplicates.map(_cluster_sizes).reduce(merge_sizes).map(size_stats))
        back = duplicates.shuffle(_split_by_partition, len(parts), _concat_duplicates)
        return parts.map(self._apply, back)

    def _hashes(self, i: int, table: pa.Table) -> pa.Table:
        n = table.num_rows
        return pa.table({"hash": pa.array([self.digest(t) for t in table.column("text").to_pylist()], pa.uint64()),
                         "id": pc.cast(table.column("id"), pa.string()),
                         "part": pa.array(np.full(n, i, np.int32)), "row": pa.array(np.arange(n, dtype=np.int32))})

    @staticmethod
    def _pick_keepers(pieces: list[pa.Table]) -> pa.Table:
        """The duplicate rows of one hash bucket, each with its group's smallest id as ``keeper``."""
        rec = _concat_records(pieces).sort_by([("hash", "ascending"), ("id", "ascending")])
        first, group_start = group_starts(rec.column("hash").to_numpy())
        keeper = rec.column("id").take(pa.array(group_start[~first]))
        return rec.filter(pa.array(~first)).append_column("keeper", keeper)

    def _apply(self, table: pa.Table, dups: pa.Table) -> pa.Table:
        of = [None] * table.num_rows
        for row, keeper in zip(dups.column("row").to_pylist(), dups.column("keeper").to_pylist()):
            of[row] = keeper
        table = set_column(table, "exact_duplicate_of", pa.array(of, pa.string()))
        return with_reasons(table, pa.array(["exact_duplicate" if k else None for k in of], pa.string()))


def _cluster_sizes(dups: pa.Table) -> dict[int, int]:
    """{group size: groups} of the groups with duplicates in one bucket (size = duplicates + keeper)."""
    if not dups.num_rows:
        return {}
    per_keeper = pc.value_counts(dups.column("keeper")).field("counts").to_numpy() + 1
    sizes, counts = np.unique(per_keeper, return_counts=True)
    return dict(zip(sizes.tolist(), counts.tolist()))


# Hash records are compact Arrow tables (hash, id, part, row): ~30 bytes a row plus the id,
# where numpy object arrays of ids cost ~70 (the records of a whole corpus pass through memory).
_RECORDS = pa.schema([("hash", pa.uint64()), ("id", pa.string()), ("part", pa.int32()), ("row", pa.int32())])
_DUPLICATES = _RECORDS.append(pa.field("keeper", pa.string()))


def _concat_records(pieces: list[pa.Table], schema: pa.Schema = _RECORDS) -> pa.Table:
    return pa.concat_tables(pieces) if pieces else schema.empty_table()


def _concat_duplicates(pieces: list[pa.Table]) -> pa.Table:
    return _concat_records(pieces, _DUPLICATES)


def _split_by_hash(rec: pa.Table, n: int) -> list[pa.Table]:
    return split_rows(rec, rec.column("hash").to_numpy() % np.uint64(n), n)


def _split_by_partition(rec: pa.Table, n: int) -> list[pa.Table]:
    return split_rows(rec, rec.column("part").to_numpy(), n)
