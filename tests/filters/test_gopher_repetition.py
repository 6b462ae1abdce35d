import random
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from datamill.filters.gopher_repetition import (DUP_NS, TOP_NS, GopherRepetitionFilter,
                                                datatrove_ngram_fractions)
from tests.filters.texts import GOOD, GOOD_LINES, annotated, filler, reason_of

L1, L2, L3 = GOOD_LINES


def units(phrase: str, n_units: int, fillers_per_unit: int) -> str:
    words = filler(n_units * fillers_per_unit)
    return " ".join(phrase + " " + " ".join(words[i * fillers_per_unit:(i + 1) * fillers_per_unit])
                    for i in range(n_units))


def test_good_prose_is_kept():
    assert reason_of(GopherRepetitionFilter(), GOOD) is None


def test_duplicate_paragraphs():
    paras = "\n\n".join([L1, L2, L3] + ["Subscribe to our newsletter."] * 3)  # 2 of 6 repeat
    assert reason_of(GopherRepetitionFilter(), paras) == "gopher_dup_para_frac"
    assert annotated(GopherRepetitionFilter(), paras)["gopher_dup_para_frac"] == pytest.approx(2 / 6)
    paras = "\n\n".join([L1, L2, L3, L1])  # 1 of 4 repeats, but a quarter of the characters
    assert reason_of(GopherRepetitionFilter(), paras) == "gopher_dup_para_char_frac"


def test_duplicate_lines():
    lines = "\n".join([L1, L2, L3] + ["Read more."] * 3)
    assert reason_of(GopherRepetitionFilter(), lines) == "gopher_dup_line_frac"
    lines = "\n".join([L1, L2, L3] + ["Read more."] * 2)  # 1 of 5 repeats
    assert reason_of(GopherRepetitionFilter(), lines) is None
    lines = "\n".join([L1, L2, L3, L1])
    assert reason_of(GopherRepetitionFilter(), lines) == "gopher_dup_line_char_frac"


DOLMA = {"ngrams": "dolma"}  # datamill v1's n-gram definitions (Dolma / RedPajama-v2)


def test_top_ngrams():
    # ngrams: dolma. "apple pie" (8 word chars) in each 16-char unit: 0.5 of the characters
    text = units("apple pie", 20, 1)
    assert annotated(GopherRepetitionFilter(**DOLMA), text)["gopher_top_2gram_char_frac"] == pytest.approx(0.5)
    assert reason_of(GopherRepetitionFilter(**DOLMA), text) == "gopher_top_2gram_char_frac"
    # units of 14 + 5 * 8 = 54 chars: top 2-gram 9/54 = 0.167 <= 0.2, top 3-gram 14/54 = 0.26
    text = units("alpha beta gamma", 20, 5)
    values = annotated(GopherRepetitionFilter(**DOLMA), text)
    assert values["gopher_top_2gram_char_frac"] == pytest.approx(9 / 54)
    assert values["gopher_top_3gram_char_frac"] == pytest.approx(14 / 54)
    assert reason_of(GopherRepetitionFilter(**DOLMA), text) == "gopher_top_3gram_char_frac"
    assert reason_of(GopherRepetitionFilter(**DOLMA, max_top_3gram_char_frac=0.26), text) is None
    # units of 19 + 8 * 8 = 83 chars: 2-gram 0.12, 3-gram 0.169, 4-gram 0.229
    text = units("alpha beta gamma delta", 20, 8)
    assert reason_of(GopherRepetitionFilter(**DOLMA), text) == "gopher_top_4gram_char_frac"


def test_top_ngram_needs_a_repeat():
    # a short text of distinct words has no repeated n-gram, whatever its length
    assert annotated(GopherRepetitionFilter(**DOLMA), "alpha beta gamma")["gopher_top_2gram_char_frac"] == 0


@pytest.mark.parametrize("n", [5, 6, 7, 8, 9, 10])
def test_duplicate_ngrams(n):
    phrase = " ".join(filler(n, start=5000))  # n distinct words, 8 chars each
    body = filler(80)
    text = " ".join(body[:40] + [phrase] + body[40:] + [phrase])
    values = annotated(GopherRepetitionFilter(**DOLMA), text)
    # both occurrences are covered: 2n words of 80 + 2n, all 8 chars long
    for k in range(5, 11):
        expected = 2 * n / (80 + 2 * n) if k <= n else 0.0
        assert values[f"gopher_dup_{k}gram_char_frac"] == pytest.approx(expected)
    earlier = tuple(f"gopher_dup_{k}gram_char_frac" for k in range(5, n))
    stage = GopherRepetitionFilter(**DOLMA, disable=earlier, **{f"max_dup_{n}gram_char_frac": 0.05})
    assert reason_of(stage, text) == f"gopher_dup_{n}gram_char_frac"
    assert reason_of(GopherRepetitionFilter(**DOLMA, **{f"max_dup_{k}gram_char_frac": 0.5 for k in range(5, 11)}),
                     text) is None


