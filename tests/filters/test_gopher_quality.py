import pyarrow as pa
import pytest

from datamill.filters.gopher_quality import GopherQualityFilter
from datamill.typed_config import ConfigError
from tests.conftest import configured
from tests.filters.texts import FRENCH_PROSE, GERMAN_PROSE, GOOD, annotated, filler, reason_of, reasons_of

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
    # GOOD is 120 tokens (punctuation marks count, as in datatrove); "#a" is 2 tokens, '#' and
    # 'a': 20 hashtags are 20 '#' over 160 tokens = 0.125 > 0.1; 15 are 15/150 = 0.1, kept
    hashtags = GOOD + " " + " ".join(["#a"] * 20)
    assert reason_of(GopherQualityFilter(), hashtags) == "gopher_hash_ratio"
    assert reason_of(GopherQualityFilter(), GOOD + " " + " ".join(["#a"] * 15)) is None
    ellipses = GOOD + " " + " ".join(["so…"] * 20)
    assert reason_of(GopherQualityFilter(), ellipses) == "gopher_ellipsis_ratio"
    dots = GOOD + " " + " ".join(["so..."] * 20)
    assert reason_of(GopherQualityFilter(), dots) == "gopher_ellipsis_ratio"
    # datatrove: 15/150 is not over 0.1, and then the last of 3 lines ends in an ellipsis
    assert reason_of(GopherQualityFilter(), GOOD + " " + " ".join(["so…"] * 15)) == "gopher_ellipsis_lines"
    # datamill v1 (whitespace words, punctuation dropped): 15 '#' over 124 words
    assert reason_of(GopherQualityFilter(words="whitespace"), GOOD + " " + " ".join(["#a"] * 15)) \
        == "gopher_hash_ratio"


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
    # datatrove divides by all tokens, punctuation marks included: GOOD's 109 words and 11 marks
    numbers = GOOD + " " + " ".join(str(1000 + i) for i in range(20))  # 109 / 140 = 0.78
    assert reason_of(GopherQualityFilter(), numbers) == "gopher_alpha_words"
    numbers = GOOD + " " + " ".join(str(1000 + i) for i in range(10))  # 109 / 130 = 0.84
    assert reason_of(GopherQualityFilter(), numbers) is None
    numbers = GOOD + " " + " ".join(str(1000 + i) for i in range(25))  # v1: 109 / 134 = 0.81
    assert reason_of(GopherQualityFilter(words="whitespace"), numbers) is None


def test_stop_words():
    no_stop = " ".join(filler(60))
    assert reason_of(GopherQualityFilter(), no_stop) == "gopher_stop_words"
    assert reason_of(GopherQualityFilter(), "the " + no_stop) == "gopher_stop_words"  # 1 < 2
    assert reason_of(GopherQualityFilter(), "the " + no_stop + " with") is None
    # datatrove: distinct stop words, exact case ("The" is not "the")
    assert reason_of(GopherQualityFilter(), "The " + no_stop + " with") == "gopher_stop_words"
    assert reason_of(GopherQualityFilter(), "the " + no_stop + " the") == "gopher_stop_words"
    v1 = GopherQualityFilter(stop_word_count="occurrences")  # datamill v1: any case, every one
    assert reason_of(v1, "The " + no_stop + " with") is None
    assert reason_of(v1, "the " + no_stop + " the") is None


def test_disable_switches_a_rule_off():
    short = " ".join(WORDS[:20])
    assert reason_of(GopherQualityFilter(disable=("gopher_word_count",)), short) is None
    assert reason_of(GopherQualityFilter(disable=["gopher_word_count"]), short) is None


def test_bad_config_names_the_rule():
    with pytest.raises(ValueError, match="gopher_quality.*gopher_typo"):
        GopherQualityFilter(disable=("gopher_typo",))
    with pytest.raises(ValueError, match="mode"):
        configured(GopherQualityFilter, mode="keep")


def test_language_profile_stop_words():
    """English stop words remove German and French prose; their own profiles keep it."""
    for text, lang in ((GERMAN_PROSE, "de"), (FRENCH_PROSE, "fr")):
        assert reason_of(GopherQualityFilter(), text) == "gopher_stop_words"
        assert annotated(GopherQualityFilter(), text)["gopher_num_stop_words"] == 0
        assert reason_of(GopherQualityFilter(language=lang), text) is None
    # distinct stop words (datatrove, as FineWeb-2 ran it); 18 occurrences in datamill v1 words
    assert annotated(GopherQualityFilter(language="de"), GERMAN_PROSE)["gopher_num_stop_words"] == 7
    assert annotated(GopherQualityFilter(language="de", stop_word_count="occurrences", words="whitespace"),
                     GERMAN_PROSE)["gopher_num_stop_words"] == 18
    assert reason_of(GopherQualityFilter(language="fr"), GERMAN_PROSE) == "gopher_stop_words"


