"""Gopher repetition rules (Rae et al. 2021, App. A.1.1, Table A1).

Duplicate lines/paragraphs count the repeats of an element (not its first occurrence), as
datatrove does. N-grams (default ``ngrams: datatrove``) are datatrove's: over its English tokens
(``_text.spacy_words``), the top n-gram is the most frequent one's count times its length, a
duplicate n-gram is found by datatrove's greedy left-to-right scan, both over the text's
characters; lines and paragraphs are split as datatrove does (``trim_lines: true``, v1:
trimmed, whitespace-only lines blank). ``ngrams: dolma`` (datamill v1) follows the paper's
wording as Dolma and RedPajama-v2 read it: "top n-gram" is the most frequent n-gram of the
document (only if it occurs at least twice) times its length; "duplicate n-gram" marks every
word covered by an n-gram occurring more than once, counting overlapping words once. Both are
fractions of the document's word characters. Both are vectorised over the whole partition:
words get random 64-bit ids, n-gram ids are rolling polynomial hashes, and since an n-gram can
only repeat if its (n-1)-gram prefix repeats, each n only re-hashes the previous n's repeats;
datatrove's scan runs in Python only over the later occurrences of repeated n-grams.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text
from datamill.filters._rules import RuleSet, column, first_reason
from datamill.stage import Mode

TOP_NS = (2, 3, 4)
DUP_NS = (5, 6, 7, 8, 9, 10)
COLUMNS = ("gopher_dup_para_frac", "gopher_dup_para_char_frac", "gopher_dup_line_frac",
           "gopher_dup_line_char_frac",
           *(f"gopher_top_{n}gram_char_frac" for n in TOP_NS),
           *(f"gopher_dup_{n}gram_char_frac" for n in DUP_NS))
NGRAMS = ("datatrove", "dolma")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier for the rolling n-gram hash


@dataclasses.dataclass(frozen=True)
class GopherRepetitionFilter(RuleSet):
    """Drop documents whose repeated lines, paragraphs or n-grams exceed Table A1's limits."""

    use: ClassVar[str] = "gopher_repetition"
    RULES: ClassVar[tuple[str, ...]] = COLUMNS
    version: ClassVar[str] = "2"
    writes: ClassVar[tuple[str, ...]] = COLUMNS

    max_dup_para_frac: float = 0.30  # Gopher Table A1: duplicate paragraph fraction
    max_dup_para_char_frac: float = 0.20  # Table A1: duplicate paragraph character fraction
    max_dup_line_frac: float = 0.30  # Table A1: duplicate line fraction
    max_dup_line_char_frac: float = 0.20  # Table A1: duplicate line character fraction
    max_top_2gram_char_frac: float = 0.20  # Table A1: top 2-gram character fraction
    max_top_3gram_char_frac: float = 0.18  # Table A1
    max_top_4gram_char_frac: float = 0.16  # Table A1
    max_dup_5gram_char_frac: float = 0.15  # Table A1: duplicate 5-gram character fraction
    max_dup_6gram_char_frac: float = 0.14  # Table A1
    max_dup_7gram_char_frac: float = 0.13  # Table A1
    max_dup_8gram_char_frac: float = 0.12  # Table A1
    max_dup_9gram_char_frac: float = 0.11  # Table A1
    max_dup_10gram_char_frac: float = 0.10  # Table A1
    ngrams: str = "datatrove"  # datatrove's n-gram measures; dolma = datamill v1 (see docstring)
    trim_lines: bool = False  # datatrove: lines as split; true = v1, trimmed, blank-only ones dropped
    disable: tuple[str, ...] = ()  # rule names (the column names) to switch off
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        super().__post_init__()
        if self.ngrams not in NGRAMS:
            raise ValueError(f"{self.use}: ngrams must be one of {list(NGRAMS)}, got {self.ngrams!r}")

    def _measure(self, text: pa.Array) -> dict:
        n = len(text)
        n_chars = _text.lengths(text)
        values = {}

        if self.trim_lines:  # v1: trimmed, whitespace-only lines are blank and separate paragraphs
            paras, p_parent = _text.flatten(
                pc.split_pattern_regex(pc.utf8_trim_whitespace(text), r"\n\s*\n"))
            paras = pc.utf8_trim_whitespace(paras)
            keep = _text.mask(pc.not_equal(pc.utf8_length(paras), 0))
            paras, p_parent = pc.filter(paras, pa.array(keep)), p_parent[keep]
            lines, l_parent = _text.lines(text)
            lines = pc.utf8_trim_whitespace(lines)
        else:  # datatrove: paragraphs split on 2+ newlines of the stripped text, lines on 1+
            paras, p_parent = _text.flatten(pc.split_pattern_regex(pc.utf8_trim_whitespace(text),
                                                                   r"\n\n+"))
            lines, l_parent = _text.flatten(pc.split_pattern_regex(text, r"\n+"))
        rep = _text.repeat_mask(paras, p_parent)
        values["gopher_dup_para_frac"] = _text.safe_div(
            _text.per_row_sum(p_parent, n, rep), _text.per_row_sum(p_parent, n))
        values["gopher_dup_para_char_frac"] = _text.safe_div(
            _text.per_row_sum(p_parent, n, _text.lengths(paras) * rep), n_chars)

        rep = _text.repeat_mask(lines, l_parent)
        values["gopher_dup_line_frac"] = _text.safe_div(
            _text.per_row_sum(l_parent, n, rep), _text.per_row_sum(l_parent, n))
        values["gopher_dup_line_char_frac"] = _text.safe_div(
            _text.per_row_sum(l_parent, n, _text.lengths(lines) * rep), n_chars)

        if self.ngrams == "dolma":
            values.update(ngram_fractions(*_text.words(text), n))
        else:
            values.update(datatrove_ngram_fractions(*_text.spacy_words(text), n_chars))
        return values

    def reasons(self, table: pa.Table) -> pa.Array:
        fails = [(name, column(table, name) > getattr(self, "max_" + name.removeprefix("gopher_")))
                 for name in COLUMNS]
        return first_reason(table.num_rows, self.disable, fails)