def test_repeated_sentence_is_caught_by_5grams():
    text = L1 + " " + L2 + " " + L1
    assert reason_of(GopherRepetitionFilter(), text) == "gopher_dup_5gram_char_frac"


def test_overlapping_ngrams_count_words_once():
    # "a b c d e f" twice: 5-grams "a..e" and "b..f" both repeat; 12 words covered, not 20
    words = filler(6, start=100)
    text = " ".join(words + filler(12, start=200) + words)
    values = annotated(GopherRepetitionFilter(**DOLMA), text)
    assert values["gopher_dup_5gram_char_frac"] == pytest.approx(12 / 24)


def test_datatrove_ngram_measures():
    """The default: datatrove's definitions, over the text's characters (checked against
    datatrove 0.10.1 on these texts)."""
    # the most frequent n-gram counts even once: "alpha beta" is 10 of 16 characters
    assert annotated(GopherRepetitionFilter(), "alpha beta gamma")["gopher_top_2gram_char_frac"] \
        == pytest.approx(10 / 16)
    # a repeated 7-word phrase: the greedy scan finds its second occurrence once per k-gram
    # block, floor(7 / k) * k words of 8 characters, joined without spaces
    phrase = " ".join(filler(7, start=5000))
    body = filler(80)
    text = " ".join(body[:40] + [phrase] + body[40:] + [phrase])
    values = annotated(GopherRepetitionFilter(), text)
    for k in range(5, 11):
        assert values[f"gopher_dup_{k}gram_char_frac"] == pytest.approx((7 // k) * k * 8 / len(text))
    # overlapping repeats: the scan jumps past the first repeated 5-gram (40 characters)
    words = filler(6, start=100)
    text = " ".join(words + filler(12, start=200) + words)
    assert annotated(GopherRepetitionFilter(), text)["gopher_dup_5gram_char_frac"] == \
        pytest.approx(40 / len(text))


def test_rows_do_not_share_ngrams():
    import pyarrow as pa

    phrase = " ".join(filler(10, start=900))
    docs = [phrase + " " + " ".join(filler(30, start=i * 100)) for i in range(1, 4)]
    stage = GopherRepetitionFilter()
    out = stage.annotate(pa.table({"text": docs}))
    assert out.column("gopher_dup_5gram_char_frac").to_pylist() == [0.0, 0.0, 0.0]


def datatrove_top(words: list[str], n: int) -> int:
    """datatrove 0.10's find_top_duplicate over get_n_grams, transcribed: the oracle."""
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def datatrove_dup(words: list[str], n: int) -> int:
    """datatrove 0.10's find_all_duplicate, transcribed: the oracle."""
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx:idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def test_vectorised_ngrams_match_datatrove_scan():
    """The vectorised measures equal datatrove's per-document loops on many small-vocabulary
    documents (frequent repeats, overlapping ones, jumps over first occurrences, ties), batched
    together. Words of one length: datatrove compares n-grams joined without spaces, datamill
    compares word sequences; they differ only when equal characters split into other words."""
    rng = random.Random(7)
    vocab = ["aa", "bb", "cc", "dd", "ee", "ff"]
    docs = [[rng.choice(vocab[:rng.randint(1, 6)]) for _ in range(rng.randint(0, 70))]
            for _ in range(400)]
    words = pa.array([w for doc in docs for w in doc], pa.string())
    parent = np.repeat(np.arange(len(docs)), [len(doc) for doc in docs])
    size = np.array([1000] * len(docs))
    got = datatrove_ngram_fractions(words, parent, size)
    for n in TOP_NS:
        want = [datatrove_top(doc, n) / 1000 for doc in docs]
        assert got[f"gopher_top_{n}gram_char_frac"] == pytest.approx(want), n
    for n in DUP_NS:
        want = [datatrove_dup(doc, n) / 1000 for doc in docs]
        assert got[f"gopher_dup_{n}gram_char_frac"] == pytest.approx(want), n
    assert sum(datatrove_dup(doc, 5) for doc in docs) > 0  # the scan's jumps were exercised
