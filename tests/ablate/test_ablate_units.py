"""Units of ``datamill.ablate``: merging arms into one DAG, the config's errors, eval windows and
bits per byte, paired differences and tokens-to-match."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from datamill.ablate.build import merge
from datamill.ablate.config import load_config
from datamill.ablate.evalsets import EvalWindows, bits_per_byte, text_stream, token_bytes
from datamill.ablate.results import summarize, tokens_to_reach
from datamill.ablate.runs import trainer_config
from datamill.pipeline.config import load_config as load_pipeline
from datamill.stages.tokens.tokenizer import train_bpe
from datamill.typed_config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PIPE = {"name": "p", "sources": {"docs": {"format": "python_docs"}},
        "stages": {"clean_text": {"use": "clean_text"},
                   "length_filter": {"use": "length_filter", "min_words": 20, "input": "clean_text"},
                   "token_shards": {"use": "token_shards", "input": "length_filter"}}}


def test_merge_shares_identical_stages_and_renames_the_rest():
    a = load_pipeline(PIPE)
    b = load_pipeline(PIPE, ["stages.length_filter.min_words=50"])
    merged, renames = merge({"a": a, "b": b}, "m", "/tmp/m")
    assert sorted(merged.stages) == ["clean_text", "length_filter", "length_filter-b", "token_shards",
                                     "token_shards-b"]
    assert list(merged.sources) == ["docs"]
    assert renames["b"] == {"docs": "docs", "clean_text": "clean_text", "length_filter": "length_filter-b",
                            "token_shards": "token_shards-b"}
    assert merged.stages["token_shards-b"].inputs == ["length_filter-b"]
    assert merged.stages["length_filter-b"].stage.min_words == 50


def _config(tmp_path, **changes):
    raw = {"trainer": str(ROOT / "configs" / "train-smoke.yaml"), "tokens": 4096, "baseline": "a",
           "arms": {"a": {"pipeline": str(ROOT / "configs" / "ablate-smoke-data.yaml")},
                    "b": {"pipeline": str(ROOT / "configs" / "ablate-smoke-data.yaml")}}, **changes}
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_config_errors_are_one_line_and_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['tokns'\]"):
        load_config(_config(tmp_path, tokns=5))
    with pytest.raises(ConfigError, match="baseline 'c' is not an arm"):
        load_config(_config(tmp_path, baseline="c"))
    with pytest.raises(ConfigError, match="no such file"):
        load_config(_config(tmp_path, trainer="nope.yaml"))
    with pytest.raises(ConfigError, match="either 'pipeline' or 'shards'"):
        load_config(_config(tmp_path, arms={"a": {}, "b": {"shards": ["x"]}}))
    cfg = load_config(_config(tmp_path, tokens=5000))  # 8 x 128 = 1024 tokens per step
    with pytest.raises(ConfigError, match="use 4096 or 5120"):
        trainer_config(cfg, "a", ["/x"], 0, 1)
    ok = trainer_config(load_config(_config(tmp_path)), "b", ["/x"], 3, 2)
    assert (ok.steps, ok.seed, ok.data.val_batches, ok.export_hf, ok.data.shards) == (4, 3, 2, False, ["/x"])


def test_eval_windows_bytes_and_document_segments():
    texts = ["héllo wörld, the quick brown fox " * 3, "jumps over the lazy dog. " * 4, "ünïcode ✓ ok " * 2]
    tok = train_bpe(texts * 5, 300)
    eos = 0  # the only special token
    stream = text_stream(texts, tok, eos)
    nbytes = token_bytes(tok)
    assert nbytes[stream].sum() == sum(len(t.encode()) for t in texts)  # exact for byte-level BPE
    assert (stream == eos).sum() == 3
    w = stream[: 2 * 9].reshape(2, 9)
    batch = EvalWindows({"s": w}, eos, batch_size=4).next_batch()
    for row, ids in zip(batch.doc_ids, batch.input_ids):
        ends = np.flatnonzero(ids == eos)
        assert (np.diff(row) >= 0).all() and row[0] == 0
        for e in ends:  # the token after an eos starts the next document
            if e + 1 < len(row):
                assert row[e + 1] == row[e] + 1
    rec = {"target_tokens": 100, "target_bytes": 400}
    assert bits_per_byte(math.log(2) * 4, rec) == pytest.approx(1.0)


def test_tokens_to_reach_interpolates_and_says_never():
    curve = [(100, 5.0), (200, 4.0), (300, 3.0)]
    assert tokens_to_reach(curve, 3.5) == pytest.approx(250)
    assert tokens_to_reach(curve, 5.5) == 100
    assert tokens_to_reach(curve, 2.9) is None


def test_paired_differences_are_per_seed():
    def run(final, curve):
        return {"final": {"s": final}, "tokens": 300, "curve": [{"tokens": t, "s": v} for t, v in curve]}

    arms = {"base": {"runs": {"0": run(4.0, [(100, 5.0), (300, 4.0)]), "1": run(5.0, [(100, 6.0), (300, 5.0)])}},
            "x": {"runs": {"0": run(3.9, [(300, 3.9)]), "1": run(4.7, [(300, 4.7)])}}}
    out = summarize(arms, "base", {"s": {"target_tokens": 1, "target_bytes": 1}})
    p = out["x"]["paired"]["s"]
    assert p["mean"] == pytest.approx(-0.2) and p["min"] == pytest.approx(-0.3) and p["max"] == pytest.approx(-0.1)
    assert out["x"]["final"]["s"]["mean"] == pytest.approx(4.3)
    # the baseline's mean curve (5.5 -> 4.5) reaches 4.3 never
    assert out["x"]["baseline_tokens_to_match"]["s"] is None
