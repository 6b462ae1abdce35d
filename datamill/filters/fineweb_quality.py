"""FineWeb's custom quality rules (Penedo et al. 2024, "The FineWeb Datasets", §3.3; datatrove
``FineWebQualityFilter`` defaults and comparisons).

Defaults as datatrove 0.10.1 measures: lines are the text split on newlines, as they are
(untrimmed), whitespace-only ones dropped; the list ratio is the text's newline characters
over its words (``_text.spacy_words``, datatrove's spaCy tokens); a page is removed when the
punctuated-line ratio is below its threshold, or a ratio is above its threshold. datamill v1:
``trim_lines: true`` (lines right-trimmed; the list ratio's "newlines" are the breaks between
non-blank lines) and ``words: regex`` (runs of word characters and runs of punctuation, an
approximation of NLTK's ``word_tokenize``). ``language`` swaps in another language's
punctuated-line and list-ratio thresholds (FineWeb-2's, ``_languages.py``), or each row's (``auto``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _languages, _text
from datamill.filters._rules import RuleSet, column, first_reason
from datamill.stage import Mode

STOP_CHARS = (".", "'", '"', "!", "?")  # datatrove FineWebQualityFilter
TOKEN = r"[\pL\pN_]+|[^\pL\pN_\s]+"
COLUMNS = ("fineweb_line_punct_ratio", "fineweb_short_line_ratio", "fineweb_char_dup_ratio",
           "fineweb_list_ratio")
LANGUAGE_LIMITS = ("line_punct_thr", "new_line_ratio")


@dataclasses.dataclass(frozen=True)
class FineWebQualityFilter(RuleSet):
    """Drop pages with few punctuated lines, mostly short lines, duplicated lines or list-like
    layout; one removal reason per rule."""

    use: ClassVar[str] = "fineweb_quality"
    RULES: ClassVar[tuple[str, ...]] = COLUMNS
    version: ClassVar[str] = "2"
    writes: ClassVar[tuple[str, ...]] = COLUMNS

    line_punct_thr: float = 0.12  # FineWeb: drop if < 12% of lines end in punctuation (datatrove)
    line_punct_exclude_zero: bool = False  # datatrove default: a 0 ratio is also dropped
    short_line_thr: float = 0.67  # FineWeb: drop if > 67% of lines are short (datatrove)
    short_line_length: int = 30  # FineWeb: "short" = at most 30 characters
    char_duplicates_ratio: float = 0.01  # FineWeb: drop if > 1% of chars are in duplicated lines
    new_line_ratio: float = 0.3  # FineWeb: drop if newlines / words > 0.3
    trim_lines: bool = False  # datatrove: lines untrimmed, all newlines; true = v1 (see docstring)
    words: str = "spacy"  # datatrove 0.10's tokens for the list ratio; regex = datamill v1
    language: str = "en"  # en = FineWeb; de, fr, ... = FineWeb-2 profile; auto = row's `language` column
    language_thresholds: bool = True  # a non-en profile sets line_punct_thr and new_line_ratio
    disable: tuple[str, ...] = ()  # rule names (see RULES) to switch off
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        super().__post_init__()
        _languages.check(self)
        if self.words not in ("spacy", "regex"):
            raise ValueError(f"{self.use}: words must be spacy or regex, got {self.words!r}")

    def needed_columns(self) -> tuple[str, ...]:
        return self.reads + (("language",) if self.language == _languages.AUTO else ())

    def _measure(self, text: pa.Array) -> dict:
        n = len(text)
        if self.trim_lines:
            lines, parent = _text.lines(text)
        else:
            lines, parent = _text.flatten(pc.split_pattern(text, "\n"))
            keep = pc.not_equal(pc.utf8_length(pc.utf8_trim_whitespace(lines)), 0)
            lines, parent = pc.filter(lines, keep), parent[_text.mask(keep)]
        n_lines = _text.per_row_sum(parent, n)
        punct = np.zeros(len(lines), dtype=bool)
        for c in STOP_CHARS:
            punct |= _text.mask(pc.ends_with(lines, c))
        line_len = _text.lengths(lines)
        short = line_len <= self.short_line_length
        dup = _text.repeat_mask(lines, parent)
        newlines = pc.count_substring(text, "\n").to_numpy(zero_copy_only=False)
        body_chars = _text.lengths(text) - newlines
        if self.words == "spacy":
            tokens = _text.per_row_sum(_text.spacy_words(text)[1], n)
        else:
            tokens = pc.count_substring_regex(text, TOKEN).to_numpy(zero_copy_only=False)
        breaks = np.maximum(n_lines - 1, 0) if self.trim_lines else newlines
        return {
            "fineweb_line_punct_ratio": _text.safe_div(_text.per_row_sum(parent, n, punct), n_lines),
            "fineweb_short_line_ratio": _text.safe_div(_text.per_row_sum(parent, n, short), n_lines),
            "fineweb_char_dup_ratio": _text.safe_div(
                _text.per_row_sum(parent, n, line_len * dup), body_chars),
            "fineweb_list_ratio": _text.safe_div(breaks, tokens),
        }

    def reasons(self, table: pa.Table) -> pa.Array:
        limit = _languages.limits(self, table, LANGUAGE_LIMITS)
        punct = column(table, "fineweb_line_punct_ratio")
        low_punct = punct < limit["line_punct_thr"]
        if self.line_punct_exclude_zero:
            low_punct &= punct != 0
        return first_reason(table.num_rows, self.disable, [
            ("fineweb_line_punct_ratio", low_punct),
            ("fineweb_short_line_ratio",
             column(table, "fineweb_short_line_ratio") > self.short_line_thr),
            ("fineweb_char_dup_ratio",
             column(table, "fineweb_char_dup_ratio") > self.char_duplicates_ratio),
            ("fineweb_list_ratio", column(table, "fineweb_list_ratio") > limit["new_line_ratio"]),
        ])
