import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datamill.stage import REMOVAL_REASON
from datamill.stages.paragraph_dedup import ParagraphDedup, normalise
from datamill.typed_config import ConfigError
from tests.conftest import configured, run_plan

COOKIE = "We use cookies to improve your experience."
SKIP = "Skip to main content"
DOCS = {
    "a": f"{SKIP}\nAlpha article first line.\n{COOKIE}\nMenu",
    "b": "WE USE COOKIES TO IMPROVE YOUR EXPERIENCE!\nBeta article text here.\nBeta article text here.\nMenu",
    "c": f"Gamma line one.\n\n{SKIP}\n\nGamma line two.\n© 2021 Example Media. All rights reserved.",
    "d": "Delta body.\n© 2024 Example Media. All rights reserved.",
    "e": f"{COOKIE}\n© 2022 — Example media, all rights reserved",
}


def _parts(docs=DOCS, split=((0, 2), (2, 3), (3, 5), (5, 5))) -> list[pa.Table]:
    ids = list(docs)
    return [pa.table({"id": pa.array(ids[a:b], pa.string()), "text": pa.array([docs[i] for i in ids[a:b]], pa.string())})
            for a, b in split]


def _by_id(out: list[pa.Table], *columns: str) -> dict:
    rows = [r for t in out for r in t.to_pylist()]
    return {r["id"]: tuple(r[c] for c in columns) for r in rows}


def test_normalisation_folds_case_digits_punctuation_and_symbols():
    assert normalise("  Copyright © 2021 ACME, Inc.\tAll rights reserved！ ") == "copyright 0000 acme inc all rights reserved"
    s = ParagraphDedup()
    assert s.key("© 2023 Example Media. All rights reserved.") == s.key("2024 example media all RIGHTS reserved")
    assert s.key("٣ items in your cart") == s.key("3 items in your cart")  # any decimal digit is 0
    assert s.key("Menu") is None and s.key("|---|---|") is None and s.key("   ") is None  # one word; empty
    assert ParagraphDedup(min_words=0).key("Menu") is not None
    assert ParagraphDedup(min_chars=30).key(SKIP) is None


def test_units_in_two_or_more_documents_are_removed_from_all(client):
    out = run_plan(client, ParagraphDedup(), _parts())
    assert [t.num_rows for t in out] == [2, 1, 2, 0]  # reasons attached; the engine drops
    texts = _by_id(out, "text", "boilerplate_removed", REMOVAL_REASON)
    assert texts == {
        "a": ("Alpha article first line.\nMenu", 2, None),  # "Menu": one word, never counted
        "b": ("Beta article text here.\nBeta article text here.\nMenu", 1, None),  # repeated in one doc only: kept
        "c": ("Gamma line one.\n\nGamma line two.", 2, None),  # no run of blank lines left where SKIP was
        "d": ("Delta body.", 1, None),
        "e": ("", 2, "boilerplate_only"),
    }
    chars = _by_id(out, "boilerplate_chars_removed")
    assert all(chars[i] == (len(DOCS[i]) - len(texts[i][0]),) for i in DOCS)


def test_keep_first_keeps_the_smallest_id_and_min_docs_counts_documents(client):
    kept = _by_id(run_plan(client, ParagraphDedup(keep_first=True), _parts()), "text", "boilerplate_removed")
    assert kept["a"] == (DOCS["a"], 0)  # smallest id of the cookie and skip-link groups
    assert kept["b"] == ("Beta article text here.\nBeta article text here.\nMenu", 1)
    assert kept["c"] == ("Gamma line one.\n\nGamma line two.\n© 2021 Example Media. All rights reserved.", 1)
    assert kept["e"] == ("", 2)
    three = _by_id(run_plan(client, ParagraphDedup(min_docs=3), _parts()), "text")
    assert three["c"] == (f"Gamma line one.\n\n{SKIP}\n\nGamma line two.",)  # SKIP is in 2 documents only
    words = _by_id(run_plan(client, ParagraphDedup(min_words=0), _parts()), "text")
    assert words["a"] == ("Alpha article first line.",) and words["b"][0].endswith("here.")


def test_annotate_keeps_text_and_flags_documents_left_too_short(client):
    out = run_plan(client, ParagraphDedup(mode="annotate", min_words_after=4), _parts())
    got = _by_id(out, "text", "boilerplate_removed", REMOVAL_REASON)
    assert {i: g[0] for i, g in got.items()} == DOCS
    assert {i: g[1:] for i, g in got.items()} == {"a": (2, None), "b": (1, None), "c": (2, None),
                                                  "d": (1, "boilerplate_only"), "e": (2, "boilerplate_only")}


def test_paragraph_units_are_blank_line_separated_blocks(client):
    footer = "Example Media Group\nAll rights reserved worldwide."
    docs = {"p1": f"First story opens here.\nIt goes on.\n\n{footer}",
            "p2": f"Second story.\n\n  \n{footer}\n\nIts end.",
            "p3": "Third story.\nExample Media Group\nAll rights reserved worldwide."}  # same lines, not a paragraph
    out = _by_id(run_plan(client, ParagraphDedup(unit="paragraph"), _parts(docs, ((0, 1), (1, 3)))), "text")
    assert out == {"p1": ("First story opens here.\nIt goes on.",), "p2": ("Second story.\n\nIts end.",),
                   "p3": (docs["p3"],)}
    lines = _by_id(run_plan(client, ParagraphDedup(unit="line"), _parts(docs, ((0, 3),))), "text")
    assert lines["p3"] == ("Third story.",)


def test_rerun_over_its_own_output_replaces_its_columns(client):
    stage = ParagraphDedup()
    first = [t.filter(pc.is_null(t.column(REMOVAL_REASON))).drop_columns([REMOVAL_REASON])
             for t in run_plan(client, stage, _parts())]
    again = run_plan(client, stage, first)
    for t in again:
        assert len(set(t.column_names)) == len(t.column_names)
    assert _by_id(again, "text") == _by_id(first, "text")
    assert {v for v in _by_id(again, "boilerplate_removed").values()} == {(0,)}


@pytest.mark.parametrize("fields, message", [
    ({"unit": "sentence"}, "unit"), ({"min_docs": 1}, "min_docs"), ({"keep_first": "yes"}, "keep_first"),
    ({"min_words_after": -1}, "min_words_after"), ({"min_doc": 3}, "min_doc"),
])
def test_config_errors_name_the_key(fields, message):
    with pytest.raises(ConfigError, match=message):
        configured(ParagraphDedup, **fields)
