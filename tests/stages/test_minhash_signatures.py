import re
import unicodedata
from itertools import combinations

import numpy as np
import pytest

from datamill.stages.minhash import signature_kernel as kernel
from datamill.stages.minhash import signatures as mh
from tests.stages import shard_corpora
from tests.stages.shard_corpora import window_pairs

TEXTS = [
    "Hello, World! The quick brown fox jumps over the lazy dog 123 times.",
    "",
    "one two",
    "  Ünïcödé   text\twith\u00a0spaces and more words here, ok  ",
    "hello world the quick brown fox jumps over the lazy dog 0 times",
    "a,b 1,000 — “x”  ",
    "   ",
]

TRICKY = ["Ça coûte 1 234,50 € — «voilà»!", "x\u00a0y\u2003z\u3000w", "٣٤٥ and 12３", "emoji 🙂 ok…",
          "tab\tand\r\nnew  lines ", "e\u0301 combining", "10.000,1", "0x1F!?", "", "Ärger über 3,5 Mio.",
          "x\u2028y ½ ① bell\x07 nel\x85x", "한국어 텍스트 ά Ὅμηρος"]


def _clough(shared_data):
    return [p.read_text(encoding="latin-1") for p in sorted((shared_data / "neardup-clough").glob("*.txt"))]


def _jaccard(x, y):
    x, y = set(x), set(y)
    return len(x & y) / len(x | y) if x | y else 1.0


def test_normalize_lowercases_spaces_punctuation_collapses_numbers_and_space():
    out = mh.normalize(TEXTS).to_pylist()
    assert out[0] == "hello world the quick brown fox jumps over the lazy dog 0 times"
    assert out[3] == "unicode text with spaces and more words here ok"
    assert out[5] == "a b 0 x"
    assert out[1] == out[6] == ""
    assert mh.normalize(["1.5 1.2.3.4 a.b 3. 12,5,6"]).to_pylist() == ["0 0 0 a b 0 0 0"]
    assert mh.normalize(["a,b 1,000 é"], punctuation="drop", diacritics=False).to_pylist() == ["ab 0 é"]
    raw = mh.normalize(TEXTS, lowercase=False, punctuation=False, digits=False, whitespace=False,
                       diacritics=False)
    assert raw.to_pylist()[0] == TEXTS[0] and raw.to_pylist()[5] == TEXTS[5]
    with pytest.raises(ValueError, match="punctuation"):
        mh.normalize(TEXTS, punctuation="strip")


def _simplify_text(text: str) -> str:
    """datatrove 0.10's ``simplify_text`` (its default ``TextNormConfig``, FineWeb's setting),
    written out in plain Python, with Unicode P*, S* and Cc as its punctuation set."""
    text = re.sub(r"\d+([.,،٫⎖⎗⎘]\d+)?", "0", text.lower())
    text = "".join(" " if unicodedata.category(c)[0] in "PS" or unicodedata.category(c) == "Cc" else c
                   for c in text)
    text = re.sub(r"\s+", " ", text.strip())
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").strip()


def test_normalize_is_datatrove_simplify_text_on_real_text(shared_data):
    stories = shard_corpora.stories(shared_data).column("text").to_pylist()[:40]
    texts = stories + _clough(shared_data) + TRICKY
    ours = mh.normalize(texts).to_pylist()
    ref = [_simplify_text(t) for t in texts]
    assert sum(a != b for a, b in zip(ours, ref)) == 0, next((a, b) for a, b in zip(ours, ref) if a != b)
    old = mh.normalize(texts, punctuation="drop").to_pylist()
    assert sum(a != b for a, b in zip(old, ref)) > len(texts) // 2  # the comparison can tell them apart


def test_shingles_words_chars_and_short_documents():
    words = mh.shingles(["a b c d e f", "a b", ""], ngram=5)
    assert words == [[b"a b c d e", b"b c d e f"], [b"a b"], []]
    chars = mh.shingles(["ab cd"], ngram=3, shingle="char")
    assert chars == [[b"ab ", b"b c", b" cd"]]
    assert mh.shingles(["éßx"], ngram=2, shingle="char") == [["eß".encode(), "ßx".encode()]]
    assert mh.shingles(["é€x"], ngram=2, shingle="char") == [[b"e ", b" x"]]  # € is a symbol
    assert mh.shingles(["é€x"], ngram=2, shingle="char", punctuation="drop", diacritics=False) == [["éx".encode()]]


