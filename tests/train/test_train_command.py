"""Shards missing: ``python -m datamill.train`` says how to build them in one line; ``datamill train``
(``datamill.train_command``) runs ``data.build`` first, then trains."""

import json

import pytest

from datamill import train_command
from datamill.train.cli import main as trainer_main
from tests.schedulers.synthetic_shards import write_shards

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _config(tmp_path, build: str = "data.yaml"):
    conf = tmp_path / "configs"
    conf.mkdir()
    (conf / "data.yaml").write_text("name: data\nsources: {docs: {format: python_docs}}\nstages: []\n")
    (conf / "train.yaml").write_text(
        "out_dir: ../runs/train\ndevice: cpu\nsteps: 2\nlog_interval: 1\neval_interval: 0\nexport_hf: false\n"
        "model: {n_layer: 1, n_head: 2, d_model: 32, pad_vocab_multiple: 1}\n"
        f"data: {{shards: [../runs/data/token_shards], seq_len: 16, batch_size: 2, val_batches: 0, build: '{build}'}}\n")
    return conf / "train.yaml"


def test_trainer_without_shards_says_how_to_build_them(tmp_path, capsys):
    config = _config(tmp_path)
    assert trainer_main([str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(tmp_path / "runs" / "data" / "token_shards") in err
    assert f"datamill run {tmp_path / 'configs' / 'data.yaml'}" in err and f"datamill train {config}" in err
    assert not (tmp_path / "runs" / "train").exists()  # nothing ran


def test_train_command_builds_missing_shards_then_trains(tmp_path, capsys, monkeypatch):
    from datamill.pipeline import runner

    built = []

    def fake_run_pipeline(config):  # the engine itself is tested elsewhere; the order is the point here
        built.append(config)
        write_shards(tmp_path / "runs" / "data" / "token_shards", {"a": 20})

    monkeypatch.setattr(runner, "run_pipeline", fake_run_pipeline)
    assert train_command.main([str(_config(tmp_path)), "--set", "steps=3"]) == 0
    assert built == [str(tmp_path / "configs" / "data.yaml")]
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["step"] == 3 and (tmp_path / "runs" / "train" / "checkpoints" / "step-0000003.pt").exists()


def test_train_command_without_build_fails_in_one_line(tmp_path, capsys):
    assert train_command.main([str(_config(tmp_path, build=""))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "`datamill run`" in err and "`datamill train" not in err
