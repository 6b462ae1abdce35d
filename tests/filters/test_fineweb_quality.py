import pyarrow as pa
import pytest

from datamill.filters.fineweb_quality import FineWebQualityFilter
from datamill.typed_config import ConfigError
from tests.conftest import configured
from tests.filters.texts import GOOD, GOOD_LINES, annotated, reason_of

NAV = ["Home", "Products", "About us", "Contact", "Careers", "Blog", "Press", "Help"]


def test_good_prose_is_kept():
    assert reason_of(FineWebQualityFilter(), GOOD) is None


def test_line_punctuation_ratio():
    # 1 of 9 lines ends in punctuation: 0.11 <= 0.12
    text = "\n".join([GOOD_LINES[0]] + [n + " and more things to see here today" for n in NAV])
    assert annotated(FineWebQualityFilter(), text)["fineweb_line_punct_ratio"] == pytest.approx(1 / 9)
    assert reason_of(FineWebQualityFilter(), text) == "fineweb_line_punct_ratio"
    assert reason_of(FineWebQualityFilter(line_punct_thr=0.1), text) is None
    no_punct = "\n".join(n + " and more things to see here today" for n in NAV)
    assert reason_of(FineWebQualityFilter(line_punct_exclude_zero=True), no_punct) is None


def test_short_line_ratio():
    lines = [line + "." for line in NAV[:6]] + GOOD_LINES  # 6 of 9 short: 0.667 < 0.67
    assert reason_of(FineWebQualityFilter(disable=["fineweb_list_ratio"]), "\n".join(lines)) is None
    lines = [line + "." for line in NAV[:7]] + GOOD_LINES  # 7 of 10
    assert reason_of(FineWebQualityFilter(), "\n".join(lines)) == "fineweb_short_line_ratio"


def test_char_duplicates_ratio():
    text = "\n".join(GOOD_LINES + ["Read more here.", "Read more here."])
    assert reason_of(FineWebQualityFilter(), text) == "fineweb_char_dup_ratio"
    values = annotated(FineWebQualityFilter(), text)
    assert values["fineweb_char_dup_ratio"] == pytest.approx(15 / (len(text) - text.count("\n")))


def test_list_ratio():
    # 5 lines: 4 newlines over 35 tokens ('.' counts as a token, as in NLTK)
    lines = [f"Item {w} is good for you." for w in ["bread", "cheese", "wine", "fruit", "milk"]]
    values = annotated(FineWebQualityFilter(), "\n".join(lines))
    assert values["fineweb_list_ratio"] == pytest.approx(4 / 35)
    listy = "\n".join(f"{w}." for w in NAV)  # 7 newlines over 17 tokens
    stage = FineWebQualityFilter(disable=["fineweb_short_line_ratio"])
    assert reason_of(stage, listy) == "fineweb_list_ratio"
    assert reason_of(FineWebQualityFilter(new_line_ratio=0.5, disable=["fineweb_short_line_ratio"]),
                     listy) is None


def test_datatrove_lines_and_v1_options():
    """datatrove's lines are untrimmed ("you. " does not end in punctuation) and its list ratio
    counts every newline, blank lines' too; trim_lines: true and words: regex restore v1."""
    lines = [f"Item {w} is good for you." for w in ["bread", "cheese", "wine", "fruit", "milk"]]
    text = "\n\n".join(lines)  # 8 newlines, 5 lines, 35 tokens
    assert annotated(FineWebQualityFilter(), text)["fineweb_list_ratio"] == pytest.approx(8 / 35)
    v1 = FineWebQualityFilter(trim_lines=True)
    assert annotated(v1, text)["fineweb_list_ratio"] == pytest.approx(4 / 35)
    spaced = "\n".join(line + " " for line in lines)
    assert annotated(FineWebQualityFilter(), spaced)["fineweb_line_punct_ratio"] == 0
    assert annotated(v1, spaced)["fineweb_line_punct_ratio"] == 1
    # spaCy: do n't / ca n't (6 tokens); v1's regex: don ' t / can ' t (8)
    contractions = "don't stop\ncan't stop"
    assert annotated(FineWebQualityFilter(), contractions)["fineweb_list_ratio"] == pytest.approx(1 / 6)
    regex = FineWebQualityFilter(words="regex")
    assert annotated(regex, contractions)["fineweb_list_ratio"] == pytest.approx(1 / 8)


def test_language_profile_thresholds():
    # 1 of 9 lines punctuated (0.11): FineWeb drops (< 0.12); FineWeb-2's German limit is 0.0
    text = "\n".join([GOOD_LINES[0]] + [n + " und noch mehr Dinge, die es zu sehen gibt" for n in NAV])
    assert reason_of(FineWebQualityFilter(), text) == "fineweb_line_punct_ratio"
    assert reason_of(FineWebQualityFilter(language="de"), text) is None
    assert reason_of(FineWebQualityFilter(language="de", language_thresholds=False),
                     text) == "fineweb_line_punct_ratio"
    # 5 lines, 4 newlines over 20 tokens (0.2): under FineWeb's 0.3, over FineWeb-2's German 0.152
    listy = "\n".join(f"{w} ist gut." for w in ["Brot", "Obst", "Wasser", "Gemüse", "Essen"])
    short_ok = ["fineweb_short_line_ratio"]
    assert annotated(FineWebQualityFilter(), listy)["fineweb_list_ratio"] == pytest.approx(4 / 20)
    assert reason_of(FineWebQualityFilter(disable=short_ok), listy) is None
    assert reason_of(FineWebQualityFilter(language="de", disable=short_ok), listy) == "fineweb_list_ratio"

def test_auto_uses_each_rows_language():
    text = "\n".join([GOOD_LINES[0]] + [n + " and more things to see here today" for n in NAV])
    table = pa.table({"text": [text] * 4, "language": ["en", "de", None, "ja"]})  # None, ja: en
    stage = FineWebQualityFilter(language="auto")
    assert stage.reasons(stage.annotate(table)).to_pylist() == [
        "fineweb_line_punct_ratio", None, "fineweb_line_punct_ratio", "fineweb_line_punct_ratio"]
    assert stage.needed_columns() == ("text", "language")
    with pytest.raises(KeyError, match="fineweb_quality.*language"):
        stage.reasons(stage.annotate(pa.table({"text": [text]})))


def test_language_config_errors():
    with pytest.raises(ConfigError, match="fineweb_quality.*'ja'.*without spaces"):
        configured(FineWebQualityFilter, language="ja")
    with pytest.raises(ConfigError, match="no built-in profile for language 'sw'; built-in: auto, en, af"):
        configured(FineWebQualityFilter, language="sw")
    with pytest.raises(ConfigError, match="language_thresholds"):
        configured(FineWebQualityFilter, language_thresholds="yes")
