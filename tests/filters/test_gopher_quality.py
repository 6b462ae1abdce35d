import pytest

from datamill.filters.gopher_quality import GopherQualityFilter
from tests.conftest import configured
from tests.filters.texts import GOOD, annotated, filler, reason_of

WORDS = GOOD.split()  # 109 words of prose


def test_good_prose_is_kept():
    assert reason_of(GopherQualityFilter(), GOOD) is None


def test_word_count_bounds():
    stage = GopherQualityFilter()
    assert reason_of(stage, " ".join(WORDS[:49])) == "gopher_word_count"
    assert reason_of(stage, " ".join(WORDS[:50])) is None
    assert reason_of(GopherQualityFilter(max_words=100), GOOD) == "gopher_word_count"
    # punctuation-only tokens are not words
    assert annotated(stage, "the cat , sat ; on -- the mat ...")["gopher_num_words"] == 6


def test_mean_word_length_bounds():
    short = " ".join(["to", "be", "or", "of", "an", "ox", "in", "my", "go", "up"] * 6)
    assert reason_of(GopherQualityFilter(), short) == "gopher_mean_word_length"
    long = "the and " + " ".join("extraordinarily" for _ in range(60))
    assert reason_of(GopherQualityFilter(), long) == "gopher_mean_word_length"
    assert reason_of(GopherQualityFilter(min_mean_word_length=2.0), short) is None


def test_hash_and_ellipsis_symbol_ratios():
    # 109 words + 15 one-letter hashtags: 15 '#' over 124 words = 0.121 > 0.1
    hashtags = GOOD + " " + " ".join(["#a"] * 15)
    assert reason_of(GopherQualityFilter(), hashtags) == "gopher_hash_ratio"
    assert reason_of(GopherQualityFilter(), GOOD + " " + " ".join(["#a"] * 11)) is None  # 11/120
    ellipses = GOOD + " " + " ".join(["so…"] * 15)
    assert reason_of(GopherQualityFilter(), ellipses) == "gopher_ellipsis_ratio"
    dots = GOOD + " " + " ".join(["so..."] * 15)
    assert reason_of(GopherQualityFilter(), dots) == "gopher_ellipsis_ratio"


def test_bullet_lines():
    item = "- fresh apples from the orchard with the farmers and their families"
    nine_of_ten = "\n".join([item] * 9 + ["The market opened early on that sunny day."])
    assert reason_of(GopherQualityFilter(), "\n".join([item] * 10)) == "gopher_bullet_lines"
    assert reason_of(GopherQualityFilter(), nine_of_ten) is None  # 0.9 is not > 0.9
    bullets = "\n".join("• " + line for line in [item[2:]] * 10)
    assert reason_of(GopherQualityFilter(), bullets) == "gopher_bullet_lines"


def test_ellipsis_lines():
    lines = GOOD.split("\n") + ["and then the story goes on...", "and so on and so forth..."]
    assert reason_of(GopherQualityFilter(), "\n".join(lines)) == "gopher_ellipsis_lines"  # 2/5
    lines = GOOD.split("\n") + ["and then the story goes on..."]
    assert reason_of(GopherQualityFilter(), "\n".join(lines)) is None  # 1/4 <= 0.3


def test_alphabetic_words():
    numbers = GOOD + " " + " ".join(str(1000 + i) for i in range(40))  # 109 / 149 = 0.73
    assert reason_of(GopherQualityFilter(), numbers) == "gopher_alpha_words"
    numbers = GOOD + " " + " ".join(str(1000 + i) for i in range(25))  # 109 / 134 = 0.81
    assert reason_of(GopherQualityFilter(), numbers) is None


def test_stop_words():
    no_stop = " ".join(filler(60))
    assert reason_of(GopherQualityFilter(), no_stop) == "gopher_stop_words"
    assert reason_of(GopherQualityFilter(), "The " + no_stop) == "gopher_stop_words"  # 1 < 2
    assert reason_of(GopherQualityFilter(), "The " + no_stop + " with") is None


def test_disable_switches_a_rule_off():
    short = " ".join(WORDS[:20])
    assert reason_of(GopherQualityFilter(disable=("gopher_word_count",)), short) is None
    assert reason_of(GopherQualityFilter(disable=["gopher_word_count"]), short) is None


def test_bad_config_names_the_rule():
    with pytest.raises(ValueError, match="gopher_quality.*gopher_typo"):
        GopherQualityFilter(disable=("gopher_typo",))
    with pytest.raises(ValueError, match="mode"):
        configured(GopherQualityFilter, mode="keep")
