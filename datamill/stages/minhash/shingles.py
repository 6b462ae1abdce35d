"""Normalisation and tokenisation of a whole batch of documents as one UTF-8 byte buffer.

pyarrow lowercases; everything else is numpy over the Arrow buffers (data bytes + offsets): ASCII
punctuation is a byte mask, the few non-ASCII characters are decoded and rewritten by compiled
passes (``utf8_kernel``) from a table made per distinct character with ``unicodedata``
(punctuation/symbols/controls -> a space or dropped, whitespace -> one space, digits -> ``0``,
letters -> their NFD form without combining marks), digit and whitespace runs collapse, and
tokens (words: runs of non-whitespace bytes; chars: UTF-8 code points) come out as byte spans.
RE2 regexes did the same 3x slower: a replace costs per match.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.whitespace import string_buffers

PUNCTUATION = ("space", "drop", "keep")
_U8 = np.uint8
# Byte classes by SIMD comparisons: a 256-entry table lookup (fancy indexing) is ~15x slower.


def is_space(data: np.ndarray) -> np.ndarray:
    """ASCII whitespace: ``\\t\\n\\v\\f\\r`` and space."""
    return (data == _U8(32)) | ((data - _U8(9)) <= _U8(4))


def _is_digit(data: np.ndarray) -> np.ndarray:
    return (data - _U8(48)) <= _U8(9)


def _is_ascii_punct(data: np.ndarray) -> np.ndarray:
    """ASCII P*, S* and controls (Cc) but whitespace: every ASCII byte that is not alnum/space."""
    alnum = _is_digit(data) | (((data | _U8(0x20)) - _U8(97)) <= _U8(25))
    return (data < _U8(128)) & ~alnum & ~is_space(data)


def _set_where(data: np.ndarray, mask: np.ndarray, byte: int) -> np.ndarray:
    """``np.where(mask, byte, data)`` as three SIMD passes (np.where on uint8 is slow)."""
    return data ^ ((data ^ _U8(byte)) & np.negative(mask.view(_U8)))


def normalize(texts, *, lowercase: bool = True, punctuation: str | bool = "space", digits: bool = True,
              whitespace: bool = True, diacritics: bool = True) -> pa.Array:
    """datatrove's ``simplify_text`` (FineWeb's setting), vectorised: lowercase; a number (digit
    run with at most one ``.``/``,`` decimal part) -> ``0``; punctuation, symbols and control
    characters (Unicode P*, S*, Cc) -> a space (``punctuation="space"``), or deleted (``"drop"``),
    or kept (``"keep"``/False); accents stripped (NFD, combining marks Mn dropped); whitespace
    runs -> one space, stripped. Whitespace is ASCII ``\\t\\n\\v\\f\\r`` and space, U+0085 and Z*."""
    mode = _punctuation_mode(punctuation)
    arr = as_string_array(texts)
    if lowercase:
        arr = pc.utf8_lower(arr)
    data, offsets = _non_ascii(*string_buffers(arr), mode, digits, diacritics)
    if digits:
        data = _absorb_decimal_points(data, offsets)
    if mode == "space":
        data = _set_where(data, _is_ascii_punct(data), 32)
    elif mode == "drop":
        gone = _is_ascii_punct(data)
        data, offsets = data[~gone], offsets - _count_before(gone, offsets)
    if digits:
        data, offsets = _collapse_digits(data, offsets)
    if whitespace:
        data, offsets = _collapse_spaces(data, offsets)
    return _from_buffers(data, offsets)


def _punctuation_mode(punctuation: str | bool) -> str:
    mode = {True: "space", False: "keep"}.get(punctuation, punctuation) if isinstance(punctuation, bool) else punctuation
    if mode not in PUNCTUATION:
        raise ValueError(f"punctuation must be one of {PUNCTUATION}, got {punctuation!r}")
    return mode


def as_string_array(texts) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    elif not isinstance(texts, pa.Array):
        texts = pa.array(texts if isinstance(texts, Sequence) else list(texts), type=pa.string())
    if pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"texts must be strings, got {texts.type}")
    return pc.fill_null(texts, "")


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
    """0 other, 1 punctuation/symbol/control (P*, S*, Cc), 2 whitespace (Z*, U+0085), 3 digit
    (Nd), 4 combining mark (Mn)."""
    cat = unicodedata.category(chr(cp))
    if cat[0] == "Z" or cp == 0x85:
        return 2
    if cat[0] in "PS" or cat == "Cc":
        return 1
    return {"Nd": 3, "Mn": 4}.get(cat, 0)


@functools.lru_cache(maxsize=None)
def _stripped(cp: int) -> bytes:
    """UTF-8 of the character's NFD decomposition without its combining marks (Mn)."""
    nfd = unicodedata.normalize("NFD", chr(cp))
    return "".join(c for c in nfd if unicodedata.category(c) != "Mn").encode()


@functools.lru_cache(maxsize=None)
def _replacement(cp: int, mode: str, digits: bool, diacritics: bool) -> bytes | None:
    """The UTF-8 a non-ASCII character becomes, or None where it stays as it is."""
    k = _char_class(cp)
    if k == 2 or (k == 1 and mode == "space"):
        return b" "
    if k == 3 and digits:
        return b"0"
    if k == 1 and mode == "drop":
        return b""
    return _stripped(cp) if diacritics and k in (0, 4) else None


