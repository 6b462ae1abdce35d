"""The schedulers inside the real trainer (data.sampler) over real shard loaders: the weights
follow the per-source validation losses, the batch ramps, and a preempted run resumes exactly."""

import json

import pytest
import torch

from datamill.train.config import load_config
from datamill.train.loop import train
from tests.schedulers.synthetic_shards import write_shards


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return str(write_shards(tmp_path_factory.mktemp("trainer-shards"), {"a": 200, "b": 120, "c": 80}))


def _config(out_dir, shards, **over):
    raw = {
        "out_dir": str(out_dir), "seed": 0, "device": "cpu", "steps": 16, "log_interval": 1, "eval_interval": 4,
        "checkpoint_interval": 4, "export_hf": False, "cooldown_fraction": 0.0,
        "model": {"n_layer": 1, "n_head": 2, "d_model": 32, "pad_vocab_multiple": 1},
        "data": {"shards": [shards], "seq_len": 32, "batch_size": 4, "val_batches": 2, "val_fraction": 0.1,
                 "sampler": {"curriculum": {"column": "length", "pacing": "root", "length": 30, "start": 0.2},
                             "domain_weights": {"reference": {"a": 2.0, "b": 6.0, "c": 6.0}},
                             "batch_size": {"kind": "linear_ramp", "start": 1, "end": 3, "ramp_tokens": 1000,
                                            "micro_tokens": 128}}},
        "optim": {"lr": 3e-3, "warmup_steps": 2},
    }
    return load_config(raw, [f"{k}={json.dumps(v)}" for k, v in over.items()])


def _rows(out_dir):
    return [json.loads(x) for x in (out_dir / "metrics.jsonl").read_text().splitlines()]


def test_trainer_with_schedulers_resumes_exactly(shards, tmp_path):
    straight = train(_config(tmp_path / "a", shards))
    cfg = _config(tmp_path / "b", shards)
    assert train(cfg, stop_at=8)["step"] == 8
    resumed = train(_config(tmp_path / "b", shards))  # a fresh process: new sampler, new loaders
    assert resumed["step"] == straight["step"] == 16
    a = [(r["step"], r["loss"], r["tokens"]) for r in _rows(tmp_path / "a") if "loss" in r]
    b = [(r["step"], r["loss"], r["tokens"]) for r in _rows(tmp_path / "b") if "loss" in r]
    assert a == b  # bit-for-bit losses, and the same batch sizes (tokens)
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "step-0000016.pt", weights_only=False)
    sampler_state = ckpt["loaders"][0]["sampler"]
    assert "sampler" not in ckpt["loaders"][0]["loader"]  # saved once: by the trainer, not in the loader's state
    history = sampler_state["domain_weights"]["history"]
    assert [h["step"] for h in history] == [0, 4, 8, 12, 16]  # one update per evaluation
    # the reference says source a should reach 2.0 nats and b, c 6.0: a is behind, so it gains weight
    assert history[-1]["weights"]["a"] > 0.9
    tokens = [t for _, _, t in a]
    per_step = [y - x for x, y in zip([0] + tokens, tokens)]
    assert per_step[0] == 128 and per_step[-1] == 3 * 128  # the batch ramps from 1 to 3 micro-batches


def _norm_test_config(out_dir, shards):
    return _config(out_dir, shards, **{"steps": 10, "data.sampler": {
        "batch_size": {"kind": "norm_test", "eta": 0.8, "start": 2, "max_accum": 8}}})


def test_norm_test_in_the_trainer_grows_the_batch_and_resumes_exactly(shards, tmp_path):
    train(_norm_test_config(tmp_path / "a", shards))  # the trainer attaches the gradient hooks itself
    assert train(_norm_test_config(tmp_path / "b", shards), stop_at=4)["step"] == 4
    train(_norm_test_config(tmp_path / "b", shards))
    a = [(r["step"], r["loss"], r["tokens"]) for r in _rows(tmp_path / "a") if "loss" in r]
    b = [(r["step"], r["loss"], r["tokens"]) for r in _rows(tmp_path / "b") if "loss" in r]
    assert a == b
    per_step = [y - x for x, y in zip([0] + [t for _, _, t in a], [t for _, _, t in a])]
    accum = [t // 128 for t in per_step]
    assert accum[0] == 2 and all(y >= x for x, y in zip(accum, accum[1:]))  # 2 micro-batches, then more
    assert accum[5] < accum[-1]  # still growing after the checkpoint at step 4: the pending test was restored