@pytest.mark.parametrize("shingle,ngram", [("word", 5), ("char", 4)])
def test_datasketch_mode_reproduces_datasketch_bit_for_bit(shared_data, shingle, ngram):
    from datasketch import MinHash

    texts = TEXTS + _clough(shared_data)[:12]
    sigs = mh.signatures(texts, num_perm=64, ngram=ngram, shingle=shingle, seed=7, hash="datasketch")
    for text_shingles, sig in zip(mh.shingles(texts, ngram=ngram, shingle=shingle), sigs):
        ref = MinHash(num_perm=64, seed=7)
        ref.update_batch(text_shingles)
        assert ref.hashvalues.dtype == sig.dtype
        np.testing.assert_array_equal(ref.hashvalues, sig)


def test_estimates_match_exact_jaccard_on_real_text(shared_data):
    a, b = window_pairs(shared_data)
    clough = _clough(shared_data)
    csh = mh.shingles(clough)
    pairs = [(i, j) for i, j in combinations(range(len(clough)), 2) if _jaccard(csh[i], csh[j]) >= 0.1]
    a += [clough[i] for i, _ in pairs]
    b += [clough[j] for _, j in pairs]
    exact = np.array([_jaccard(x, y) for x, y in zip(mh.shingles(a), mh.shingles(b))])
    assert exact.min() < 0.2 and exact.max() > 0.8  # the pairs cover the whole range
    errors = {}
    for hash in mh.HASHES:
        est = (mh.signatures(a, hash=hash) == mh.signatures(b, hash=hash)).mean(axis=1)
        errors[hash] = np.abs(est - exact).mean()
        assert abs((est - exact).mean()) < 0.01, f"{hash}: biased estimate"
    assert errors["fast"] <= 0.03, errors
    assert errors["fast"] <= errors["datasketch"] + 0.005, errors


def test_signatures_are_content_defined_not_batch_defined(shared_data):
    texts = TEXTS + _clough(shared_data)
    whole = mh.signatures(texts)
    parts = np.concatenate([mh.signatures(texts[i:i + 7]) for i in range(0, len(texts), 7)])
    np.testing.assert_array_equal(whole, parts)
    np.testing.assert_array_equal(mh.signatures(texts[::-1]), whole[::-1])
    assert not np.array_equal(mh.signatures(texts, seed=2), whole)
    assert (whole[1] == mh.MAX32).all() and (whole[6] == mh.MAX32).all()  # no shingles


# Tokens of 1-8 bytes are one chunk, 9-16 two (exactly 8 and 16 are the edges), longer ones more.
EDGES = ["", " \t ", "a", "a b c d", "abcdefgh", "abcdefgi", "abcdefghijklmnop", "abcdefghijklmnoq",
         "abcdefghijklmnopq x y z w", "ßßßß éééééééé x", "x" * 40, "word word word " + "y" * 24]


def _numpy_signatures(texts, *, num_perm, seed, **opts):
    values, offsets = mh.shingle_hashes(texts, **opts)
    return mh.permute_min(values, offsets, *mh.permutations(num_perm, seed))


@pytest.mark.parametrize("shingle,ngram,num_perm", [("word", 5, 128), ("word", 1, 64), ("word", 3, 300),
                                                    ("char", 4, 64)])
def test_compiled_kernel_is_bit_identical_to_the_numpy_path(shared_data, shingle, ngram, num_perm):
    stories = shard_corpora.stories(shared_data).column("text").to_pylist()[:12]
    texts = stories + TEXTS + TRICKY + EDGES
    opts = {"ngram": ngram, "shingle": shingle}
    got = mh.signatures(texts, num_perm=num_perm, seed=3, **opts)
    np.testing.assert_array_equal(got, _numpy_signatures(texts, num_perm=num_perm, seed=3, **opts))
    values, offsets = mh.shingle_hashes(stories, **opts)
    assert np.diff(offsets).max() > kernel._BLOCK  # a story spans several shingle blocks
    edges = got[-len(EDGES):]
    assert (edges[:2] == mh.MAX32).all() and len({row.tobytes() for row in edges[2:]}) == len(EDGES) - 2


def test_permute_min_blocks_and_permutation_chunks_match_direct_min(monkeypatch):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**32, 1000, dtype=np.uint64).astype(np.uint32)
    offsets = np.array([0, 0, 3, 400, 401, 1000])
    a, b = mh.permutations(1500, seed=3)
    monkeypatch.setattr(mh, "_BLOCK", 4096)  # many shingle blocks and permutation chunks
    out = mh.permute_min(values, offsets, a, b)
    assert (out[0] == mh.MAX32).all()
    for d in range(1, 5):
        v = values[offsets[d]:offsets[d + 1], None]
        np.testing.assert_array_equal(out[d], (v * a + b).min(axis=0))


def test_permutations_are_datasketchs_affine32():
    from datasketch import MinHash

    a, b = mh.permutations(32, seed=5)
    ref = MinHash(num_perm=32, seed=5)
    np.testing.assert_array_equal(ref.permutations[0], a)
    np.testing.assert_array_equal(ref.permutations[1], b)


