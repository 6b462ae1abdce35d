"""``paragraph_dedup``: remove lines or paragraphs that recur across documents (boilerplate).

Each document's units (lines, or blank-line separated paragraphs) are normalised and hashed; the
distinct (hash, document) pairs are shuffled by hash to buckets, each bucket counts the documents
per hash and marks every hash found in at least ``min_docs`` documents as boilerplate (with
``keep_first``, the smallest id keeps its copy), and the marks travel back to the partitions they
came from, where the texts are rewritten. No task sees more than one bucket of hashes.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import functools
import math
import re
import sys
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from datamill.partitions import Partitions, PlanContext
from datamill.stage import GlobalStage, Mode, set_columns, with_reasons
from datamill.stages.table_groups import group_starts, split_rows

_PARAGRAPH_BREAK = re.compile(r"(\n\s*\n)")  # a blank line (whitespace-only lines count as blank)


@functools.cache
def _fold_table() -> dict[int, str | None]:
    """str.translate table: whitespace -> space, decimal digits -> 0, punctuation, symbols and
    control/format characters removed. Built once per process (~0.2 s), not at import."""
    table: dict[int, str | None] = {}
    for c in range(sys.maxunicode + 1):
        ch = chr(c)
        category = unicodedata.category(ch)
        if ch.isspace():
            table[c] = " "
        elif category == "Nd":
            table[c] = "0"
        elif category[0] in "PS" or category in ("Cc", "Cf"):
            table[c] = None
    return table


def normalise(unit: str) -> str:
    """CCNet's dedup normalisation (lower case, digits -> 0, punctuation and non-printing
    characters removed) over all of Unicode's punctuation and symbols (table rules "|---|", "©",
    "»"), with whitespace runs collapsed."""
    return " ".join(unit.lower().translate(_fold_table()).split())


@dataclass(frozen=True)
class ParagraphDedup(GlobalStage):
    """Remove lines/paragraphs found in at least ``min_docs`` documents: CCNet's line dedup
    (Wenzek et al. 2019), counted over distinct documents; Dolma's paragraph dedup with keep_first."""

    use: ClassVar[str] = "paragraph_dedup"
    unit: Literal["line", "paragraph"] = "line"  # CCNet and Dolma split on "\n"; paragraph: blank-line separated
    min_docs: int = 2  # CCNet and Dolma: a unit found in any other document is a duplicate
    keep_first: bool = False  # CCNet removes every copy (its paper's setting); Dolma keeps the first (here: smallest id)
    min_chars: int = 1  # normalised characters; CCNet and Dolma: 0. Units that normalise to "" never count
    min_words: int = 2  # normalised words; CCNet and Dolma: 0. 2 spares one-word headings ("Introduction")
    min_words_after: int = 1  # a document that lost units and kept fewer words is removed; CCNet drops empty ones
    mode: Mode = "drop"  # drop | annotate (text unchanged, counts written, too-short documents flagged)

    version = "1"
    reads = ("id", "text")
    writes = ("boilerplate_removed", "boilerplate_chars_removed")

    def __post_init__(self):
        if self.min_docs < 2:
            raise ValueError(f"paragraph_dedup: min_docs={self.min_docs}; expected >= 2 (1 would remove every unit)")
        for key in ("min_chars", "min_words", "min_words_after"):
            if getattr(self, key) < 0:
                raise ValueError(f"paragraph_dedup: {key}={getattr(self, key)}; expected >= 0")

    def plan(self, ctx: PlanContext, parts: Partitions) -> Partitions:
        # a document gives one record per distinct unit, so records outnumber exact_dedup's ~10-50x:
        # twice its sqrt(partitions) buckets, capped at the partition count
        n = min(max(2 * math.isqrt(len(parts)), 1), max(len(parts), 1))
        records = parts.map_indexed(self._records)
        marks = records.shuffle(_split_by_hash, n, self._decide)
        ctx.add_stats("boilerplate_units", marks.map(_distinct_hashes).reduce(sum))
        back = marks.shuffle(_split_by_partition, len(parts), _concat_marks)
        return parts.map(self._apply, back)

    def units(self, text: str) -> tuple[list[str], list[str]]:
        """The units of ``text`` and the separators between them (``len(seps) == len(units) - 1``)."""
        if self.unit == "line":
            units = text.split("\n")
            return units, ["\n"] * (len(units) - 1)
        pieces = _PARAGRAPH_BREAK.split(text)
        return pieces[0::2], pieces[1::2]

    def key(self, unit: str) -> int | None:
        """The unit's hash, or None when it is too small to count."""
        norm = normalise(unit)
        if not norm or len(norm) < self.min_chars or norm.count(" ") + 1 < self.min_words:
            return None
        return xxhash.xxh3_64_intdigest(norm.encode())

    def _records(self, i: int, table: pa.Table) -> pa.Table:
        hashes, rows = [], []
        for row, text in enumerate(table.column("text").to_pylist()):
            keys = {self.key(u) for u in self.units(text or "")[0]} - {None}
            hashes.extend(keys)
            rows.extend([row] * len(keys))
        ids = pc.cast(table.column("id"), pa.string()).take(pa.array(rows, pa.int32()))
        return pa.table({"hash": pa.array(hashes, pa.uint64()), "id": ids,
                         "part": pa.array(np.full(len(rows), i, np.int32)), "row": pa.array(rows, pa.int32())},
                        schema=_RECORDS)

    def _decide(self, pieces: list[pa.Table]) -> pa.Table:
        """The (hash, part, row) pairs of one bucket to remove: hashes in >= min_docs documents."""
        rec = _concat(pieces, _RECORDS).sort_by([("hash", "ascending"), ("id", "ascending"),
                                                  ("part", "ascending"), ("row", "ascending")])
        first, _ = group_starts(rec.column("hash").to_numpy())
        starts = np.flatnonzero(first)
        sizes = np.diff(np.append(starts, rec.num_rows))  # documents per hash (records are distinct per doc)
        remove = np.repeat(sizes >= self.min_docs, sizes)
        if self.keep_first:
            remove &= ~first  # the smallest id of each group keeps its copy
        return rec.filter(pa.array(remove)).select(["hash", "part", "row"])

    def rewrite(self, text: str, remove: set[int]) -> tuple[str, int]:
        """``text`` without the units whose hash is in ``remove``, and how many units went."""
        units, seps = self.units(text)
        out: list[str] = []
        removed, gap, last_blank = 0, False, True
        for k, u in enumerate(units):
            if self.key(u) in remove:
                removed, gap = removed + 1, True
                continue
            blank = not u.strip()
            if blank and gap and last_blank:  # no run of blank lines where a line was cut out
                continue
            if out:
                out.append(seps[k - 1])
            out.append(u)
            gap, last_blank = False, blank
        new = "".join(out)
        return (new.rstrip() if gap else new), removed

    def _apply(self, table: pa.Table, marks: pa.Table) -> pa.Table:
        remove: dict[int, set[int]] = {}
        for row, h in zip(marks.column("row").to_pylist(), marks.column("hash").to_pylist()):
            remove.setdefault(row, set()).add(h)
        texts = table.column("text").to_pylist()
        out, units, chars, reasons = list(texts), [0] * len(texts), [0] * len(texts), [None] * len(texts)
        for row, hashes in remove.items():
            new, units[row] = self.rewrite(texts[row], hashes)
            chars[row] = len(texts[row]) - len(new)
            if len(new.split()) < self.min_words_after:
                reasons[row] = "boilerplate_only"
            if self.mode == "drop":
                out[row] = new
        table = set_columns(table, {"text": pa.array(out, pa.string()),
                                    "boilerplate_removed": pa.array(units, pa.int64()),
                                    "boilerplate_chars_removed": pa.array(chars, pa.int64())})
        return with_reasons(table, pa.array(reasons, pa.string()))


# (hash, id, part, row): one record per distinct unit of a document, ~20 bytes plus the id
_RECORDS = pa.schema([("hash", pa.uint64()), ("id", pa.string()), ("part", pa.int32()), ("row", pa.int32())])
_MARKS = pa.schema([("hash", pa.uint64()), ("part", pa.int32()), ("row", pa.int32())])


def _concat(pieces: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(pieces) if pieces else schema.empty_table()


def _concat_marks(pieces: list[pa.Table]) -> pa.Table:
    return _concat(pieces, _MARKS)


def _distinct_hashes(marks: pa.Table) -> int:
    return len(pc.unique(marks.column("hash")))


def _split_by_hash(rec: pa.Table, n: int) -> list[pa.Table]:
    return split_rows(rec, rec.column("hash").to_numpy() % np.uint64(n), n)


def _split_by_partition(rec: pa.Table, n: int) -> list[pa.Table]:
    return split_rows(rec, rec.column("part").to_numpy(), n)
