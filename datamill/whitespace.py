"""Whitespace tokens and word counts of an Arrow string array, safe against an Arrow defect.

On a string that ends in whitespace, Arrow's ``utf8_split_whitespace`` decodes the byte after the
string's end (the next row's first byte, or whatever an earlier computation left in that memory),
so the split of the last token depended on unrelated data; it also yields an empty token for each
trailing whitespace character after the first, and one empty token for an empty string. Every
whitespace split in datamill goes through here: the text is trimmed first and empty tokens dropped.

Whitespace is Python's ``str.isspace`` (which Arrow's split also uses): 29 code points. Word
counts need no split at all: they are counted on the UTF-8 bytes (a word starts at a non-space
byte after a space or a row start), ~15x faster than splitting, so the per-stage statistics of
every partition stay cheap.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def split_whitespace(text: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Whitespace-separated tokens (none empty), flat, with each token's row index."""
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(text))
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    tokens = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    keep = pc.not_equal(pc.utf8_length(tokens), 0)
    return pc.filter(tokens, keep), parent[keep.to_numpy(zero_copy_only=False)]


_U8 = np.uint8
# Multi-byte whitespace as (lead byte, second byte(s) allowed, third byte(s) allowed or None):
# U+0085, U+00A0; U+1680; U+2000-200A, U+2028, U+2029, U+202F; U+205F; U+3000.
_MULTI_BYTE = ((0xC2, (0x85, 0xA0), None), (0xE1, (0x9A,), (0x80,)),
               (0xE2, (0x80,), tuple(range(0x80, 0x8B)) + (0xA8, 0xA9, 0xAF)), (0xE2, (0x81,), (0x9F,)),
               (0xE3, (0x80,), (0x80,)))


def _space_bytes(data: np.ndarray) -> np.ndarray:
    """Per byte: is it part of a whitespace character (``str.isspace``)? (In-place SIMD passes:
    fresh 40 MB temporaries per pass cost more in page faults than the comparisons.)"""
    space = np.equal(data, _U8(32))
    tmp = np.subtract(data, _U8(9))
    hit = np.less_equal(tmp, _U8(4))
    space |= hit
    np.subtract(data, _U8(28), out=tmp)
    np.less_equal(tmp, _U8(3), out=hit)
    space |= hit
    leads = np.flatnonzero(data >= _U8(0xC2))  # one pass; then only the few non-ASCII lead bytes
    for lead, second, third in _MULTI_BYTE:
        at = leads[(data[leads] == _U8(lead)) & (leads < len(data) - (1 if third is None else 2))]
        ok = np.isin(data[at + 1], second)
        if third is not None:
            ok &= np.isin(data[at + 2], third)
        at = at[ok]
        for k in range(2 if third is None else 3):
            space[at + k] = True
    return space


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Zero-copy ``(data (B,) uint8, offsets (n+1,) int64 from 0)`` of a string array: the bytes
    of its rows (a sliced array's only) and where each row starts."""
    n = len(arr)
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=_U8) if bufs[2] is not None else np.zeros(0, _U8)
    if n == 0:
        return data[:0], np.zeros(1, dtype=np.int64)
    return data[offsets[0]: offsets[-1]], offsets - offsets[0]


def word_counts(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Whitespace-separated words per row (0 for an empty, all-whitespace or null string), int64."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks else pa.array([], text.type)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        raise TypeError(f"word_counts needs a string array, got {text.type}")
    data, offsets = string_buffers(text)
    space = _space_bytes(data)
    starts = offsets[:-1]
    begin = np.empty(len(data), dtype=bool)  # a word begins: a non-space byte after a space ...
    begin[1:] = space[:-1]
    begin[starts[starts < len(data)]] = True  # ... or at a row's first byte
    np.greater(begin, space, out=begin)
    begins = np.flatnonzero(begin)
    counts = np.searchsorted(begins, offsets[1:]) - np.searchsorted(begins, starts)
    if text.null_count:
        counts[~text.is_valid().to_numpy(zero_copy_only=False)] = 0
    return pa.array(counts, pa.int64())
