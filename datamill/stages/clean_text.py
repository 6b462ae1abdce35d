"""``clean_text``: Unicode NFC, control characters out, whitespace normalised (line structure kept)."""

from __future__ import annotations

from typing import ClassVar, Literal

import re
import unicodedata
from dataclasses import dataclass

import pyarrow as pa

from datamill.stage import MapStage

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")  # keeps \t \n \r
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class CleanText(MapStage):
    """Unicode normalisation, control characters, runs of spaces and blank lines."""

    use: ClassVar[str] = "clean_text"
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD", "none"] = "NFC"  # NFKC also folds compatibility forms (full-width letters, ligatures)
    remove_control: bool = True  # C0 controls except tab/newline, DEL, zero-width space, BOM
    collapse_spaces: bool = True  # runs of horizontal whitespace -> one space; lines stripped
    max_blank_lines: int = 1  # at most this many empty lines in a row

    version = "1"
    reads = ("text",)
    writes = ("text",)

    def clean(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.normalization != "none":
            text = unicodedata.normalize(self.normalization, text)
        if self.remove_control:
            text = _CONTROL.sub("", text)
        if self.collapse_spaces:
            text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
        text = _BLANK_LINES.sub("\n" * (self.max_blank_lines + 1), text)
        return text.strip()

    def __call__(self, table: pa.Table) -> pa.Table:
        cleaned = pa.array([self.clean(t) for t in table.column("text").to_pylist()], pa.string())
        return table.set_column(table.schema.get_field_index("text"), "text", cleaned)
