"""quality_filter through the engine: a global top fraction over several partitions."""

import json

import numpy as np
import pytest

from datamill.pipeline.config import load_config
from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from datamill.typed_config import ConfigError
from tests.filters.test_quality_filter import corpus


def config(tmp_path, model, **quality):
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in corpus(60).to_pylist()) + "\n")
    return {"name": "q", "sources": {"docs": {"format": "jsonl", "path": str(src)}},
            "stages": {"quality": {"use": "quality_filter", "input": "docs", "model": model, **quality}},
            "output": str(tmp_path / "run"), "execution": {"partition_rows": 7}}


@pytest.mark.parametrize("mode", ["drop", "annotate"])
def test_quality_filter_keeps_the_global_top_fraction(client, tiny_quality_model, tmp_path, mode):
    cfg = load_config(config(tmp_path, tiny_quality_model, keep_fraction=0.25, mode=mode))
    result = run_pipeline(cfg, client=client, progress=False)
    stats = json.loads((tmp_path / "run" / "quality" / ".datamill" / "stats.json").read_text())
    out = read_stage(result.output, "quality")
    scores = np.array(out["quality_score"].to_pylist())
    cutoff = stats["extra"]["quality_cutoff"]
    assert len(list((tmp_path / "run" / "quality").glob("part-*.parquet"))) == 9  # 60 rows / 7
    if mode == "drop":
        assert out.num_rows == 60 - stats["removed"]["quality_low_score"] >= 15
        assert scores.min() >= cutoff
    else:
        assert out.num_rows == 60 and stats["flagged"]["quality_low_score"] == int((scores < cutoff).sum())
        assert int((scores >= cutoff).sum()) >= 15


def test_config_types_are_checked(tiny_quality_model, tmp_path):
    raw = config(tmp_path, tiny_quality_model, keep_fraction="a lot")
    with pytest.raises(ConfigError, match="keep_fraction"):
        load_config(raw)
    raw["stages"]["quality"].update(keep_fraction=0.3, threshold=None)
    assert load_config(raw).stages["quality"].stage.threshold is None
