"""Per-language settings of the word-based rule sets (``gopher_quality``, ``fineweb_quality``).

A rule set's ``language`` picks a profile: ``en`` is the rule set's own fields (Gopher's stop
words and the papers' thresholds, unchanged); the other built-in languages are FineWeb-2's
per-language stop words and thresholds (``_fineweb2_profiles.py``); ``auto`` picks, row by
row, the profile of the row's ``language`` column (written by ``language_filter``), with ``en``
for a language that has none. Words are whitespace tokens (``_text.words``), so languages
written without spaces between words are refused rather than measured wrongly.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text
from datamill.filters._fineweb2_profiles import LIMITS, PROFILES
from datamill.stage import require_column

# lid.176 codes of languages written without spaces between words: out of scope.
UNSEGMENTED = ("zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue")
AUTO = "auto"
APOSTROPHES = ("’", "ʼ")  # typographic apostrophes, read as "'" when a stop word is an elision


def check(stage, own_stop_words: bool = False) -> None:
    """Config check of ``stage.language``; ``own_stop_words``: the stage has a stop word file,
    so a language without a built-in profile is allowed (its thresholds are the fields)."""
    name, language = stage.use, stage.language
    if language in UNSEGMENTED:
        raise ValueError(f"{name}: language {language!r} is written without spaces between words; "
                         "word-based rules need a word segmenter, which datamill does not have")
    if language not in (AUTO, "en", *PROFILES) and not own_stop_words:
        raise ValueError(f"{name}: no built-in profile for language {language!r}; built-in: auto, en, "
                         f"{', '.join(sorted(PROFILES))}" + (" (or give stop_words_path)" if
                                                             hasattr(stage, "stop_words_path") else ""))


def row_languages(table: pa.Table, stage: str) -> np.ndarray:
    """The ``language`` column, each value replaced by ``en`` where it has no profile."""
    langs = pc.fill_null(require_column(table, "language", f"{stage} (language: auto)"), "en")
    langs = np.asarray(langs.to_pylist(), dtype=object)
    return np.where(np.isin(langs, list(PROFILES)), langs, "en").astype(object)


def limits(stage, table: pa.Table, names: tuple[str, ...]) -> dict:
    """Each threshold in ``names``: a number, or one per row under ``language: auto``. ``en``,
    a language without a profile, or ``language_thresholds: false`` use the stage's fields."""
    fields = {n: getattr(stage, n) for n in names}
    if not stage.language_thresholds:
        return fields
    if stage.language != AUTO:
        return {n: _limit(stage.language, n, fields[n]) for n in names}
    uniq, inverse = np.unique(row_languages(table, stage.use), return_inverse=True)
    return {n: np.array([_limit(lang, n, fields[n]) for lang in uniq], dtype=np.float64)[inverse]
            for n in names}


def _limit(language: str, name: str, field_value: float) -> float:
    profile = PROFILES.get(language)
    return profile[1][LIMITS.index(name)] if profile else field_value


def stop_words(language: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The built-in stop words of ``language`` (``default`` for ``en``)."""
    return PROFILES[language][2] if language in PROFILES else default


_FILES: dict[tuple, tuple[str, ...]] = {}  # (path, mtime_ns, size) -> words, once per worker process
_LOCK = threading.Lock()


def read_stop_words(path: str, stage: str) -> tuple[str, ...]:
    """A stop word file: one word per line, blank lines ignored."""
    with _LOCK:
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"{stage}: stop word file {path!r} not found")
        st = file.stat()
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in _FILES:
            words = tuple(w.strip() for w in file.read_text(encoding="utf-8").splitlines() if w.strip())
            if not words:
                raise ValueError(f"{stage}: stop word file {path!r} is empty")
            _FILES[key] = words
        return _FILES[key]


def is_stop_word(words: pa.Array, stop: tuple[str, ...], case: bool = False) -> np.ndarray:
    """True where a word (``_text.words`` output) is a stop word, case-insensitively (``case``:
    in exact case, as datatrove). Entries are trimmed like words ("г." matches the word "г"); an
    elision entry ("l'", "d'") matches a word it begins ("l'homme", "l’homme"), since
    whitespace words keep elided articles attached."""
    low = (lambda x: x) if case else str.lower
    lower = words if case else pc.utf8_lower(words)
    exact = [v for w in stop if not _elision(w)  # as written and trimmed: "г." and "г"
             for v in {low(w), low(w).strip(_text.PUNCTUATION) or low(w)}]
    prefixes = [_apostrophe(low(w)) for w in stop if _elision(w)]
    if not prefixes:
        return _text.mask(pc.is_in(lower, pa.array(exact, type=pa.string())))
    for a in APOSTROPHES:
        lower = pc.replace_substring(lower, a, "'")
    out = _text.mask(pc.is_in(lower, pa.array(exact + prefixes, type=pa.string())))
    for p in prefixes:
        out |= _text.mask(pc.starts_with(lower, p))
    return out


def _elision(word: str) -> bool:
    return len(word) > 1 and _apostrophe(word).endswith("'")


def _apostrophe(word: str) -> str:
    for a in APOSTROPHES:
        word = word.replace(a, "'")
    return word
