"""Whitespace tokens and word counts of an Arrow string array, safe against an Arrow defect.

On a string that ends in whitespace, Arrow's ``utf8_split_whitespace`` decodes the byte after the
string's end (the next row's first byte, or whatever an earlier computation left in that memory),
so the split of the last token depended on unrelated data; it also yields an empty token for each
trailing whitespace character after the first, and one empty token for an empty string. Every
whitespace split in datamill goes through here: the text is trimmed first and empty tokens dropped.
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


def word_counts(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Whitespace-separated words per row (0 for an empty or all-whitespace string), int64."""
    _, parent = split_whitespace(text)
    return pa.array(np.bincount(parent, minlength=len(text)).astype(np.int64))