def ngram_fractions(words: pa.Array, parent: np.ndarray, n_rows: int) -> dict[str, np.ndarray]:
    """Top-n-gram (n = 2..4) and duplicate-n-gram (n = 5..10) character fractions per row."""
    out = {f"gopher_top_{k}gram_char_frac": np.zeros(n_rows) for k in TOP_NS}
    out.update({f"gopher_dup_{k}gram_char_frac": np.zeros(n_rows) for k in DUP_NS})
    n_words = len(words)
    if n_words == 0:
        return out
    wlen = _text.lengths(words)
    total = _text.per_row_sum(parent, n_rows, wlen)
    cum = np.concatenate([[0], np.cumsum(wlen)])
    codes = pc.dictionary_encode(words).indices.to_numpy(zero_copy_only=False)
    ids = np.random.default_rng(0).integers(1, 2**63, size=int(codes.max()) + 1, dtype=np.uint64)
    word_hash = ids[codes]
    # Mixing the row into the hash keeps equal n-grams of different documents apart.
    row_salt = np.random.default_rng(1).integers(1, 2**63, size=n_rows, dtype=np.uint64)
    h = word_hash.copy()
    cand = np.arange(n_words)  # start positions whose (n-1)-gram repeats in the same row
    for k in range(2, max(DUP_NS) + 1):
        cand = cand[cand + k - 1 < n_words]
        cand = cand[parent[cand] == parent[cand + k - 1]]
        if len(cand) == 0:
            break
        with np.errstate(over="ignore"):
            h[cand] = h[cand] * _MULT + word_hash[cand + k - 1]
            keys = h[cand] ^ row_salt[parent[cand]]
        uniq, first, inverse, counts = np.unique(
            keys, return_index=True, return_inverse=True, return_counts=True)
        repeated = counts[inverse] >= 2
        if k in TOP_NS:
            g = np.flatnonzero(counts >= 2)  # groups (distinct n-grams) that repeat
            starts = cand[first[g]]
            rows = parent[starts]
            chars = cum[starts + k] - cum[starts]
            best = np.zeros(n_rows)
            if len(g):
                # most frequent n-gram per row (ties: the longest); its characters x its count
                order = np.lexsort((chars, counts[g], rows))
                last = np.r_[rows[order][1:] != rows[order][:-1], True]
                pick = order[last]
                best[rows[pick]] = counts[g][pick] * chars[pick]
            out[f"gopher_top_{k}gram_char_frac"] = _text.safe_div(best, total)
        cand = cand[repeated]
        if k in DUP_NS:
            cover = np.zeros(n_words + 1, dtype=np.int64)
            np.add.at(cover, cand, 1)
            np.add.at(cover, cand + k, -1)
            covered = np.cumsum(cover[:-1]) > 0
            dup_chars = _text.per_row_sum(parent, n_rows, wlen * covered)
            out[f"gopher_dup_{k}gram_char_frac"] = _text.safe_div(dup_chars, total)
    return out


