"""Normalised word n-grams and the reference index behind ``decontaminate``.

One front end for reference texts and documents alike, so the two agree by construction:

1. runs: the maximal runs of letters, digits and combining marks (Unicode L, N, M) of the
   original text; everything else (punctuation, symbols, spaces, line breaks) separates words.
2. each run is NFKC-normalised and lower-cased, then split again where NFKC introduced a
   non-word character (``½`` -> ``1⁄2`` -> ``1``, ``2``). The pieces are the words, and every
   word remembers the run it came from, so a match maps back to a span of the original text.

A word hashes to 64 bits (xxh3 of its UTF-8), an m-word window to ``mix(horner(words) ^ m)``
(Horner over uint64 words, then the splitmix64 finaliser): windows of different lengths never
share a value by construction. All of it is Arrow compute and numpy over a whole partition;
Python only hashes each distinct word of a partition once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from datamill.whitespace import split_whitespace

_WORD = r"\p{L}\p{N}\p{M}"  # RE2 classes: letters, digits, combining marks
_SEPARATORS = f"[^{_WORD}]+"
_P = np.uint64(0x9E3779B97F4A7C15)  # odd: Horner's multiplier (the golden-ratio constant)


@dataclass(frozen=True)
class Words:
    """Every text's words, one text after the other."""

    hashes: np.ndarray  # (W,) uint64 word hashes
    offsets: np.ndarray  # (T + 1,) int64: text t's words are hashes[offsets[t]:offsets[t + 1]]
    runs: np.ndarray  # (W,) int64: the run (in original-text order, over all texts) each word came from
    run_offsets: np.ndarray  # (T + 1,) int64: text t's runs are runs run_offsets[t]:run_offsets[t + 1]

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def _split(strings: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The maximal runs of word characters of each string, flat, and each run's string index."""
    return split_whitespace(pc.replace_substring_regex(strings, _SEPARATORS, " "))


def _offsets(parent: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=n))]).astype(np.int64)


def words(texts: pa.Array | pa.ChunkedArray) -> Words:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    runs, run_text = _split(texts)
    # An ASCII run is letters and digits only: NFKC leaves it as it is and it stays one word, so
    # only the other runs (few, in English) go through NFKC and the second split.
    ascii = pc.string_is_ascii(runs).to_numpy(zero_copy_only=False)
    other = np.nonzero(~ascii)[0]
    pieces, piece_run = _split(pc.utf8_lower(pc.utf8_normalize(runs.take(other), "NFKC")))
    per_run = np.ones(len(runs), np.int64)
    per_run[other] = np.bincount(piece_run, minlength=len(other))
    first = np.concatenate([[0], np.cumsum(per_run)])  # (R + 1,) each run's first word
    hashes = np.empty(first[-1], np.uint64)
    hashes[first[:-1][ascii]] = _hash_words(pc.ascii_lower(runs.filter(pa.array(ascii))))
    piece_first = np.concatenate([[0], np.cumsum(per_run[other])])
    hashes[first[other[piece_run]] + np.arange(len(pieces)) - piece_first[piece_run]] = _hash_words(pieces)
    run_offsets = _offsets(run_text, len(texts))
    return Words(hashes, first[run_offsets], np.repeat(np.arange(len(runs)), per_run), run_offsets)


def _hash_words(pieces: pa.Array) -> np.ndarray:
    if not len(pieces):
        return np.zeros(0, np.uint64)
    encoded = pc.dictionary_encode(pieces)
    unique = np.fromiter((xxhash.xxh3_64_intdigest(w.encode()) for w in encoded.dictionary.to_pylist()),
                         np.uint64, len(encoded.dictionary))
    return unique[encoded.indices.to_numpy()]


def mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def windows(w: Words, lengths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window of ``m`` consecutive words of one text, for each ``m`` in ``lengths``:
    (hashes uint64, first word int64, length int64), shortest length first."""
    h, n = w.hashes, len(w.hashes)
    end = np.repeat(w.offsets[1:], w.counts)  # (W,) end of each word's text
    room = end - np.arange(n)  # words from each position to its text's end
    acc = h.copy()
    out_h, out_start, out_m = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    with np.errstate(over="ignore"):
        for m in range(1, min(max(lengths, default=0), n) + 1):
            if m > 1:
                acc[: n - m + 1] = acc[: n - m + 1] * _P + h[m - 1:]
            if m in lengths:
                start = np.nonzero(room >= m)[0]
                out_h.append(mix(acc[start] ^ np.uint64(m)))
                out_start.append(start)
                out_m.append(np.full(len(start), m, np.int64))
    return np.concatenate(out_h), np.concatenate(out_start), np.concatenate(out_m)


@dataclass(frozen=True)
class NgramIndex:
    """The reference n-grams, sorted by hash, each with the reference and item it came from."""

    names: tuple[str, ...]  # reference names, in config order
    items: tuple[int, ...]  # items per reference
    lengths: tuple[int, ...]  # window lengths to look up: ``ngram`` and the short texts' lengths
    hashes: np.ndarray  # (E,) uint64, sorted
    ref: np.ndarray  # (E,) int16 reference index
    item: np.ndarray  # (E,) int32 item index within its reference
    bitmap: np.ndarray  # (2^k / 8,) uint8: bit j set iff some hash's top k bits are j (a Bloom filter, one hash)

    def maybe(self, queries: np.ndarray) -> np.ndarray:
        """False where a query is certainly not in the index (~97% of misses, one memory read each)."""
        k = queries >> np.uint64(64 - _bitmap_bits(len(self.hashes)))
        return ((self.bitmap[k >> np.uint64(3)] >> (k & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)

    def lookup(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, entry index) of every query hash that is in the index; a hash shared by
        several entries (one n-gram in two items) yields one pair per entry."""
        if not len(self.hashes) or not len(queries):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        candidates = np.nonzero(self.maybe(queries))[0]  # a binary search costs ~20 cache misses: filter first
        pos = np.searchsorted(self.hashes, queries[candidates])
        hit = self.hashes[np.minimum(pos, len(self.hashes) - 1)] == queries[candidates]
        found, left = candidates[hit], pos[hit]
        count = np.searchsorted(self.hashes, queries[found], "right") - left
        q = np.repeat(found, count)
        entry = np.repeat(left - np.cumsum(count) + count, count) + np.arange(count.sum())
        return q, entry


def build_index(references: dict[str, tuple[pa.Array, np.ndarray, int]], ngram: int, min_words: int) -> NgramIndex:
    """``references``: name -> (texts, item index per text, number of items). A text of at
    least ``ngram`` words gives every ``ngram``-window; a shorter one of at least ``min_words``
    words gives one window, itself (found only where all of it appears); shorter ones nothing."""
    hashes, refs, items, lengths = [], [], [], {ngram}
    for r, (texts, item_of_text, _) in enumerate(references.values()):
        w = words(texts)
        counts = w.counts
        short = sorted({int(c) for c in counts if min_words <= c < ngram})
        h, start, m = windows(w, [ngram] + short)
        text = np.searchsorted(w.offsets, start, "right") - 1
        whole = start == w.offsets[text]
        keep = (m == ngram) | (whole & (m == counts[text]))  # short texts: the whole text only
        keep &= counts[text] >= min_words
        hashes.append(h[keep])
        items.append(np.asarray(item_of_text, np.int32)[text[keep]])
        refs.append(np.full(int(keep.sum()), r, np.int16))
        lengths |= set(short)
    h, ref, item = np.concatenate(hashes), np.concatenate(refs), np.concatenate(items)
    order = np.lexsort((item, ref, h))
    h, ref, item = h[order], ref[order], item[order]
    first = np.ones(len(h), bool)
    first[1:] = (h[1:] != h[:-1]) | (ref[1:] != ref[:-1]) | (item[1:] != item[:-1])
    h, ref, item = h[first], ref[first], item[first]
    bits = np.zeros(1 << _bitmap_bits(len(h)), bool)
    bits[h >> np.uint64(64 - _bitmap_bits(len(h)))] = True
    return NgramIndex(tuple(references), tuple(n for _, _, n in references.values()), tuple(sorted(lengths)),
                      h, ref, item, np.packbits(bits, bitorder="little"))


def _bitmap_bits(entries: int) -> int:
    """~32 bits per entry (a ~3% false-positive rate), at least 2^16 and at most 2^32 bits (512 MB)."""
    return int(np.clip(np.ceil(np.log2(max(entries, 1) * 32)), 16, 32))


def word_spans(text: str) -> np.ndarray:
    """(W, 2) character [start, end) in ``text`` of the run each of its words came from (the same
    words as ``words``; a run that NFKC splits gives its span to each of its words)."""
    if not text:
        return np.zeros((0, 2), np.int64)
    chars = pa.array(list(text), pa.string())
    is_word = pc.match_substring_regex(chars, f"^[{_WORD}]$").to_numpy(zero_copy_only=False)
    edge = np.diff(np.concatenate([[False], is_word, [False]]).astype(np.int8))
    starts, ends = np.nonzero(edge == 1)[0], np.nonzero(edge == -1)[0]
    w = words(pa.array([text]))
    per_run = np.bincount(w.runs, minlength=len(starts))
    return np.repeat(np.stack([starts, ends], 1), per_run, axis=0)
