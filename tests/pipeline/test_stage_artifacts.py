"""``{stage: NAME}``: a field that takes the file an upstream stage produces (a trained model).
The reference orders the stages, enters the consumer's cache key, and becomes a path only when
the stage runs."""

import pytest

from datamill.pipeline.config import check_files, load_config
from datamill.pipeline.executor import Executor
from datamill.pipeline.progress import Progress
from datamill.stage import StageArtifact
from datamill.typed_config import ConfigError


def config(tmp_path, **stages):
    return {"name": "t", "output": str(tmp_path / "run"),
            "sources": {"web": {"format": "parquet", "path": str(tmp_path / "docs")}},  # columns unchecked
            "stages": stages}


TRAIN = {"use": "train_classifier", "input": "web", "label_column": "num_words"}


def test_a_reference_orders_the_stages_and_is_not_a_file_to_check(tmp_path):
    cfg = load_config(config(tmp_path, keep={"use": "quality_filter", "input": "web", "model": {"stage": "fit"}},
                             fit=TRAIN))
    assert cfg.order() == ["web", "fit", "keep"]  # listed first, runs after the stage it reads from
    assert cfg.stages["keep"].artifacts == {"model": "fit"}
    assert cfg.stages["keep"].stage.model == StageArtifact("fit")
    check_files(cfg)  # the model does not exist before the run; that is not an error


def test_the_path_and_the_cache_key_come_from_the_upstream_stage(tmp_path):
    cfg = load_config(config(tmp_path, fit=TRAIN,
                             keep={"use": "quality_filter", "input": "web", "model": {"stage": "fit"}},
                             plain={"use": "quality_filter", "input": "web", "model": str(tmp_path / "m.bin")}))
    ex = Executor(cfg, None, Progress(False))
    ex.keys.update(web="w0", fit="f0")
    key, plain = ex.stage_key("keep"), ex.stage_key("plain")
    assert ex.stage("keep").model == f"{tmp_path}/run/fit/.datamill/model.bin"
    assert ex.stage("plain").model == str(tmp_path / "m.bin")
    ex.keys["fit"] = "f1"  # the upstream stage changed (another seed, other grades): its model differs
    assert ex.stage_key("keep") != key and ex.stage_key("plain") == plain
    ex.keys["web"] = "w1"
    assert ex.stage_key("plain") != plain


@pytest.mark.parametrize("ref, error", [
    ("nope", r"stage 'keep': key 'model': \{stage: nope\} names no stage"),
    ("other", r"stage 'other' \(use: quality_filter\) produces no artifact \(stages that do: \['fit'\]\)"),
])
def test_a_reference_must_name_a_producing_stage(tmp_path, ref, error):
    with pytest.raises(ConfigError, match=error):
        load_config(config(tmp_path, fit=TRAIN, other={"use": "quality_filter", "input": "web", "model": "m.bin"},
                           keep={"use": "quality_filter", "input": "web", "model": {"stage": ref}}))


def test_a_reference_cycle_is_an_error(tmp_path):
    train = {**TRAIN, "input": "keep"}
    with pytest.raises(ConfigError, match="cycle"):
        load_config(config(tmp_path, fit=train,
                           keep={"use": "quality_filter", "input": "web", "model": {"stage": "fit"}}))


def test_a_reference_is_a_mapping_with_one_key(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['file'\]"):
        load_config(config(tmp_path, fit=TRAIN,
                           keep={"use": "quality_filter", "input": "web", "model": {"stage": "fit", "file": "x"}}))


def test_a_plain_path_in_the_same_field_is_still_a_file_to_check_and_hash(tmp_path):
    from datamill.pipeline.file_fingerprints import stage_files

    cfg = load_config(config(tmp_path, keep={"use": "quality_filter", "input": "web", "model": "m.bin"}))
    with pytest.raises(ConfigError, match=r"stage 'keep': key 'model': no such file"):
        check_files(cfg)
    (tmp_path / "m.bin").write_bytes(b"a model")
    cfg = load_config(config(tmp_path, keep={"use": "quality_filter", "input": "web",
                                             "model": str(tmp_path / "m.bin")}))
    assert list(stage_files(cfg.stages["keep"].stage)) == [f"model={tmp_path}/m.bin"]
