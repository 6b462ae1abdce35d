import pytest

from datamill.pipeline.config import load_config
from datamill.typed_config import ConfigError

SOURCES = {"docs": {"format": "python_docs"}}


def cfg(stages, **extra):
    return {"name": "t", "sources": SOURCES, "stages": stages, "output": "/tmp/unused", **extra}


def error_of(config, overrides=()) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(config, overrides)
    return str(e.value)


def test_list_form_chains_stages_in_order():
    c = load_config(cfg([{"use": "clean_text"}, {"use": "length_filter", "min_words": 5},
                         {"use": "exact_dedup", "name": "dedup"}]))
    assert c.order() == ["docs", "clean_text", "length_filter", "dedup"]
    assert c.stages["dedup"].inputs == ["length_filter"]
    assert c.stages["length_filter"].stage.min_words == 5


def test_mapping_form_with_explicit_edges():
    c = load_config(cfg({"b": {"use": "length_filter", "input": "a"}, "a": {"use": "clean_text", "input": "docs"}}))
    assert c.order() == ["docs", "a", "b"]


def test_unknown_stage_is_named():
    msg = error_of(cfg({"x": {"use": "no_such_stage"}}))
    assert "stage 'x'" in msg and "no_such_stage" in msg and "clean_text" in msg


def test_unknown_key_names_stage_key_and_allowed_keys():
    msg = error_of(cfg({"lf": {"use": "length_filter", "min_word": 3}}))
    assert "stage 'lf'" in msg and "min_word" in msg and "min_words" in msg


def test_wrong_type_names_stage_key_and_expected_type():
    msg = error_of(cfg({"lf": {"use": "length_filter", "min_words": "many"}}))
    assert "stage 'lf'" in msg and "'min_words'" in msg and "int" in msg


def test_invalid_choice_is_rejected():
    msg = error_of(cfg({"lf": {"use": "length_filter", "mode": "delete"}}))
    assert "stage 'lf'" in msg and "mode" in msg


def test_cycle_is_rejected():
    msg = error_of(cfg({"a": {"use": "clean_text", "input": "b"}, "b": {"use": "clean_text", "input": "a"}}))
    assert "cycle" in msg


def test_missing_input_is_named():
    msg = error_of(cfg({"a": {"use": "clean_text", "input": "nowhere"}}))
    assert "stage 'a'" in msg and "nowhere" in msg


def test_unknown_top_level_key():
    assert "stagez" in error_of({**cfg({}), "stagez": {}})


def test_source_errors_name_the_source():
    assert "source 'w'" in error_of({"sources": {"w": {"format": "csvv", "path": "x"}}, "stages": {}})
    assert "source 'w'" in error_of({"sources": {"w": {"format": "jsonl"}}, "stages": {}})
    assert "text_fieldd" in error_of({"sources": {"w": {"format": "jsonl", "path": "x", "text_fieldd": "t"}}})


def test_set_overrides_are_type_checked():
    base = cfg({"lf": {"use": "length_filter"}})
    assert load_config(base, ["stages.lf.min_words=7"]).stages["lf"].stage.min_words == 7
    assert "min_words" in error_of(base, ["stages.lf.min_words=seven"])
    assert "no stage 'nope'" in error_of(base, ["stages.nope.min_words=1"])
    assert "KEY=VALUE" in error_of(base, ["stages.lf.min_words"])