def _non_ascii(data: np.ndarray, offsets: np.ndarray, mode: str, digits: bool, diacritics: bool):
    """Decode the (few) non-ASCII characters and class them with ``unicodedata``: punctuation,
    symbols and controls become one space (or go), whitespace one space, digits one ``0``, and
    with ``diacritics`` each character is replaced by its NFD form without combining marks (a
    Hangul syllable by its jamo). Per distinct character, so a document's output never depends on
    its batch; decoding and rewriting are compiled passes (``utf8_kernel``)."""
    from datamill.stages.minhash.utf8_kernel import decode, rewrite  # numba: imported when used

    lead, cp, size = decode(data)
    if len(lead) == 0:
        return data, offsets
    uniq, inv = np.unique(cp, return_inverse=True)
    new = [_replacement(c, mode, digits, diacritics) for c in uniq.tolist()]
    if all(r is None for r in new):
        return data, offsets
    new = [chr(c).encode() if r is None else r for c, r in zip(uniq.tolist(), new)]
    table_offsets = np.zeros(len(new) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in new], out=table_offsets[1:])
    table = np.frombuffer(b"".join(new), dtype=np.uint8)
    return rewrite(data, offsets, lead, size, inv.reshape(-1), table, table_offsets)


def _absorb_decimal_points(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """datatrove's number pattern ``\\d+([.,]\\d+)?``: the ``.``/``,`` joining a number's first
    two digit runs becomes a digit (so ``1.5`` -> ``0``); in ``1.2.3`` only the first one does."""
    if len(data) < 3:
        return data
    inner = data[1:-1]
    sep = np.flatnonzero((inner == _U8(46)) | (inner == _U8(44))) + 1  # "." or ","
    sep = sep[_is_digit(data[sep - 1]) & _is_digit(data[sep + 1])]
    doc = np.searchsorted(offsets, sep, side="right")
    sep, doc = sep[(offsets[doc - 1] < sep) & (sep + 1 < offsets[doc])], doc[(offsets[doc - 1] < sep) & (sep + 1 < offsets[doc])]
    if len(sep) == 0:
        return data
    # a separator continues a chain when only one document's digits lie between it and the last
    run_end, active = sep + 1, np.arange(len(sep))
    while len(active):
        nxt = run_end[active] + 1
        more = (nxt < len(data)) & _is_digit(data[np.minimum(nxt, len(data) - 1)])
        run_end[active[more]] += 1
        active = active[more]
    new_chain = np.ones(len(sep), dtype=bool)
    new_chain[1:] = (run_end[:-1] + 1 != sep[1:]) | (doc[:-1] != doc[1:])
    index = np.arange(len(sep))
    chain_start = np.maximum.accumulate(np.where(new_chain, index, 0))
    data = data.copy()
    data[sep[(index - chain_start) % 2 == 0]] = 48
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
    sp = is_space(data)
    starts = np.zeros(len(data), dtype=bool)
    starts[offsets[:-1][offsets[:-1] < len(data)]] = True
    prev_word = np.concatenate([[False], ~sp[:-1]]) & ~starts
    word_pos = np.flatnonzero(~sp)
    if len(word_pos) == 0:  # a batch of empty or all-whitespace documents
        return data[:0], np.zeros_like(offsets)
    last = np.searchsorted(word_pos, offsets[1:], side="left") - 1  # last non-space per doc
    last_word = np.where(last >= 0, word_pos[np.maximum(last, 0)], -1)
    before_last = np.arange(len(data)) < np.repeat(last_word, np.diff(offsets))
    keep = ~sp | (prev_word & before_last)
    data = _set_where(data, sp, 32)
    return data[keep], offsets - _count_before(~keep, offsets)


def tokens(arr: pa.Array, shingle: str):
    """UTF-8 bytes of all documents and their tokens: ``data`` (B,) uint8, ``doc_tok`` (n+1,)
    token offsets per document, ``starts``/``ends`` (T,) byte spans of the tokens."""
    data, offsets = string_buffers(arr)
    first = np.zeros(len(data) + 1, dtype=bool)
    first[offsets[:-1]] = True  # document starts
    if shingle == "word":
        # +1/-1 steps of the word mask are token starts/ends; a document boundary inside a run
        # of word bytes (doc i ends and doc i+1 starts with a word byte) is both.
        word = ~is_space(data)
        step = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        is_start, is_end = step == 1, step == -1
        inner = offsets[1:-1]
        inner = inner[(inner > 0) & (inner < len(data))]
        inner = inner[(step[inner] == 0) & word[inner]]
        is_start[inner] = True
        is_end[inner] = True
        starts, ends = np.flatnonzero(is_start), np.flatnonzero(is_end)
    else:
        starts = np.flatnonzero((data & 0xC0) != 0x80)  # not a UTF-8 continuation byte
        ends = np.append(starts[1:], len(data))
        ends = np.minimum(ends, offsets[np.searchsorted(offsets, starts, side="right")])
    doc_tok = np.searchsorted(starts, offsets, side="left")
    return data, doc_tok, starts, ends
