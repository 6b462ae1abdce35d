"""Gopher quality rules (Rae et al. 2021, "Scaling Language Models", App. A.1.1).

Thresholds and measurements are datatrove's ``GopherQualityFilter`` defaults: tokens split as
its English tokenizer (spaCy) does, punctuation marks included (``_text.spacy_words``); words are
tokens with a non-symbol character; the alpha, ``#`` and ellipsis ratios divide by all tokens;
stop words count once each, in exact case; line ratios count blank lines. ``words:
whitespace`` etc. restore datamill's earlier choices (docs/METHODS.md). ``language`` swaps in another language's stop words and word-length
and alphabetic-word limits (FineWeb-2's, ``_languages.py``), or each row's (``auto``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _languages, _text
from datamill.filters._rules import RuleSet, column, first_reason
from datamill.stage import Mode, set_columns
from datamill.typed_config import FilePath

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # Gopher, App. A
BULLETS = ("•", "-")  # docs/METHODS.md, "Gopher quality rules": "lines starting with a bullet (• or -)"
ELLIPSES = ("...", "…")

COLUMNS = ("gopher_num_words", "gopher_mean_word_length", "gopher_hash_ratio",
           "gopher_ellipsis_ratio", "gopher_bullet_line_ratio", "gopher_ellipsis_line_ratio",
           "gopher_alpha_word_ratio", "gopher_num_stop_words")
LANGUAGE_LIMITS = ("min_mean_word_length", "max_mean_word_length", "min_alpha_words")
WORDS = ("spacy", "whitespace")
STOP_WORD_COUNTS = ("distinct", "occurrences")


@dataclasses.dataclass(frozen=True)
class GopherQualityFilter(RuleSet):
    """Drop documents outside Gopher's word-count, word-length, symbol, bullet, ellipsis,
    alphabetic-word and stop-word limits; one removal reason per rule."""

    use: ClassVar[str] = "gopher_quality"
    RULES: ClassVar[tuple[str, ...]] = (
        "gopher_word_count", "gopher_mean_word_length", "gopher_hash_ratio",
        "gopher_ellipsis_ratio", "gopher_bullet_lines", "gopher_ellipsis_lines",
        "gopher_alpha_words", "gopher_stop_words")
    version: ClassVar[str] = "2"
    writes: ClassVar[tuple[str, ...]] = COLUMNS

    min_words: int = 50  # Gopher App. A: 50 to 100,000 non-symbol words
    max_words: int = 100_000  # Gopher App. A
    min_mean_word_length: float = 3.0  # Gopher App. A: mean word length 3 to 10 characters
    max_mean_word_length: float = 10.0  # Gopher App. A
    max_hash_ratio: float = 0.1  # Gopher App. A: symbol-to-word ratio 0.1, '#' counted alone
    max_ellipsis_ratio: float = 0.1  # Gopher App. A: same limit for '...'/'…'
    max_bullet_lines: float = 0.9  # Gopher App. A: <= 90% of lines start with a bullet
    max_ellipsis_lines: float = 0.3  # Gopher App. A: <= 30% of lines end with an ellipsis
    min_alpha_words: float = 0.8  # Gopher App. A: >= 80% of words contain a letter
    min_stop_words: int = 2  # Gopher App. A: >= 2 of {the, be, to, of, and, that, have, with}
    language: str = "en"  # en = Gopher; de, fr, ... = FineWeb-2 profile; auto = row's `language` column
    language_thresholds: bool = True  # a non-en profile sets the word-length and alpha-word limits
    stop_words_path: FilePath = ""  # own stop words, one a line, for every row; "" = the language's
    words: str = "spacy"  # datatrove 0.10 (spaCy tokens, punctuation counted); whitespace = datamill v1
    stop_word_count: str = "distinct"  # datatrove: distinct, exact case; occurrences = v1 (any case)
    blank_lines: bool = True  # datatrove's splitlines counts blank lines; false = non-blank only (v1)
    disable: tuple[str, ...] = ()  # rule names (see RULES) to switch off
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        super().__post_init__()
        _languages.check(self, own_stop_words=bool(self.stop_words_path))
        for name, allowed in (("words", WORDS), ("stop_word_count", STOP_WORD_COUNTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{self.use}: {name} must be one of {list(allowed)}, "
                                 f"got {getattr(self, name)!r}")

    def needed_columns(self) -> tuple[str, ...]:
        return self.reads + (("language",) if self.language == _languages.AUTO else ())

    def annotate(self, table: pa.Table) -> pa.Table:
        langs = ()  # auto: each row's language, sliced with the text into chunks
        if self.language == _languages.AUTO:
            langs = (pa.array(_languages.row_languages(table, self.use), type=pa.string()),)
        return set_columns(table, _text.chunked(self._measure, _text.text_array(table), *langs))

    def _stop_words(self, language: str) -> tuple[str, ...]:
        if self.stop_words_path:
            return _languages.read_stop_words(self.stop_words_path, self.use)
        return _languages.stop_words(language, STOP_WORDS)

    def _count_stop_words(self, words: pa.Array, w_parent: np.ndarray, langs) -> np.ndarray:
        case = self.stop_word_count == "distinct"
        if langs is None or self.stop_words_path:
            return _languages.is_stop_word(words, self._stop_words(self.language), case)
        codes = pc.dictionary_encode(langs)
        word_lang = codes.indices.to_numpy(zero_copy_only=False)[w_parent]
        stop = np.zeros(len(words), dtype=bool)
        for k, lang in enumerate(codes.dictionary.to_pylist()):
            sel = word_lang == k
            stop[sel] = _languages.is_stop_word(pc.filter(words, pa.array(sel)), self._stop_words(lang),
                                                case)
        return stop

    def _measure(self, text: pa.Array, langs: pa.Array | None = None) -> dict:
        n = len(text)
        if self.words == "spacy":  # all tokens divide the ratios; words have a non-symbol character
            words, w_parent = _text.spacy_words(text)
            is_word = _text.mask(pc.match_substring_regex(words, _text.NOT_SYMBOL))
        else:  # punctuation-only tokens were dropped already
            words, w_parent = _text.words(text)
            is_word = np.ones(len(words), dtype=bool)
        n_tokens = _text.per_row_sum(w_parent, n)
        n_words = _text.per_row_sum(w_parent, n, is_word)
        word_chars = _text.per_row_sum(w_parent, n, _text.lengths(words) * is_word)
        has_letter = _text.mask(pc.match_substring_regex(words, r"\pL"))
        alpha_words = _text.per_row_sum(w_parent, n, has_letter)
        stop = self._count_stop_words(words, w_parent, langs)
        if self.stop_word_count == "distinct":  # each stop word once per row
            stop &= ~_text.repeat_mask(words, w_parent)
        stop_words = _text.per_row_sum(w_parent, n, stop)

        hashes = pc.count_substring(text, "#").to_numpy(zero_copy_only=False)
        ellipses = sum(pc.count_substring(text, e).to_numpy(zero_copy_only=False) for e in ELLIPSES)

        lines, l_parent = _text.lines(text, blank=self.blank_lines)
        n_lines = _text.per_row_sum(l_parent, n)
        stripped = pc.utf8_ltrim_whitespace(lines)
        bullet = np.zeros(len(lines), dtype=bool)
        for b in BULLETS:
            bullet |= _text.mask(pc.starts_with(stripped, b))
        ellipsis_end = np.zeros(len(lines), dtype=bool)
        for e in ELLIPSES:
            ellipsis_end |= _text.mask(pc.ends_with(lines, e))

        return {
            "gopher_num_words": n_words.astype(np.int64),
            "gopher_mean_word_length": _text.safe_div(word_chars, n_words),
            "gopher_hash_ratio": _text.safe_div(hashes, n_tokens),
            "gopher_ellipsis_ratio": _text.safe_div(ellipses, n_tokens),
            "gopher_bullet_line_ratio": _text.safe_div(_text.per_row_sum(l_parent, n, bullet), n_lines),
            "gopher_ellipsis_line_ratio": _text.safe_div(
                _text.per_row_sum(l_parent, n, ellipsis_end), n_lines),
            "gopher_alpha_word_ratio": _text.safe_div(alpha_words, n_tokens),
            "gopher_num_stop_words": stop_words.astype(np.int64),
        }

    def reasons(self, table: pa.Table) -> pa.Array:
        c = {name: column(table, name) for name in COLUMNS}
        limit = _languages.limits(self, table, LANGUAGE_LIMITS)
        mean_len = c["gopher_mean_word_length"]
        return first_reason(table.num_rows, self.disable, [
            ("gopher_word_count",
             (c["gopher_num_words"] < self.min_words) | (c["gopher_num_words"] > self.max_words)),
            ("gopher_mean_word_length",
             (mean_len < limit["min_mean_word_length"]) | (mean_len > limit["max_mean_word_length"])),
            ("gopher_hash_ratio", c["gopher_hash_ratio"] > self.max_hash_ratio),
            ("gopher_ellipsis_ratio", c["gopher_ellipsis_ratio"] > self.max_ellipsis_ratio),
            ("gopher_bullet_lines", c["gopher_bullet_line_ratio"] > self.max_bullet_lines),
            ("gopher_ellipsis_lines", c["gopher_ellipsis_line_ratio"] > self.max_ellipsis_lines),
            ("gopher_alpha_words", c["gopher_alpha_word_ratio"] < limit["min_alpha_words"]),
            ("gopher_stop_words", c["gopher_num_stop_words"] < self.min_stop_words),
        ])