def datatrove_ngram_fractions(words: pa.Array, parent: np.ndarray,
                              n_chars: np.ndarray) -> dict[str, np.ndarray]:
    """datatrove's n-gram measures over each document's characters ``n_chars``: top n-gram =
    count x length (words joined by spaces) of the most frequent n-gram, the first seen among
    equals, also when it occurs once; duplicate n-gram = the characters (words joined without
    spaces) that datatrove's left-to-right scan counts: at an n-gram seen before, it counts it
    and jumps past it, and the n-grams it jumps over are not "seen". N-grams are compared as
    word sequences (random 64-bit word ids, rolling hashes, the whole partition at once); only
    the scan's repeats run in Python, one step per repeated occurrence."""
    n_rows = len(n_chars)
    out = {f"gopher_top_{k}gram_char_frac": np.zeros(n_rows) for k in TOP_NS}
    out.update({f"gopher_dup_{k}gram_char_frac": np.zeros(n_rows) for k in DUP_NS})
    n_words = len(words)
    if n_words == 0:
        return out
    size = np.asarray(n_chars, dtype=np.float64)
    cum = np.concatenate([[0], np.cumsum(_text.lengths(words))])
    codes = pc.dictionary_encode(words).indices.to_numpy(zero_copy_only=False)
    word_hash = np.random.default_rng(0).integers(1, 2**63, size=int(codes.max()) + 1,
                                                  dtype=np.uint64)[codes]
    row_salt = np.random.default_rng(1).integers(1, 2**63, size=n_rows, dtype=np.uint64)
    h = word_hash.copy()
    row_start = np.searchsorted(parent, np.arange(n_rows + 1))
    cand = np.arange(n_words)  # n-gram starts where the (n-1)-gram repeats (an n-gram can only
    for k in range(2, max(DUP_NS) + 1):  # repeat where its first n-1 words do)
        cand = cand[cand + k - 1 < n_words]
        cand = cand[parent[cand] == parent[cand + k - 1]]
        with np.errstate(over="ignore"):
            h[cand] = h[cand] * _MULT + word_hash[cand + k - 1]
            keys = h[cand] ^ row_salt[parent[cand]]
        count, first = _groups(keys, cand)
        if k in TOP_NS:
            top = _top_chars(cand, count, first, parent, cum, k, n_rows)
            # no n-gram repeats: the first one, once (rows with at least k words)
            single = (top == 0) & (np.diff(row_start) >= k)
            s = row_start[:-1][single]
            top[single] = cum[s + k] - cum[s] + (k - 1)
            out[f"gopher_top_{k}gram_char_frac"] = _text.safe_div(top, size)
        repeated = count >= 2
        cand, first = cand[repeated], first[repeated]
        if k in DUP_NS:
            dup = _scan_repeats(cand, first, parent, cum, k, n_rows)
            out[f"gopher_dup_{k}gram_char_frac"] = _text.safe_div(dup, size)
    return out


def _groups(keys: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per n-gram start: how many starts share its key, and the first of them (one sort)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    heads = np.flatnonzero(new)
    group = np.empty(len(keys), dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    count = np.diff(np.append(heads, len(keys)))[group]
    first = np.minimum.reduceat(starts[order], heads)[group]
    return count, first


def _top_chars(starts: np.ndarray, count: np.ndarray, first: np.ndarray, parent: np.ndarray,
               cum: np.ndarray, k: int, n_rows: int) -> np.ndarray:
    """count x length of each row's most frequent repeated n-gram (the first seen among
    equals; 0 where none repeats), given n-gram starts (sorted) with their n-gram's count and
    first start."""
    span = len(cum)  # > any start: the score orders by count, then by the earlier first start
    score = np.where((starts == first) & (count >= 2), count * span + (span - 1 - starts), 0)
    bounds = np.searchsorted(parent[starts], np.arange(n_rows + 1))
    best = np.zeros(n_rows, dtype=np.int64)
    rows = np.flatnonzero(bounds[1:] > bounds[:-1])
    if len(rows):
        best[rows] = np.maximum.reduceat(score, bounds[rows])
    top = best // span
    pos = np.where(top > 0, span - 1 - best % span, 0)
    return (top * (cum[np.minimum(pos + k, span - 1)] - cum[pos] + (k - 1))).astype(np.float64)


def _scan_repeats(starts: np.ndarray, first: np.ndarray, parent: np.ndarray,
                  cum: np.ndarray, k: int, n_rows: int) -> np.ndarray:
    """Characters datatrove's duplicate-n-gram scan counts per row, given the starts of the
    n-grams that occur more than once (sorted) and the ``first`` start of each one's n-gram.
    The scan steps one word at a time through n-grams never seen before, so only the later
    occurrences (``starts != first``) can change its course: visited, one is a repeat if an
    earlier occurrence was visited (not jumped over), and then the scan jumps k words."""
    dup = np.zeros(n_rows)
    later = np.flatnonzero(starts != first)
    if len(later) == 0:
        return dup
    row_of = parent[starts[later]]
    bounds = np.flatnonzero(np.r_[True, row_of[1:] != row_of[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        jump_from, jump_to = [], []  # start and end of each jump, in order
        visited, nxt, total = set(), 0, 0
        for j in later[a:b]:
            c = int(starts[j])
            if c < nxt:
                continue  # jumped over: neither counted nor seen
            f = int(first[j])
            i = bisect.bisect_right(jump_from, f) - 1
            if f in visited or i < 0 or f >= jump_to[i]:  # an earlier occurrence was seen
                total += int(cum[c + k] - cum[c])
                jump_from.append(c + 1)
                jump_to.append(c + k)
                nxt = c + k
            else:
                visited.add(f)  # the n-gram, by its first start
                nxt = c + 1
        dup[row_of[a]] = total
    return dup
