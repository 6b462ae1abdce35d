"""MinHash signatures of whole batches of documents, vectorised with pyarrow and numpy.

Per batch: normalise the text (pyarrow.compute regexes) -> find token boundaries in the UTF-8
bytes (words: runs of non-whitespace bytes; chars: UTF-8 code points) -> hash every token with
its bytes read 8 at a time through an unaligned uint64 view (content-defined, so a token
hashes the same in any batch) -> hash each n-gram of tokens as a keyed sum of its token hashes ->
permute with datasketch 2.0's default "affine32" scheme, ``a*h + b mod 2^32`` with odd ``a``
drawn like datasketch from ``RandomState(seed)`` -> per-document minimum.

``hash="datasketch"`` replaces the vectorised shingle hash by datasketch's own (sha1 of the
shingle bytes, words joined by one space) and reproduces ``datasketch.MinHash(num_perm, seed)``
hash values bit for bit for the shingles that :func:`shingles` returns.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HASHES = ("fast", "datasketch")
SHINGLES = ("word", "char")
MAX32 = np.uint32(0xFFFFFFFF)  # the signature of a document with no shingles (as datasketch)

_FOLD_MUL = np.uint64(0x100000001B3)  # FNV-1 64-bit prime
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True  # ASCII whitespace bytes
_WORD = ~_SPACE
_ASCII_PUNCT = np.zeros(256, dtype=bool)
_ASCII_PUNCT[[c for c in range(33, 127) if not chr(c).isalnum()]] = True  # ASCII P* and S*
_BLOCK = 1 << 20  # shingle x permutation values materialised at once (4 MiB of uint32)


def normalize(texts, *, lowercase: bool = True, punctuation: bool = True, digits: bool = True,
              whitespace: bool = True) -> pa.Array:
    """FineWeb/datatrove-style text normalisation, vectorised: lowercase, drop punctuation and
    symbols (Unicode P* and S*), map each run of digits (Nd) to ``0``, collapse whitespace runs to
    one space and strip. Whitespace is ASCII ``\\t\\n\\v\\f\\r`` and space, U+0085 and Unicode Z*."""
    arr = _as_string_array(texts)
    if lowercase:
        arr = pc.utf8_lower(arr)
    data, offsets = _buffers(arr)
    # Byte masks, not regexes: an RE2 replace costs per match and punctuation matches often.
    drop = _ASCII_PUNCT[data] if punctuation else np.zeros(len(data), dtype=bool)
    data = _non_ascii(data, drop, punctuation, digits)
    data, offsets = data[~drop], offsets - _count_before(drop, offsets)
    if digits:
        data, offsets = _collapse_digits(data, offsets)
    if whitespace:
        data, offsets = _collapse_spaces(data, offsets)
    return _from_buffers(data, offsets)


def _normalize_for(texts, shingle: str, *, whitespace: bool, **kwargs) -> pa.Array:
    # Word tokens are runs of non-whitespace bytes, so collapsing whitespace cannot change them.
    return normalize(texts, whitespace=whitespace and shingle == "char", **kwargs)


def signatures(texts, *, num_perm: int = 128, ngram: int = 5, shingle: str = "word", seed: int = 1,
               hash: str = "fast", lowercase: bool = True, punctuation: bool = True,
               digits: bool = True, whitespace: bool = True, device: str = "cpu") -> np.ndarray:
    """MinHash signatures, ``(len(texts), num_perm)`` uint32. A document with fewer than
    ``ngram`` tokens is one shingle; a document with no tokens gets all ``0xFFFFFFFF``.
    ``device`` other than ``cpu`` (``cuda``, ``auto``) runs the permutations with torch,
    bit-identical (``hash="fast"`` only)."""
    _check(num_perm, ngram, shingle, hash)
    norm = _normalize_for(texts, shingle, lowercase=lowercase, punctuation=punctuation, digits=digits,
                          whitespace=whitespace)
    data, doc_tok, starts, ends = _tokens(norm, shingle)
    if hash == "fast":
        values, doc_sh = _fast_shingle_hashes(data, doc_tok, starts, ends, ngram)
        a, b = permutations(num_perm, seed)
        if device != "cpu":
            from datamill.stages.minhash_torch import permute_min_torch, resolve_device

            device = resolve_device(device)
            if device != "cpu":
                return permute_min_torch(values, doc_sh, a, b, device=device)
        return permute_min(values, doc_sh, a, b)
    return _datasketch_signatures(data, doc_tok, starts, ends, ngram, shingle, num_perm, seed)


def shingles(texts, *, ngram: int = 5, shingle: str = "word", lowercase: bool = True,
             punctuation: bool = True, digits: bool = True, whitespace: bool = True) -> list[list[bytes]]:
    """The shingles ``signatures`` hashes, as bytes (word n-grams joined by one space), per
    document: feed them to ``datasketch.MinHash.update_batch`` or use them for exact Jaccard."""
    _check(1, ngram, shingle, "fast")
    norm = _normalize_for(texts, shingle, lowercase=lowercase, punctuation=punctuation, digits=digits,
                          whitespace=whitespace)
    data, doc_tok, starts, ends = _tokens(norm, shingle)
    return _shingle_bytes(data, doc_tok, starts, ends, ngram, shingle)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` uint32 exactly as ``datasketch.MinHash(num_perm, seed, scheme="affine32")``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def permute_min(values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``min over shingles of (a*h + b)`` per document, wrapping in ``a``'s dtype.

    values: (S,) premixed shingle hashes; offsets: (n+1,) shingle offsets per document.
    Works on cache-sized (permutations, shingles) blocks: with shingles on the contiguous axis,
    ``np.minimum.reduceat`` reduces each document's run with SIMD (2x a per-document loop).
    """
    n, num_perm = len(offsets) - 1, len(a)
    out = np.full((n, num_perm), np.iinfo(a.dtype).max, dtype=a.dtype)
    values = values.astype(a.dtype, copy=False)
    offsets = np.asarray(offsets, dtype=np.int64)
    pstep = min(num_perm, 1024)  # very long signatures (Lee et al.'s 9,000) go in chunks
    step = max(1, _BLOCK // pstep)
    for s0 in range(0, len(values), step):
        s1 = min(s0 + step, len(values))
        d0 = int(np.searchsorted(offsets, s0, side="right")) - 1
        d1 = int(np.searchsorted(offsets, s1, side="left"))
        lo = np.maximum(offsets[d0:d1], s0)
        hi = np.minimum(offsets[d0 + 1:d1 + 1], s1)
        docs = np.flatnonzero(hi > lo) + d0
        starts = lo[docs - d0] - s0
        for p0 in range(0, num_perm, pstep):
            p1 = min(p0 + pstep, num_perm)
            block = np.multiply.outer(a[p0:p1], values[s0:s1])  # (P, S)
            block += b[p0:p1, None]
            mins = np.minimum.reduceat(block, starts, axis=1).T  # (docs, P)
            out[docs, p0:p1] = np.minimum(out[docs, p0:p1], mins)
    return out


def to_lean_minhashes(sigs: np.ndarray, *, seed: int = 1, scheme: str = "affine32") -> list:
    """datasketch ``LeanMinHash`` objects, for users who keep a datasketch LSH index. Only
    compare them with signatures made by the same ``hash`` option (the shingle hash differs)."""
    from datasketch import LeanMinHash

    return [LeanMinHash(seed=seed, hashvalues=row, scheme=scheme) for row in sigs]


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, a bijection that spreads every input bit."""
    h = h ^ (h >> np.uint64(33))
    tmp = np.empty_like(h)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= np.right_shift(h, np.uint64(33), out=tmp)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= np.right_shift(h, np.uint64(33), out=tmp)
    return h


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _check(num_perm: int, ngram: int, shingle: str, hash: str) -> None:
    if shingle not in SHINGLES:
        raise ValueError(f"shingle must be one of {SHINGLES}, got {shingle!r}")
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {HASHES}, got {hash!r}")
    if ngram < 1 or num_perm < 1:
        raise ValueError(f"ngram and num_perm must be >= 1, got ngram={ngram}, num_perm={num_perm}")


def _as_string_array(texts) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    elif not isinstance(texts, pa.Array):
        texts = pa.array(texts if isinstance(texts, Sequence) else list(texts), type=pa.string())
    if pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"texts must be strings, got {texts.type}")
    return pc.fill_null(texts, "")


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Zero-copy ``(data (B,) uint8, offsets (n+1,) int64 from 0)`` of a string array."""
    n = len(arr)
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if n == 0:
        return data[:0], np.zeros(1, dtype=np.int64)
    return data[offsets[0]: offsets[-1]], offsets - offsets[0]


def _from_buffers(data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    large = len(data) >= 2**31 - 1
    offsets = offsets.astype(np.int64 if large else np.int32)
    typ = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(typ, len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _count_before(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many ``mask`` bytes precede each offset (the shift of the offsets after deleting)."""
    return np.searchsorted(np.flatnonzero(mask), offsets)


def _delete(data: np.ndarray, offsets: np.ndarray, positions: np.ndarray):
    if len(positions) == 0:
        return data, offsets
    return np.delete(data, positions), offsets - np.searchsorted(positions, offsets)


@functools.lru_cache(maxsize=None)
def _char_class(cp: int) -> int:
    """0 other, 1 punctuation or symbol (P*, S*), 2 whitespace (Z*, U+0085), 3 digit (Nd)."""
    cat = unicodedata.category(chr(cp))
    if cat[0] in "PS":
        return 1
    if cat[0] == "Z" or cp == 0x85:
        return 2
    return 3 if cat == "Nd" else 0


def _non_ascii(data: np.ndarray, drop: np.ndarray, punctuation: bool, digits: bool) -> np.ndarray:
    """Decode the (few) non-ASCII characters, class them with ``unicodedata``: punctuation and
    symbols are marked in ``drop``, whitespace becomes one space, digits one ``0``."""
    hi = np.flatnonzero(data >= 0x80)
    if len(hi) == 0:
        return data
    lead = hi[(data[hi] & 0xC0) != 0x80]
    last = len(data) - 1
    b0, b1, b2, b3 = (data[np.minimum(lead + k, last)].astype(np.int64) for k in range(4))
    size = np.where(b0 >= 0xF0, 4, np.where(b0 >= 0xE0, 3, 2))
    cp = np.where(size == 2, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
                  np.where(size == 3, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                           ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)))
    uniq, inv = np.unique(cp, return_inverse=True)
    cls = np.array([_char_class(int(c)) for c in uniq], dtype=np.int8)[inv]
    gone = (cls == 1) & punctuation
    space, digit = cls == 2, (cls == 3) & digits
    if not (gone.any() or space.any() or digit.any()):
        return data
    short = space | digit  # keep the lead byte as one ASCII byte, drop the continuation bytes
    for k in range(4):
        drop[lead[gone & (size > k)] + k] = True
        if k:
            drop[lead[short & (size > k)] + k] = True
    data = data.copy()
    data[lead[space]] = 0x20
    data[lead[digit]] = 0x30
    return data


def _collapse_digits(data: np.ndarray, offsets: np.ndarray):
    """Each run of digits (now all ASCII) becomes one ``0``."""
    pos = np.flatnonzero((data - np.uint8(48)) <= 9)
    if len(pos) == 0:
        return data, offsets
    data = data.copy()
    data[pos] = 48
    starts = np.zeros(len(data) + 1, dtype=bool)
    starts[offsets] = True
    inner = pos[1:][(pos[1:] == pos[:-1] + 1) & ~starts[pos[1:]]]  # digits after a digit
    return _delete(data, offsets, inner)


def _collapse_spaces(data: np.ndarray, offsets: np.ndarray):
    """Each whitespace run inside a document becomes one space; runs at either end vanish."""
    sp = _SPACE[data]
    starts = np.zeros(len(data), dtype=bool)
    starts[offsets[:-1][offsets[:-1] < len(data)]] = True
    prev_word = np.concatenate([[False], ~sp[:-1]]) & ~starts
    word_pos = np.flatnonzero(~sp)
    last = np.searchsorted(word_pos, offsets[1:], side="left") - 1  # last non-space per doc
    last_word = np.where(last >= 0, word_pos[np.maximum(last, 0)], -1)
    before_last = np.arange(len(data)) < np.repeat(last_word, np.diff(offsets))
    keep = ~sp | (prev_word & before_last)
    data = np.where(sp, np.uint8(32), data)
    return data[keep], offsets - _count_before(~keep, offsets)


def _tokens(arr: pa.Array, shingle: str):
    """UTF-8 bytes of all documents and their tokens: ``data`` (B,) uint8, ``doc_tok`` (n+1,)
    token offsets per document, ``starts``/``ends`` (T,) byte spans of the tokens."""
    data, offsets = _buffers(arr)
    first = np.zeros(len(data) + 1, dtype=bool)
    first[offsets[:-1]] = True  # document starts
    if shingle == "word":
        # +1/-1 steps of the word mask are token starts/ends; a document boundary inside a run
        # of word bytes (doc i ends and doc i+1 starts with a word byte) is both.
        step = np.diff(_WORD[data].view(np.int8), prepend=np.int8(0), append=np.int8(0))
        is_start, is_end = step == 1, step == -1
        inner = offsets[1:-1]
        inner = inner[(inner > 0) & (inner < len(data))]
        inner = inner[(step[inner] == 0) & _WORD[data[inner]]]
        is_start[inner] = True
        is_end[inner] = True
        starts, ends = np.flatnonzero(is_start), np.flatnonzero(is_end)
    else:
        starts = np.flatnonzero((data & 0xC0) != 0x80)  # not a UTF-8 continuation byte
        ends = np.append(starts[1:], len(data))
        ends = np.minimum(ends, offsets[np.searchsorted(offsets, starts, side="right")])
    doc_tok = np.searchsorted(starts, offsets, side="left")
    return data, doc_tok, starts, ends


_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _token_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(T,) uint64 content hashes of the tokens' bytes: each token is read 8 bytes at a time
    through an unaligned little-endian uint64 view (one gather per 8 bytes, not per byte);
    the chunks are folded with a multiply-add and the result (with the length) is fmix64-ed."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    window = np.ndarray(shape=(len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    length = ends - starts
    h = window[starts] & _LOW_BYTES[np.minimum(length, 8)]
    long = np.flatnonzero(length > 8)
    k = 8
    while len(long):  # tokens over 8 bytes: fold the next chunk in, shrinking the set each pass
        rest = length[long] - k
        chunk = window[starts[long] + k] & _LOW_BYTES[np.minimum(rest, 8)]
        h[long] = (h[long] ^ chunk) * _FOLD_MUL + np.uint64(k)
        long = long[rest > 8]
        k += 8
    return fmix64(h ^ (length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))


def _shingle_starts(doc_tok: np.ndarray, ngram: int):
    """Start token of every shingle, the end (exclusive) of its document's tokens, and (n+1,)
    shingle offsets per document. Fewer than ``ngram`` tokens make one short shingle."""
    m = np.diff(doc_tok)
    count = np.where(m >= ngram, m - ngram + 1, np.minimum(m, 1))
    doc_sh = np.zeros(len(m) + 1, dtype=np.int64)
    np.cumsum(count, out=doc_sh[1:])
    first = np.repeat(doc_tok[:-1] - doc_sh[:-1], count)
    start = np.arange(doc_sh[-1], dtype=np.int64) + first
    limit = np.repeat(doc_tok[1:], count)
    return start, limit, doc_sh


def _fast_shingle_hashes(data, doc_tok, starts, ends, ngram: int):
    """(S,) uint32 shingle hashes: top half of a keyed sum of the n token hashes."""
    tok = _token_hashes(data, starts, ends)
    start, limit, doc_sh = _shingle_starts(doc_tok, ngram)
    keys = np.random.RandomState(0x5EED).randint(0, 1 << 62, ngram, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    padded = np.concatenate([tok, np.zeros(ngram, dtype=np.uint64)])
    n_tok = len(tok)
    every = padded[:n_tok] * keys[0]  # the n-gram starting at each token: contiguous slices
    term = np.empty_like(every)
    for j in range(1, ngram):
        every += np.multiply(padded[j:j + n_tok], keys[j], out=term)
    g = every[start] if n_tok else np.zeros(0, dtype=np.uint64)
    short = np.flatnonzero(start + ngram > limit)  # documents with fewer than ngram tokens
    if len(short):
        g[short] = 0
        for j in range(ngram):
            idx = start[short] + j
            g[short] += np.where(idx < limit[short], padded[idx] * keys[j], np.uint64(0))
    # token hashes are fmix64 outputs, so the top half of this keyed sum is already uniform
    return (g >> np.uint64(32)).astype(np.uint32), doc_sh


def _shingle_bytes(data, doc_tok, starts, ends, ngram: int, shingle: str) -> list[list[bytes]]:
    raw = data.tobytes()
    sep = b" " if shingle == "word" else b""
    out = []
    for d in range(len(doc_tok) - 1):
        t0, t1 = int(doc_tok[d]), int(doc_tok[d + 1])
        toks = [raw[s:e] for s, e in zip(starts[t0:t1].tolist(), ends[t0:t1].tolist())]
        if 0 < len(toks) < ngram:
            out.append([sep.join(toks)])
        else:
            out.append([sep.join(toks[i:i + ngram]) for i in range(len(toks) - ngram + 1)])
    return out


def _datasketch_signatures(data, doc_tok, starts, ends, ngram, shingle, num_perm, seed) -> np.ndarray:
    """datasketch's own hashing (sha1 -> scheme permutations), vectorised over the batch."""
    import hashlib

    from datasketch import MinHash

    per_doc = _shingle_bytes(data, doc_tok, starts, ends, ngram, shingle)
    offsets = np.zeros(len(per_doc) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in per_doc], out=offsets[1:])
    digests = b"".join(hashlib.sha1(s).digest()[:4] for doc in per_doc for s in doc)
    hv = np.frombuffer(digests, dtype="<u4").astype(np.uint32)  # == datasketch.sha1_hash32
    ref = MinHash(num_perm=num_perm, seed=seed)
    scheme = getattr(ref, "scheme", "legacy")
    a, b = ref.permutations
    if scheme == "affine32":
        return permute_min(fmix32(hv), offsets, a.astype(np.uint32), b.astype(np.uint32))
    if scheme != "legacy":
        raise ValueError(f"hash='datasketch' supports datasketch's affine32 and legacy schemes, not {scheme!r}")
    return _legacy_min(hv.astype(np.uint64), offsets, a, b)


def _legacy_min(hv, offsets, a, b) -> np.ndarray:
    """datasketch < 2.0: ``(a*h + b) % (2^61-1) & (2^32-1)`` in wrapping uint64, as datasketch."""
    prime, mask = np.uint64((1 << 61) - 1), np.uint64(0xFFFFFFFF)
    out = np.full((len(offsets) - 1, len(a)), mask, dtype=np.uint64)
    for d in range(len(offsets) - 1):
        s, e = offsets[d], offsets[d + 1]
        if e > s:
            out[d] = ((hv[s:e, None] * a + b) % prime & mask).min(axis=0)
    return out
