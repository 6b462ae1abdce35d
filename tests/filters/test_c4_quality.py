import pyarrow as pa
import pytest

from datamill.filters.c4_quality import C4QualityFilter
from tests.filters.texts import GOOD, annotated, reason_of


@pytest.fixture(scope="module")
def badwords(shared_data):
    return str(shared_data / "badwords-ldnoobw" / "en")


def test_good_prose_is_kept_unchanged():
    out = annotated(C4QualityFilter(), GOOD)
    assert out["text"] == GOOD
    assert out["c4_num_sentences"] == 6
    assert reason_of(C4QualityFilter(), GOOD) is None


def test_line_filters_edit_the_text():
    junk = ["Home | About | Contact", "Share", "Please enable JavaScript to view the comments.",
            "This site uses cookies to improve your experience.", "x" * 1001 + " is too long.",
            "A trailing thought...", "Two words."]
    text = "\n".join(junk[:3] + [GOOD + " See the map[1] or [edit] it."] + junk[3:])
    out = annotated(C4QualityFilter(), text)
    assert out["text"] == GOOD + " See the map or  it."
    assert out["c4_num_lines_removed"] == len(junk)
    kept = annotated(C4QualityFilter(edit_text=False), text)
    assert kept["text"] == text and kept["c4_num_lines_removed"] == len(junk)


def test_lines_split_as_python_splitlines():
    """TFDS and datatrove split lines with str.splitlines: \\r, \\r\\n and U+2028 end lines too."""
    for sep in ("\r", "\r\n", "\u2028", "\x0c"):
        text = sep.join(["Home | About | Contact", GOOD, "Share"])
        out = annotated(C4QualityFilter(), text)
        assert out["text"] == GOOD and out["c4_num_lines_removed"] == 2, repr(sep)


def test_line_filters_switch_off():
    text = GOOD + "\nNo terminal punctuation here at all"
    assert annotated(C4QualityFilter(), text)["text"] == GOOD
    assert annotated(C4QualityFilter(require_terminal_punct=False), text)["text"] == text


def test_too_few_sentences():
    four = "One sentence is here. Two sentences are here.\nThree are here! Four are here?"
    assert reason_of(C4QualityFilter(), four) == "c4_too_few_sentences"
    assert reason_of(C4QualityFilter(), four + " Five are here.") is None
    assert reason_of(C4QualityFilter(min_sentences=4), four) is None
    # sentences in dropped lines do not count
    assert reason_of(C4QualityFilter(), four + "\nFive are here") == "c4_too_few_sentences"


def test_lorem_ipsum_and_curly_bracket_drop_the_page():
    assert reason_of(C4QualityFilter(), GOOD + "\nLorem ipsum dolor sit amet.") == "c4_lorem_ipsum"
    assert reason_of(C4QualityFilter(), GOOD + "\nThe code is {x: 1} here.") == "c4_curly_bracket"
    # a bracket in a line that was already dropped (no terminal punctuation) is ignored
    assert reason_of(C4QualityFilter(), GOOD + "\nfunction f() { return 1 }") is None
    # C4 checks 'javascript' before '{': that line is dropped, the page survives
    assert reason_of(C4QualityFilter(), GOOD + "\nThe javascript object {a: 1} is here.") is None
    assert reason_of(C4QualityFilter(disable=["c4_curly_bracket"]), GOOD + "\nThe code is {x: 1} here.") is None


def test_bad_words_read_from_the_configured_list(badwords):
    stage = C4QualityFilter(badwords_path=badwords)
    assert reason_of(stage, GOOD + " What the fuck is this.") == "c4_bad_words"
    assert reason_of(stage, GOOD.replace("apples", "Shit apples")) == "c4_bad_words"
    # whole words only: "Scunthorpe", "class", "assessment" are fine
    assert reason_of(stage, GOOD + " The assessment of the class in Scunthorpe went well.") is None
    # the list only counts in kept lines, and without a list the rule is off
    assert reason_of(stage, GOOD + "\nfuck") is None
    assert reason_of(C4QualityFilter(), GOOD + " What the fuck is this.") is None


def test_missing_word_list_names_the_stage(tmp_path):
    stage = C4QualityFilter(badwords_path=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="c4_quality"):
        stage.annotate(pa.table({"text": [GOOD]}))
