import math
from pathlib import Path

import pytest

from datamill.schedulers import CurriculumConfig, NormTestConfig
from datamill.train.cli import main
from datamill.train.config import load_config
from datamill.typed_config import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAINER_CONFIGS = sorted(p.name for p in CONFIGS.glob("train-*.yaml") if not p.name.endswith("-data.yaml"))


def test_unknown_and_mistyped_keys_name_the_key():
    with pytest.raises(ConfigError, match="'model'.*n_layers"):
        load_config({"model": {"n_layers": 2}})
    with pytest.raises(ConfigError, match="'lr'.*got 'fast'"):
        load_config({"optim": {"lr": "fast"}})
    with pytest.raises(ConfigError, match="'shards'.*list"):
        load_config({"data": {"shards": "runs/x"}})
    with pytest.raises(ConfigError, match="'doc_attention'.*'sdpa_mask', 'flex', 'none'"):
        load_config({"model": {"doc_attention": "dense"}})
    with pytest.raises(ConfigError, match="'schedule'.*got 'linear'"):
        load_config({"optim": {"schedule": "linear"}})
    with pytest.raises(ConfigError, match="'device'"):
        load_config({"device": "tpu"})
    cfg = load_config({"optim": {"lr": 1}}, ["data.weights={web: 0.7, books: 0.3}", "compile=true"])
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.data.weights == {"web": 0.7, "books": 0.3} and cfg.compile is True


def test_set_values_are_yaml():
    cfg = load_config({}, ["optim.lr=1e-3", "steps=100", "compile=yes", "seed=010", "peak_tflops=.inf",
                           "model.doc_attention=none"])
    assert cfg.optim.lr == 0.001 and isinstance(cfg.optim.lr, float)  # YAML 1.1 floats need no dot
    assert cfg.steps == 100 and isinstance(cfg.steps, int)
    assert cfg.compile is True  # `yes` is a YAML boolean
    assert cfg.seed == 8  # PyYAML reads a leading 0 as octal
    assert math.isinf(cfg.peak_tflops)
    assert cfg.model.doc_attention == "none"  # the string, not YAML null
    with pytest.raises(ConfigError, match="'steps'"):
        load_config({}, ["steps=many"])  # text stays text, and a string is not an int


def test_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    conf = tmp_path / "repo" / "configs"
    conf.mkdir(parents=True)
    (conf / "scores.parquet").touch()
    (conf / "train.yaml").write_text(
        "out_dir: ../runs/t\n"
        "model: {init_from: ../runs/base-hf}\n"
        "data:\n"
        "  shards: [../runs/q/token_shards, /abs/shards]\n"
        "  cooldown_shards: [cool]\n"
        "  build: data.yaml\n"
        "  replay: {shards: [../runs/generic]}\n"
        "  sampler:\n"
        "    curriculum: {column: ppl_difficulty, scores: scores.parquet}\n"
        "    domain_weights: {reference: ../runs/ref, history_path: weights.jsonl}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config("../repo/configs/train.yaml", ["data.replay.shards=[generic2]"])
    repo = (tmp_path / "repo").resolve()
    assert cfg.out_dir == str(repo / "runs" / "t")
    assert cfg.model.init_from == str(repo / "runs" / "base-hf")
    assert cfg.data.shards == [str(repo / "runs" / "q" / "token_shards"), "/abs/shards"]
    assert cfg.data.cooldown_shards == [str(repo / "configs" / "cool")]
    assert cfg.data.build == str(repo / "configs" / "data.yaml")
    assert cfg.data.replay.shards == [str(repo / "configs" / "generic2")]  # --set paths too
    assert cfg.data.sampler.curriculum.scores == str(repo / "configs" / "scores.parquet")
    assert cfg.data.sampler.domain_weights.reference == str(repo / "runs" / "ref")
    assert cfg.data.sampler.domain_weights.history_path == str(repo / "configs" / "weights.jsonl")
    # a mapping has no file: its relative paths stay relative (to the working directory)
    raw = load_config({"out_dir": "runs/x", "data": {"shards": ["s"]}})
    assert raw.out_dir == "runs/x" and raw.data.shards == ["s"]


def test_sampler_section_is_typed():
    cfg = load_config({"data": {"sampler": {
        "curriculum": {"column": "length", "pacing": "linear", "length": 30},
        "domain_weights": {"reference": {"a": 2, "b": 3.5}},
        "batch_size": {"kind": "norm_test", "eta": 0.5, "max_accum": 8}}}})
    s = cfg.data.sampler
    assert s.curriculum == CurriculumConfig(column="length", pacing="linear", length=30)
    assert s.domain_weights.reference == {"a": 2.0, "b": 3.5}
    assert s.batch_size == NormTestConfig(eta=0.5, max_accum=8)
    assert load_config({}).data.sampler.batch_size is None
    with pytest.raises(ConfigError, match="'curriculum'.*unknown key.*colum"):
        load_config({"data": {"sampler": {"curriculum": {"colum": "length"}}}})
    with pytest.raises(ConfigError, match="'pacing'.*'linear', 'root'"):
        load_config({"data": {"sampler": {"curriculum": {"pacing": "cosine"}}}})
    with pytest.raises(ConfigError, match="curriculum.start"):  # a range check, when the config loads
        load_config({"data": {"sampler": {"curriculum": {"start": 0.0}}}})
    with pytest.raises(ConfigError, match="'kind'.*'linear_ramp', 'norm_test'.*got None"):
        load_config({"data": {"sampler": {"batch_size": {"end": 4}}}})
    with pytest.raises(ConfigError, match="'batch_size'.*unknown key.*'end'"):
        load_config({"data": {"sampler": {"batch_size": {"kind": "norm_test", "end": 4}}}})
    with pytest.raises(ConfigError, match="'class'"):  # the old importlib spelling is gone
        load_config({"data": {"sampler": {"class": "datamill.schedulers:Schedulers"}}})


@pytest.mark.parametrize("name", TRAINER_CONFIGS)
def test_shipped_configs_load(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # from anywhere: their paths are relative to configs/
    cfg = load_config(CONFIGS / name)
    runs = CONFIGS.parent.resolve() / "runs"
    assert Path(cfg.out_dir).is_relative_to(runs)
    assert all(Path(d).is_relative_to(runs) for d in cfg.data.shards + cfg.data.replay.shards)
    if cfg.data.build:
        assert Path(cfg.data.build).is_file()


def test_cli_reports_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: 10\nmodel: {d_modle: 64}\n")
    assert main([str(bad)]) == 2
    assert "d_modle" in capsys.readouterr().err
