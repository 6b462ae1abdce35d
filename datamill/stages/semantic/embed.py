"""The ``embed`` stage: add an ``embedding`` column (L2-normalised vectors, see ``embed.py``).

Run it once before ``semdedup`` / ``d4`` to reuse the vectors across threshold changes; those
stages embed inside their own map step when the column is absent.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pyarrow as pa

from datamill.stage import MapStage, require_column, set_column
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
        return set_column(table, EMBEDDING, self.embed_column(require_column(table, "text", self.use)))


def ensure_embedding(table: pa.Table, options: EmbedderFields) -> pa.Table:
    """The table with an ``embedding`` column: the existing one, else computed with ``options``."""
    if EMBEDDING in table.column_names:
        return table
    text = require_column(table, "text", f"{options.use} (no 'embedding' column either)")
    return table.append_column(EMBEDDING, options.embed_column(text))
