"""Vectorised text measurements shared by the heuristic rule sets.

Every function takes a whole column (one row per document) and works on flattened Arrow
arrays of lines or words plus a ``parent`` index (row of each element), so a partition of
thousands of documents costs a few ``pyarrow.compute`` kernels and ``numpy.bincount`` calls
instead of a Python loop per document.
"""

from __future__ import annotations

import string

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.stage import require_column
from datamill.whitespace import split_whitespace  # noqa: F401  (the rule sets' whitespace split)

# Characters trimmed from both ends of a whitespace token to get a "word" (ASCII punctuation
# plus the typographic quotes, dashes and ellipsis common on the web). A token that is only
# punctuation becomes empty and is not a word: Gopher's "non-symbol words".
PUNCTUATION = string.punctuation + "…“”‘’«»„‚–—•·¡¿"


def text_array(table: pa.Table, field: str = "text") -> pa.Array:
    """The text column as one ``string`` array (nulls read as '')."""
    col = require_column(table, field, "text")
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    return pc.fill_null(col, "")


def flatten(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(values, parent row of each value) of a ListArray."""
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    return pc.list_flatten(lists), parent


def per_row_sum(parent: np.ndarray, n_rows: int, weights=None) -> np.ndarray:
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
    return np.bincount(parent, weights=weights, minlength=n_rows)[:n_rows]


def mask(arr) -> np.ndarray:
    """A boolean Arrow array as a numpy bool array (null = False)."""
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def lengths(arr: pa.Array) -> np.ndarray:
    return pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)


def safe_div(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def lines(text: pa.Array, blank: bool = False) -> tuple[pa.Array, np.ndarray]:
    """Non-blank lines (split on '\\n', right-trimmed of whitespace such as '\\r') with their
    parent rows. Blank lines are layout, not content: counting them would make every ratio
    depend on whether paragraphs are separated by one newline or two. ``blank``: keep them
    (as Python's ``splitlines``, which datatrove's Gopher quality filter counts; a final
    newline ends the last line rather than starting an empty one)."""
    values, parent = flatten(pc.split_pattern(pc.utf8_rtrim(text, "\n") if blank else text, "\n"))
    values = pc.utf8_rtrim_whitespace(values)
    if blank:
        return values, parent
    keep = pc.not_equal(pc.utf8_length(pc.utf8_ltrim_whitespace(values)), 0)
    return pc.filter(values, keep), parent[mask(keep)]


def words(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Words with their parent rows: whitespace tokens with leading/trailing punctuation
    trimmed, pure-punctuation tokens dropped (datamill v1's words: ``gopher_quality`` with
    ``words: whitespace``, ``gopher_repetition`` with ``ngrams: dolma``; the defaults use
    ``spacy_words``, as datatrove does)."""
    tokens, parent = split_whitespace(text)
    trimmed = pc.utf8_trim(tokens, PUNCTUATION)
    keep = pc.not_equal(pc.utf8_length(trimmed), 0)
    return pc.filter(trimmed, keep), parent[mask(keep)]


# Characters of a "symbol" token (Gopher's non-symbol words are the tokens with any other
# character): ASCII punctuation, control characters, and the typographic and CJK/Indic
# punctuation datatrove's PUNCTUATION_SET lists; "•" and "‘" are not in it there either.
SYMBOLS = (string.punctuation + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
           + "«´»–—’“”„…‼‽⁇⁈⁉∶━►⸮、。〈〉《》「」【】，；：？！％（）．～１։؝؞؟۔।॥။።")
NOT_SYMBOL = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in SYMBOLS) + "]"  # RE2 class: a word's character

# spaCy's blank English tokenizer (datatrove's ``split_into_words`` for English in 0.10), as RE2
# rewrites of the whole text (pattern, replacement) followed by a whitespace split: punctuation
# splits off words, hyphens and dashes split words ("well-known" is 3 tokens), "it's" is
# "it" + "'s". Not modelled: spaCy's URL and e-mail matcher, its rarer exceptions.
ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Inc", "Ltd", "Co", "Corp", "vs",
                 "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov",
                 "Dec", "Mt", "Gov", "Sen", "Rep", "Prof", "Gen", "Col", "Lt", "Sgt")
