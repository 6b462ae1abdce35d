"""``length_filter``: drop documents outside character / word bounds."""

from __future__ import annotations

from typing import ClassVar

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from datamill.stage import Filter, Mode, set_column
from datamill.whitespace import word_counts


@dataclass(frozen=True)
class LengthFilter(Filter):
    """Drop documents outside character and word-count bounds."""

    use: ClassVar[str] = "length_filter"
    min_chars: int = 1  # empty documents carry nothing
    max_chars: int = 10_000_000  # larger is almost always a dump, not a document
    min_words: int = 0  # whitespace-separated words; 0 keeps empty-of-words documents
    max_words: int = 2_000_000  # a document that long is a dump, as with max_chars
    mode: Mode = "drop"  # drop | annotate

    reads = ("text",)
    writes = ("num_chars", "num_words")


    def annotate(self, table: pa.Table) -> pa.Table:
        text = table.column("text")
        table = set_column(table, "num_chars", pc.utf8_length(text).cast(pa.int64()))
        words = word_counts(text)
        return set_column(table, "num_words", words)

    def reasons(self, table: pa.Table) -> pa.Array:
        chars = table.column("num_chars").to_numpy()
        words = table.column("num_words").to_numpy()
        out = [None] * table.num_rows
        for rule, mask in (("too_short", chars < self.min_chars), ("too_long", chars > self.max_chars),
                           ("too_few_words", words < self.min_words), ("too_many_words", words > self.max_words)):
            for i in mask.nonzero()[0]:
                if out[i] is None:
                    out[i] = rule
        return pa.array(out, pa.string())
