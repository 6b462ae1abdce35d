"""The schedulers through the real shard loader: curriculum windows, mixture, exact resume."""

import json

import numpy as np
import pytest

from datamill.schedulers import Curriculum, DomainWeights, SamplerConfig, Schedulers
from datamill.train.config import load_config
from datamill.train.data import ShardLoader
from datamill.typed_config import ConfigError
from tests.schedulers.synthetic_shards import EOS, write_shards

REF = {"a": 3.0, "b": 3.0, "c": 3.0}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return str(write_shards(tmp_path_factory.mktemp("sched-shards"), {"a": 300, "b": 200, "c": 100}))


def _sampler():
    return Schedulers(Curriculum(column="length", pacing="linear", length=30, start=0.1),
                      DomainWeights(REF, eta=2.0))


def _losses(step):  # a synthetic evaluation: source a lags its reference, more as training goes on
    return {"a": 3.2 + 0.01 * step, "b": 2.9, "c": 3.0}


def _run(loader, sampler, steps, start=0):
    out = []
    for step in range(start, steps):
        b = loader.next_batch()
        out.append((b.input_ids.copy(), list(b.sources)))
        if step % 10 == 9:
            sampler.on_eval(step + 1, _losses(step + 1))
    return out


def test_curriculum_windows_start_at_admitted_documents(shards):
    sampler = Schedulers(curriculum=Curriculum(column="length", pacing="linear", length=100, start=0.1))
    loader = ShardLoader([shards], seq_len=256, batch_size=16, sampler=sampler, verify="size")
    limit = {s: np.quantile(loader._docs[s].column("length").to_numpy(), 0.1) for s in loader.sources}
    b = loader.next_batch()
    for row, src in zip(b.input_ids, b.sources):
        first_eos = int(np.flatnonzero(row == EOS)[0])  # each window starts at a document's first token
        assert first_eos + 1 <= limit[src]  # ... of one of the easiest tenth (here: the shortest)


def test_domain_weights_steer_the_loader_mixture(shards):
    sampler = Schedulers(domain_weights=DomainWeights(REF, eta=5.0))
    loader = ShardLoader([shards], seq_len=32, batch_size=64, sampler=sampler, verify="size")
    before = loader.next_batch().sources
    assert abs(before.count("a") - 64 / 3) <= 1  # uniform start (stride scheduling is exact)
    sampler.on_eval(1, {"a": 3.5, "b": 3.0, "c": 3.0})
    share = sampler.weights(1)["a"]
    after = loader.next_batch().sources
    assert share > 0.8 and abs(after.count("a") - 64 * share) <= 2


def test_resume_reproduces_the_sampling_order_exactly(shards):
    kw = dict(seq_len=64, batch_size=8, seed=3, verify="size")
    s1 = _sampler()
    straight = _run(ShardLoader([shards], sampler=s1, **kw), s1, 60)
    s2 = _sampler()
    first = ShardLoader([shards], sampler=s2, **kw)
    head = _run(first, s2, 25)
    assert "sampler" not in first.state_dict()  # the trainer saves the sampler's state, once
    state = json.loads(json.dumps({"loader": first.state_dict(), "sampler": s2.state_dict()}))
    s3 = _sampler()
    resumed = ShardLoader([shards], sampler=s3, **kw)
    resumed.load_state_dict(state["loader"])
    s3.load_state_dict(state["sampler"])
    tail = _run(resumed, s3, 60, start=25)
    assert len(head + tail) == len(straight)
    for (x, sx), (y, sy) in zip(straight, head + tail):
        np.testing.assert_array_equal(x, y)
        assert sx == sy
    assert s3.domain_weights.history == s1.domain_weights.history
    assert s1.weights(60)["a"] > 0.5  # the weights did move during the run


def test_sampler_state_mismatch_is_an_error(shards):
    a = Schedulers(domain_weights=DomainWeights(REF))
    b = Schedulers(curriculum=Curriculum(column="length"))
    with pytest.raises(ValueError, match="schedulers"):
        b.load_state_dict(a.state_dict())


def test_schedulers_from_config(shards, tmp_path):
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 1, "val_loss/a": 2.5, "val_loss/b": 3.5}) + "\n")
    cfg = load_config({"data": {"grad_accum": 3, "sampler": {
        "curriculum": {"column": "length", "length": 5},
        "domain_weights": {"reference": str(tmp_path), "initial": {"a": 3, "b": 1}}}}})
    s = Schedulers.from_config(cfg.data.sampler, grad_accum=cfg.data.grad_accum)
    assert isinstance(s.curriculum, Curriculum) and s.curriculum.length == 5
    assert s.domain_weights.ref == {"a": 2.5, "b": 3.5}  # read from the reference run
    assert s.weights(0) == pytest.approx({"a": 0.75, "b": 0.25})
    assert s.batch_size is None and s.grad_accum(0) == 3
    empty = Schedulers.from_config(SamplerConfig())
    assert empty.weights(0) is None and empty.doc_probabilities("a", None, 0) is None
    assert empty.metrics(0) == {} and empty.state_dict() == {} and empty.grad_accum(9) == 1
    with pytest.raises(ConfigError, match="'sampler'.*'curriculum'.*unknown key"):
        load_config({"data": {"sampler": {"curriculum": {"colum": "length"}}}})
