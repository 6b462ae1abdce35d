"""Word counts on UTF-8 bytes equal ``len(str.split())`` for every whitespace character."""

import random

import numpy as np
import pyarrow as pa
import pytest

from datamill.whitespace import split_whitespace, word_counts

SPACES = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and chr(c).isspace()]
# non-space characters that share a lead byte (or a first two bytes) with a multi-byte space
NEAR_MISSES = ["\u0084", "\u00a1", "\u1681", "\u200b", "\u2027", "\u2030", "\u205e", "\u3001", "\x08", "\x0e", "\x1b"]


def _rows(n=5000, seed=0):
    rng = random.Random(seed)
    alphabet = list("abé日\u0301") + NEAR_MISSES + SPACES
    rows = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25))) for _ in range(n)]
    return rows + ["", None, " ", " a ", "a", "\u2000", "a\u00a0", "\u3000b", "x\x85y"]


def _expected(rows):
    return np.array([len(r.split()) if r else 0 for r in rows])


def test_there_are_29_whitespace_characters_and_each_separates_words():
    assert len(SPACES) == 29
    rows = [f"a{s}b" for s in SPACES] + [f"a{s}b" for s in NEAR_MISSES]
    assert word_counts(pa.array(rows)).to_pylist() == [2] * 29 + [1] * len(NEAR_MISSES)


@pytest.mark.parametrize("kind", ["plain", "sliced", "large", "chunked"])
def test_word_counts_equal_python_split(kind):
    rows = _rows()
    arr, expected = pa.array(rows), _expected(rows)
    if kind == "sliced":
        arr, expected = arr.slice(7, 3000), expected[7:3007]
    elif kind == "large":
        arr = arr.cast(pa.large_string())
    elif kind == "chunked":
        arr = pa.chunked_array([arr.slice(0, 11), arr.slice(11, 0), arr.slice(11)])
    got = word_counts(arr)
    assert got.type == pa.int64()
    np.testing.assert_array_equal(got.to_numpy(), expected)


def test_word_counts_agree_with_the_split_and_ignore_bytes_outside_the_rows():
    rows = _rows(seed=1)
    arr = pa.array(rows)
    _, parent = split_whitespace(arr)
    np.testing.assert_array_equal(word_counts(arr).to_numpy(), np.bincount(parent, minlength=len(rows)))
    # a row that ends in whitespace, followed in the buffer by a non-space byte of another row
    tail = pa.array(["word  ", "Xyz"]).slice(0, 1)
    assert word_counts(tail).to_pylist() == [1]


def test_empty_inputs():
    assert word_counts(pa.array([], pa.string())).to_pylist() == []
    assert word_counts(pa.chunked_array([], pa.string())).to_pylist() == []
    assert word_counts(pa.array([None, None], pa.string())).to_pylist() == [0, 0]
    with pytest.raises(TypeError, match="string"):
        word_counts(pa.array([1, 2]))