def test_elided_stop_words_and_trimmed_entries():
    """FineWeb-2's "l'"/"d'" match the word they begin (either apostrophe); "г." matches "г"."""
    stage = GopherQualityFilter(language="fr", min_words=1)
    # exact case: "L'Été" is no match (datatrove); each distinct word an elision begins counts
    assert annotated(stage, "l'homme l’eau d'une dl'x L'Été")["gopher_num_stop_words"] == 3
    v1 = GopherQualityFilter(language="fr", min_words=1, stop_word_count="occurrences")
    assert annotated(v1, "l'homme l’eau d'une dl'x L'Été")["gopher_num_stop_words"] == 4
    assert annotated(stage, "lhomme l homme")["gopher_num_stop_words"] == 0
    bulgarian = GopherQualityFilter(language="bg", min_words=1)
    assert annotated(bulgarian, "роден 1990 г. в града")["gopher_num_stop_words"] == 2  # г, в


def test_profile_thresholds_and_their_switch():
    # German profile (FineWeb-2 deu_Latn): mean word length up to 15, not Gopher's 10
    long = "der und " + " ".join(["Donaudampfschiff"] * 60)  # mean 15.2 -> over both
    medium = "der und " + " ".join(["Bundesregierung"] * 60)  # 15 letters: mean 14.6
    assert reason_of(GopherQualityFilter(language="de"), medium) is None
    assert reason_of(GopherQualityFilter(language="de"), long) == "gopher_mean_word_length"
    assert reason_of(GopherQualityFilter(language="de", language_thresholds=False),
                     medium) == "gopher_mean_word_length"
    # the field is the limit for en, whatever language_thresholds says
    assert reason_of(GopherQualityFilter(max_mean_word_length=15, language_thresholds=False), "the and " +
                     " ".join(["Bundesregierung"] * 60)) is None


def test_stop_words_path(tmp_path):
    words = tmp_path / "sw.txt"
    words.write_text("na\nya\n\nkatika\n", encoding="utf-8")  # Swahili: no built-in profile
    text = "Watoto wa shule na walimu wao walitembelea makumbusho ya taifa katika mji mkuu " * 6
    stage = GopherQualityFilter(language="sw", stop_words_path=str(words))
    assert annotated(stage, text)["gopher_num_stop_words"] == 3  # na, ya, katika: distinct
    assert reason_of(stage, text) is None
    assert reason_of(GopherQualityFilter(stop_words_path=str(words)), GOOD) == "gopher_stop_words"
    missing = GopherQualityFilter(stop_words_path=str(tmp_path / "none.txt"))
    with pytest.raises(FileNotFoundError, match="gopher_quality.*none.txt"):
        annotated(missing, GOOD)


def test_auto_uses_each_rows_language():
    texts = [GOOD, GERMAN_PROSE, FRENCH_PROSE, GERMAN_PROSE, GERMAN_PROSE]
    langs = ["en", "de", "fr", "en", "xx"]  # a language without a profile is read as en
    table = pa.table({"text": texts, "language": langs})
    stage = GopherQualityFilter(language="auto")
    out = stage.annotate(table)
    assert stage.reasons(out).to_pylist() == [None, None, None, "gopher_stop_words", "gopher_stop_words"]
    for i, lang in enumerate(["en", "de", "fr", "en", "en"]):
        alone = GopherQualityFilter(language=lang).annotate(pa.table({"text": [texts[i]]}))
        assert out.slice(i, 1).drop_columns(["language"]).equals(alone), i
    assert stage.needed_columns() == ("text", "language")
    assert GopherQualityFilter().needed_columns() == ("text",)
    with pytest.raises(KeyError, match="gopher_quality.*language"):
        stage.annotate(pa.table({"text": [GOOD]}))


def test_language_config_errors():
    for lang in ("zh", "ja", "th"):
        with pytest.raises(ConfigError, match="without spaces"):
            configured(GopherQualityFilter, language=lang)
    with pytest.raises(ConfigError, match="no built-in profile for language 'xx'.*stop_words_path"):
        configured(GopherQualityFilter, language="xx")
    with pytest.raises(ConfigError, match="without spaces"):  # own stop words do not split words
        configured(GopherQualityFilter, language="zh", stop_words_path="/x.txt")
    with pytest.raises(ConfigError, match="language"):
        configured(GopherQualityFilter, language=["de"])
    assert configured(GopherQualityFilter, language="de").language == "de"
