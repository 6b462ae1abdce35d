from pathlib import Path

import pytest
import yaml

from datamill.train.cli import main
from datamill.train.config import TrainConfigError, load_config
from datamill.train.miniyaml import parse

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_unknown_and_mistyped_keys_name_the_key():
    with pytest.raises(TrainConfigError, match="model.n_layers"):
        load_config({"model": {"n_layers": 2}})
    with pytest.raises(TrainConfigError, match="optim.lr: expected float"):
        load_config({"optim": {"lr": "fast"}})
    with pytest.raises(TrainConfigError, match="data.shards: expected a list"):
        load_config({"data": {"shards": "runs/x"}})
    cfg = load_config({"optim": {"lr": 1}}, ["data.weights={\"web\": 0.7, \"books\": 0.3}", "compile=true"])
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.data.weights == {"web": 0.7, "books": 0.3} and cfg.compile is True


@pytest.mark.parametrize("name", ["train-smoke.yaml", "train-124m.yaml"])
def test_shipped_configs_load_and_parse_without_pyyaml(name):
    text = (CONFIGS / name).read_text()
    assert parse(text) == yaml.safe_load(text)  # the fallback for GPU boxes without PyYAML
    load_config(CONFIGS / name)


def test_miniyaml_subset():
    text = "a: 1\nb:\n  c: [x, 'y z', 3.5e-4]\n  d: {k: true}\n  e:\n    - 1\n    - two\nf: ~  # comment\ng: \"q#r\"\n"
    assert parse(text) == yaml.safe_load(text)
    with pytest.raises(ValueError, match="line 1"):
        parse("a: &anchor 1\n")


def test_cli_reports_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: 10\nmodel: {d_modle: 64}\n")
    assert main([str(bad)]) == 2
    assert "model.d_modle" in capsys.readouterr().err
