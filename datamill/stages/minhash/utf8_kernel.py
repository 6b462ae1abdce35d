"""Compiled (numba) UTF-8 passes of the normaliser in ``shingles.py``: find and decode the non-ASCII
characters of a batch, then rewrite each by its replacement bytes from a per-character table.
One pass each over the bytes; numpy needed ~8 array passes and a Python loop per distinct character.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def decode(data):
    """``(lead (C,) int64, code_point (C,) int64, size (C,) int64)`` of the multi-byte characters."""
    count = 0
    for i in range(len(data)):
        count += data[i] >= 0xC0  # a lead byte (continuation bytes are 0x80-0xBF)
    lead = np.empty(count, dtype=np.int64)
    cp = np.empty(count, dtype=np.int64)
    size = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(len(data)):
        b0 = np.int64(data[i])
        if b0 < 0xC0:
            continue
        n = 4 if b0 >= 0xF0 else (3 if b0 >= 0xE0 else 2)
        c = b0 & (0x07 if n == 4 else (0x0F if n == 3 else 0x1F))
        for j in range(1, n):
            c = (c << 6) | (np.int64(data[min(i + j, len(data) - 1)]) & 0x3F)
        lead[k], cp[k], size[k] = i, c, n
        k += 1
    return lead, cp, size


@numba.njit(cache=True, nogil=True, boundscheck=False)
def rewrite(data, offsets, lead, size, char, table, table_offsets):
    """Copy ``data`` with character ``k`` (``size[k]`` bytes at ``lead[k]``) replaced by
    ``table[table_offsets[char[k]]:table_offsets[char[k] + 1]]``; return ``(data, offsets)``."""
    grown = 0
    for k in range(len(lead)):
        grown += table_offsets[char[k] + 1] - table_offsets[char[k]] - size[k]
    out = np.empty(len(data) + grown, dtype=np.uint8)
    new_offsets = np.empty_like(offsets)
    i = o = d = 0  # next input byte, next output byte, next document offset
    for k in range(len(lead)):
        at = lead[k]
        while d < len(offsets) and offsets[d] <= at:
            new_offsets[d] = o + offsets[d] - i
            d += 1
        out[o:o + at - i] = data[i:at]
        o += at - i
        for t in range(table_offsets[char[k]], table_offsets[char[k] + 1]):
            out[o] = table[t]
            o += 1
        i = at + size[k]
    while d < len(offsets):
        new_offsets[d] = o + offsets[d] - i
        d += 1
    out[o:] = data[i:]
    return out, new_offsets
