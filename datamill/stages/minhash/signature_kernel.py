"""The compiled MinHash kernel (numba): normalised UTF-8 bytes -> signatures in one pass per document.

Per document it tokenises (words: runs of non-whitespace bytes; chars: UTF-8 code points), hashes
each token, hashes each n-gram of token hashes and takes the minimum of every permutation, with
the same arithmetic as the numpy path in ``signatures.py`` (bit-identical; tests compare them):
token hash = the token's bytes folded 8 at a time (little-endian) with a multiply-add, xor its
length times the golden ratio, fmix64; shingle hash = top 32 bits of a keyed sum of its n token
hashes; permutation ``a*h + b mod 2^32``. The permutation loop runs per permutation over the
document's contiguous shingle hashes (a uint32 min-reduction LLVM vectorises; in a one-off
microbenchmark 3.3 us for 350 shingles x 128 permutations, against 4.2 us with the permutation
loop innermost). Indices run from 0 over a slice: numba's negative-index wraparound on a
``range(s0, s1)`` index had turned the loads into gathers (~4x slower).
One core per call (``parallel=False``): the engine runs partitions in parallel. ``cache=True``
writes the machine code next to this file (or to numba's user cache, ``~/.cache/numba`` or
``$NUMBA_CACHE_DIR``, where the package is read-only), so only the first process on a machine
compiles: ~3.6 s, against ~0.8 s to load it (``benchmarks/results/minhash.md``, section 1).
"""

from __future__ import annotations

import numba
import numpy as np

# signatures.FOLD_MUL and LENGTH_MUL (the numpy path's; copied, since signatures.py imports this
# module only when it runs it, to keep numba out of the catalog's import)
FOLD_MUL = np.uint64(0x100000001B3)
LENGTH_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)  # MurmurHash3 fmix64
_MAX32 = np.uint32(0xFFFFFFFF)
_BLOCK = 4096  # shingle hashes per permutation pass (16 KiB: stays in L1 for a long document)


def signatures_from_buffer(data: np.ndarray, offsets: np.ndarray, *, char: bool, keys: np.ndarray,
                           a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, len(a))`` uint32 signatures of the normalised documents ``data[offsets[i]:offsets[i+1]]``.

    keys: (ngram,) odd uint64 shingle keys; a, b: (num_perm,) uint32 permutations. A document
    with fewer than ``ngram`` tokens is one shingle; one with no tokens gets all ``0xFFFFFFFF``."""
    data = data.view()
    data.flags.writeable = False  # one compiled specialisation, whether or not the buffer is Arrow's
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    out = np.empty((len(offsets) - 1, len(a)), dtype=np.uint32)
    longest = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
    _kernel(data, offsets, char, np.ascontiguousarray(keys, dtype=np.uint64), np.ascontiguousarray(a, dtype=np.uint32),
            np.ascontiguousarray(b, dtype=np.uint32), np.empty(longest + 1, dtype=np.uint64),
            np.empty(longest + 1, dtype=np.uint32), out)
    return out


@numba.njit(cache=True, nogil=True)
def _is_space(c):
    return c == 32 or (c >= 9 and c <= 13)  # ASCII \t\n\v\f\r and space, as shingles.is_space


@numba.njit(cache=True, nogil=True)
def _token_hash(h, chunk, length):
    """A token's hash from ``h`` (its earlier 8-byte chunks folded), its last (up to 8) bytes
    ``chunk`` and its length."""
    if length > 8:
        h = (h ^ chunk) * FOLD_MUL + np.uint64(8 * ((length - 1) // 8))
    else:
        h = chunk
    h ^= np.uint64(length) * LENGTH_MUL
    h ^= h >> np.uint64(33)
    h *= _MIX1
    h ^= h >> np.uint64(33)
    h *= _MIX2
    h ^= h >> np.uint64(33)
    return h


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _tokenise(doc, char, tok):
    """Hash the tokens of one document's bytes into ``tok``, reading each byte once; return how
    many there are. A token's bytes are gathered little-endian into 8-byte chunks, each full
    chunk folded in with a multiply-add when the next one starts."""
    m = 0
    h = chunk = np.uint64(0)
    length = 0
    for i in range(len(doc)):
        c = doc[i]
        if char:
            if (c & 0xC0) != 0x80 and length:  # a new code point: the previous one is whole
                tok[m] = _token_hash(h, chunk, length)
                m, length, chunk = m + 1, 0, np.uint64(0)
        elif _is_space(c):
            if length:
                tok[m] = _token_hash(h, chunk, length)
                m, length, chunk = m + 1, 0, np.uint64(0)
            continue
        pos = length & 7
        if pos == 0 and length >= 8:
            h = chunk if length == 8 else (h ^ chunk) * FOLD_MUL + np.uint64(length - 8)
            chunk = np.uint64(0)
        chunk |= np.uint64(c) << np.uint64(8 * pos)
        length += 1
    if length:
        tok[m] = _token_hash(h, chunk, length)
        m += 1
    return m


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _kernel(data, offsets, char, keys, a, b, tok, vals, out):
    ngram, num_perm = len(keys), len(a)
    for d in range(len(offsets) - 1):
        m = _tokenise(data[offsets[d]:offsets[d + 1]], char, tok)
        if m == 0:
            out[d, :] = _MAX32
            continue
        count = m - ngram + 1 if m >= ngram else 1
        for s in range(count):
            g = np.uint64(0)
            for j in range(min(ngram, m)):
                g += tok[s + j] * keys[j]
            vals[s] = np.uint32(g >> np.uint64(32))
        for p in range(num_perm):
            out[d, p] = _MAX32
        for s0 in range(0, count, _BLOCK):
            block = vals[s0:min(s0 + _BLOCK, count)]  # indexed from 0: no wraparound, a SIMD loop
            for p in range(num_perm):
                ap, bp = a[p], b[p]
                low = out[d, p]
                for s in range(len(block)):
                    low = min(low, np.uint32(ap * block[s] + bp))
                out[d, p] = low
