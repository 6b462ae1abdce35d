"""The ``embed`` stage: add an ``embedding`` column (L2-normalised vectors, see ``embed.py``).

Run it once before ``semdedup`` / ``d4`` to reuse the vectors across threshold changes; those
stages embed inside their own map step when the column is absent.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pyarrow as pa

from datamill.stage import MapStage
from datamill.stages.semantic.encoders import EmbedderFields

EMBEDDING = "embedding"


@dataclasses.dataclass(frozen=True)
class EmbeddingAnnotator(EmbedderFields, MapStage):
    """Embed ``text`` with a local model (default all-MiniLM-L6-v2, mean pooling)."""

    use: ClassVar[str] = "embed"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = (EMBEDDING,)

    def __call__(self, table: pa.Table) -> pa.Table:
        if "text" not in table.column_names:
            raise KeyError(f"{self.use}: input has no 'text' column (columns: {table.column_names})")
        column = self.embed_column(table.column("text"))
        if EMBEDDING in table.column_names:
            return table.set_column(table.column_names.index(EMBEDDING), EMBEDDING, column)
        return table.append_column(EMBEDDING, column)


def ensure_embedding(table: pa.Table, options: EmbedderFields) -> pa.Table:
    """The table with an ``embedding`` column: the existing one, else computed with ``options``."""
    if EMBEDDING in table.column_names:
        return table
    if "text" not in table.column_names:
        raise KeyError(f"{getattr(options, 'use', 'embed')}: input has neither 'embedding' nor 'text'")
    return table.append_column(EMBEDDING, options.embed_column(table.column("text")))
