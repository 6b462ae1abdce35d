import pytest

from datamill.stages.llm_annotate import LLMAnnotate
from datamill.stages.llm_reply import compile_pattern, parse_label, parse_number

EDU = compile_pattern(LLMAnnotate.pattern, "llm_annotate")


@pytest.mark.parametrize("reply, expected", [
    ("The extract is a tutorial on fractions.\nEducational score: 3", 3.0),
    ("**Educational score:** 4", 4.0),  # markdown bold around the phrase
    ("educational SCORE: 2.5 points", 2.5),
    # the rubric's format restated before the answer: the last match is the answer
    ("Format: 'Educational score: <total points>'. Points: 1+1. Educational score: 2", 2.0),
    ("Educational score: 0", 0.0),
    ("Educational score: 7", None),  # outside the 0-5 scale
    ("Educational score: <total points>", None),
    ("I would give it four points.", None),
    ("", None),
    (None, None),  # a failed request
])
def test_fineweb_edu_grades(reply, expected):
    assert parse_number(reply, EDU, 0.0, 5.0) == expected


def test_labels_are_matched_whole_and_case_blind():
    pattern = compile_pattern(r"verdict:\s*(\S+)", "t")
    labels = ("low", "medium", "high")
    assert parse_label("Verdict: HIGH.", pattern, labels) == 2
    assert parse_label("verdict: **medium**", pattern, labels) == 1
    assert parse_label("verdict: mediumish", pattern, labels) is None
    assert parse_label("no verdict given", pattern, labels) is None


def test_a_pattern_needs_a_capture_group():
    with pytest.raises(ValueError, match="needs a capture group"):
        compile_pattern(r"score: \d", "llm_annotate")
    with pytest.raises(ValueError, match="not a regular expression"):
        compile_pattern(r"score: (\d", "llm_annotate")