_SPACY_EN = (
    (r"[\"“”«»„()\[\]{}<>?!…©®#$%;°�]|\.\.+|--|[\x{2012}-\x{2015}]", r" \0 "),  # always alone
    (r"(^|\s)(\*+)|(\*+)(\s|$)", r"\1 \2\3 \4"),                  # * around a word, not in it
    (r"(\d)(km|cm|mm|m|kg|mg|g|lb|lbs|oz|ft|mph|ml|GB|MB|KB|TB|Gb|Mb|kb|kHz|MHz|GHz|Hz|W|kW|V)(\s|$)",
     r"\1 \2\3"),                                                  # 120 cm
    (r"(?i)(^|\s)(i)(m|ve)(\s|$)", r"\1\2 \3\4"),                  # spaCy exceptions: i m, i ve
    (r"(?i)(^|\s)(can)(not)(\s|$)", r"\1\2 \3\4"),
    (r"(?i)(^|\s)(do|does|did|is|was|ca|wo|are|were|could|would|should|have|has|had)(nt)(\s|$)",
     r"\1\2 \3\4"),                                                # do nt, ca nt
    (r"([,:])(\s|$)", r" \1\2"),                                  # , : ending a word
    (r"(\pL)([,:/])(\pL)", r"\1 \2 \3"),                          # a,b a:b a/b
    (r"([\pL\d])-(\pL)|(\d)-(\d)", r"\1\3 - \2\4"),               # well-known, 1-2
    (r"([\pL\d])-(\pL)|(\d)-(\d)", r"\1\3 - \2\4"),               # a-b-c: the overlapping one
    (r"(^|\s)([^.\s]{2,}|\d)\.(\s|$)", r"\1\2 .\3"),              # a sentence's period
    (r"(^|\s)([^.\s]{2,}|\d)\.(\s|$)", r"\1\2 .\3"),              # adjacent ones
    (r"(^|\s)(" + "|".join(ABBREVIATIONS) + r") \.(\s|$)", r"\1\2.\3"),  # "Mr." stays whole
    (r"(^|\s)(['‘’])(\S)", r"\1\2 \3"),                           # opening quote
    (r"(\S)(n['’]t|['’](?:[sSmMdD]|ll|LL|re|RE|ve|VE))(\s|$)", r"\1 \2\3"),  # do n't, it 's
    (r"([^\s'’])(['‘’])(\s|$)", r"\1 \2\3"),                       # closing quote
)


def spacy_words(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Tokens as datatrove splits English words (spaCy), with their parent rows: punctuation
    marks are tokens ("Hello, world." is 4). A vectorised stand-in; tests/filters/
    test_rule_sets_reference.py measures its decisions against datatrove's."""
    for pattern, repl in _SPACY_EN:
        text = pc.replace_substring_regex(text, pattern, repl)
    return split_whitespace(text)


def repeat_mask(values: pa.Array, parent: np.ndarray) -> np.ndarray:
    """True where an element equals an earlier element of the same row (its repeats, not
    its first occurrence), as Gopher/datatrove count duplicate lines and paragraphs."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    codes = pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    keys = parent.astype(np.int64) * (int(codes.max()) + 1) + codes
    _, first = np.unique(keys, return_index=True)
    out = np.ones(len(values), dtype=bool)
    out[first] = False
    return out


CHUNK_BYTES = 8 << 20  # text per vectorised pass: bounds the flattened word/line arrays (~25x)


def chunked(measure, text: pa.Array, *aligned: pa.Array) -> dict:
    """``measure(text_slice, *aligned_slices) -> {column: values}`` over consecutive row ranges of
    at most ``CHUNK_BYTES`` of text (at least one row), concatenated: the same result as one pass
    over a whole partition, with peak memory set by the chunk instead of the partition.
    ``aligned``: per-row arrays (a row's language) sliced with the text."""
    max_bytes = CHUNK_BYTES
    sizes = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    bounds, start = [], 0
    while start < len(text):
        stop = int(np.searchsorted(offsets, offsets[start] + max_bytes, side="right")) - 1
        stop = min(max(stop, start + 1), len(text))
        bounds.append((start, stop))
        start = stop
    if len(bounds) <= 1:
        return measure(text, *aligned)
    parts = [measure(text.slice(a, b - a), *(x.slice(a, b - a) for x in aligned)) for a, b in bounds]
    return {key: (pa.concat_arrays([p[key] for p in parts]) if isinstance(parts[0][key], pa.Array)
                  else np.concatenate([np.asarray(p[key]) for p in parts]))
            for key in parts[0]}