def test_lean_minhash_conversion_keeps_values_and_similarity():
    sigs = mh.signatures([TEXTS[0], TEXTS[4], TEXTS[3]], num_perm=64)
    lean = mh.to_lean_minhashes(sigs)
    np.testing.assert_array_equal(lean[0].hashvalues, sigs[0])
    assert lean[0].jaccard(lean[1]) == 1.0
    assert lean[0].jaccard(lean[2]) == pytest.approx((sigs[0] == sigs[2]).mean())


def test_bad_options_name_the_option():
    with pytest.raises(ValueError, match="shingle"):
        mh.signatures(["x"], shingle="line")
    with pytest.raises(ValueError, match="hash"):
        mh.signatures(["x"], hash="md5")


def test_normalize_is_per_document_whatever_the_batch():
    # A Hangul syllable's stripped form is longer than it; "΅" (Sk) decomposes to "¨" + a mark.
    texts = ["a\u0385a 1,5", "한국어 텍스트", "e\u0301 ٣ ǅ"] + TRICKY
    for opts in ({}, {"punctuation": "keep"}, {"punctuation": "drop", "diacritics": False}):
        whole = mh.normalize(texts, **opts).to_pylist()
        assert whole == [mh.normalize([t], **opts).to_pylist()[0] for t in texts], opts
    assert (mh.signatures(["", " \t"], shingle="char") == mh.MAX32).all()  # a batch with no word byte


def _reference_drop(text: str) -> str:
    """Character-by-character statement of ``normalize(punctuation="drop", diacritics=False)``."""
    out = []
    for ch in text.lower():
        cat = unicodedata.category(ch)
        if cat[0] == "Z" or ch in "\t\n\v\f\r\x85":
            if out and out[-1] != " ":
                out.append(" ")
            continue
        if cat[0] in "PS" or cat == "Cc":
            continue
        if cat == "Nd":
            if not (out and out[-1] == "0"):
                out.append("0")
            continue
        out.append(ch)
    return "".join(out).strip(" ")


def test_normalize_drop_mode_matches_a_per_character_reference(shared_data):
    texts = TRICKY + _clough(shared_data)
    got = mh.normalize(texts, punctuation="drop", diacritics=False).to_pylist()
    for text, out in zip(texts, got):
        assert out == _reference_drop(text), text[:80]


def test_torch_permutations_are_bit_identical_to_numpy(shared_data):
    torch = pytest.importorskip("torch")
    from datamill.stages.minhash.signatures_torch import permute_min_torch

    texts = TEXTS + _clough(shared_data)
    values, offsets = mh.shingle_hashes(texts)
    a, b = mh.permutations(96, seed=4)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        got = permute_min_torch(values, offsets, a, b, device=device, block=5000)  # several blocks
        np.testing.assert_array_equal(got, mh.permute_min(values, offsets, a, b))


@pytest.mark.gpu
def test_signatures_on_gpu_equal_cpu(shared_data):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    texts = _clough(shared_data)
    np.testing.assert_array_equal(mh.signatures(texts, device="cuda"), mh.signatures(texts))


def test_candidate_pairs_of_planted_copies_estimate_exact_jaccard(shared_data):
    """Planted near-copies of real prose (SQuALITY windows, 1-8% of words substituted, as
    benchmarks/make_debian_corpus.py plants them): the pairs that share a band at 14 x 8 have
    unbiased Jaccard estimates, and the share of pairs found is the S-curve's prediction from
    their exact Jaccard (a correlated or biased hash family moves it off the curve)."""
    words = " ".join(shard_corpora.stories(shared_data).column("text").to_pylist()).split(" ")
    vocab = sorted({w for w in words[:200_000] if w.isalpha()})
    rng = np.random.default_rng(0)
    a, b = [], []
    for _ in range(600):
        s = int(rng.integers(0, len(words) - 400))
        doc = words[s:s + 350]
        copy = list(doc)
        for i in rng.choice(len(doc), size=int(len(doc) * rng.uniform(0.01, 0.08)), replace=False):
            copy[i] = vocab[rng.integers(len(vocab))]
        a.append(" ".join(doc))
        b.append(" ".join(copy))
    exact = np.array([_jaccard(x, y) for x, y in zip(mh.shingles(a), mh.shingles(b))])
    assert exact.min() < 0.55 and exact.max() > 0.9
    equal = mh.signatures(a, num_perm=112) == mh.signatures(b, num_perm=112)
    found = equal.reshape(len(a), 14, 8).all(axis=2).any(axis=1)
    predicted = (1 - (1 - exact**8) ** 14).mean()
    assert abs(found.mean() - predicted) < 0.05, (found.mean(), predicted)
    error = equal.mean(axis=1)[found] - exact[found]
    assert abs(error.mean()) < 0.015 and np.abs(error).mean() < 0.045, (error.mean(), np.abs(error).mean())
