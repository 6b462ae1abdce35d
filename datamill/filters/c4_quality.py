"""C4 heuristics (Raffel et al. 2020, §2.2), in the order of TFDS ``c4_utils.clean_page``.

Per line (stripped): drop it if a word is longer than 1000 characters, strip Wikipedia
citation marks, drop it unless it ends in terminal punctuation (not "..."), drop it if it has
fewer than 3 words; a surviving line with "lorem ipsum" drops the page, one with "javascript"
is dropped, then one with "{" drops the page, then cookie/terms-of-use lines are dropped.
The page is dropped if fewer than 5 sentences remain, or if its kept text contains a word
of the LDNOOBW list (read at run time from ``badwords_path``; the list is not vendored).
The 3 words and 5 sentences are datatrove's; TFDS's code uses 5 and 3 (docs/METHODS.md).
With ``edit_text`` (C4's behaviour) the text becomes the kept lines joined by newlines.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text, _wordlist
from datamill.filters._rules import RuleSet, column, first_reason
from datamill.stage import Mode
from datamill.typed_config import FilePath

CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"  # TFDS c4_utils _CITATION_REGEX
END_MARKS = (".", "?", "!", '"')  # TFDS c4_utils _END_MARKS
POLICY = r"terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
SENTENCE_END = r"""[.!?]+["')\]]*(?:\s|$)"""  # stand-in for NLTK's punkt sentence counter
COLUMNS = ("c4_num_sentences", "c4_num_lines_removed", "c4_lorem_ipsum", "c4_curly_bracket",
           "c4_bad_words")

# Python's str.splitlines (TFDS c4_utils and datatrove split lines with it): \r\n, and each of these
LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"

@dataclasses.dataclass(frozen=True)
class C4QualityFilter(RuleSet):
    """C4's line filters and page rules, one removal reason per page rule."""

    use: ClassVar[str] = "c4_quality"
    RULES: ClassVar[tuple[str, ...]] = (
        "c4_lorem_ipsum", "c4_curly_bracket", "c4_too_few_sentences", "c4_bad_words")
    version: ClassVar[str] = "1"
    writes: ClassVar[tuple[str, ...]] = ("text", *COLUMNS)

    badwords_path: FilePath = ""  # LDNOOBW `en` list C4 used, one entry per line; "" = rule off
    min_sentences: int = 5  # datatrove C4QualityFilter; TFDS c4_utils (C4's code): 3
    min_words_per_line: int = 3  # datatrove C4QualityFilter; TFDS c4_utils (C4's code): 5
    max_word_length: int = 1000  # TFDS c4_utils: drop lines with a word over 1000 characters; 0 = off
    require_terminal_punct: bool = True  # C4: keep lines ending in . ? ! " (FineWeb: false)
    remove_citations: bool = True  # TFDS c4_utils: strip [1], [edit], [citation needed]
    remove_javascript_lines: bool = True  # C4: "removed any line with the word Javascript"
    remove_policy_lines: bool = True  # TFDS c4_utils: cookie / terms-of-use lines
    edit_text: bool = True  # C4 keeps only the kept lines; false = score only, text untouched
    disable: tuple[str, ...] = ()  # rule names (see RULES) to switch off
    mode: Mode = "drop"  # drop | annotate

    def _measure(self, text: pa.Array) -> dict:
        n = len(text)
        lines, parent = _text.flatten(pc.split_pattern_regex(text, LINE_BREAK))
        lines = pc.utf8_trim_whitespace(lines)
        keep = np.ones(len(lines), dtype=bool)

        tokens, t_parent = _text.split_whitespace(lines)
        if self.max_word_length > 0:
            long_word = _text.lengths(tokens) > self.max_word_length
            keep &= np.bincount(t_parent, weights=long_word, minlength=len(lines)) == 0
        if self.remove_citations:
            lines = pc.replace_substring_regex(lines, CITATION, "")
        if self.require_terminal_punct:
            terminal = np.zeros(len(lines), dtype=bool)
            for mark in END_MARKS:
                terminal |= _text.mask(pc.ends_with(lines, mark))
            keep &= terminal & ~_text.mask(pc.ends_with(lines, "..."))
        n_words = np.bincount(t_parent, minlength=len(lines))
        keep &= n_words >= self.min_words_per_line

        lorem = keep & _text.mask(pc.match_substring(lines, "lorem ipsum", ignore_case=True))
        if self.remove_javascript_lines:
            keep &= ~_text.mask(pc.match_substring(lines, "javascript", ignore_case=True))
        curly = keep & _text.mask(pc.match_substring(lines, "{"))
        if self.remove_policy_lines:
            keep &= ~_text.mask(pc.match_substring_regex(lines, POLICY, ignore_case=True))

        kept = pc.filter(lines, pa.array(keep))
        k_parent = parent[keep]
        sentences = np.maximum(
            pc.count_substring_regex(kept, SENTENCE_END).to_numpy(zero_copy_only=False), 1)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(k_parent, minlength=n))]).astype(np.int32)
        kept_text = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), kept), "\n")

        values = {}
        if self.edit_text:
            values["text"] = kept_text
        values.update({
            "c4_num_sentences": _text.per_row_sum(k_parent, n, sentences).astype(np.int64),
            "c4_num_lines_removed": (np.bincount(parent, minlength=n)
                                     - np.bincount(k_parent, minlength=n)).astype(np.int64),
            "c4_lorem_ipsum": _text.per_row_sum(parent, n, lorem) > 0,
            "c4_curly_bracket": _text.per_row_sum(parent, n, curly) > 0,
            "c4_bad_words": (_wordlist.contains_listed(kept_text, self.badwords_path, self.use)
                             if self.badwords_path else np.zeros(n, dtype=bool)),
        })
        return values

    def reasons(self, table: pa.Table) -> pa.Array:
        return first_reason(table.num_rows, self.disable, [
            ("c4_lorem_ipsum", column(table, "c4_lorem_ipsum")),
            ("c4_curly_bracket", column(table, "c4_curly_bracket")),
            ("c4_too_few_sentences", column(table, "c4_num_sentences") < self.min_sentences),
            ("c4_bad_words", column(table, "c4_bad_words")),
        ])
