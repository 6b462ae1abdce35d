"""The schedulers through the real shard loader: curriculum windows, mixture, exact resume."""

import json

import numpy as np
import pytest

from datamill.schedulers import Schedulers
from datamill.train.data import ShardLoader
from tests.schedulers.synthetic_shards import EOS, write_shards

REF = {"a": 3.0, "b": 3.0, "c": 3.0}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return str(write_shards(tmp_path_factory.mktemp("sched-shards"), {"a": 300, "b": 200, "c": 100}))


def _sampler():
    return Schedulers(curriculum={"column": "length", "pacing": "linear", "length": 30, "start": 0.1},
                      domain_weights={"reference": REF, "eta": 2.0})


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
    sampler = Schedulers(curriculum={"column": "length", "pacing": "linear", "length": 100, "start": 0.1})
    loader = ShardLoader([shards], seq_len=256, batch_size=16, sampler=sampler, verify="size")
    limit = {s: np.quantile(loader._docs[s].column("length").to_numpy(), 0.1) for s in loader.sources}
    b = loader.next_batch()
    for row, src in zip(b.input_ids, b.sources):
        first_eos = int(np.flatnonzero(row == EOS)[0])  # each window starts at a document's first token
        assert first_eos + 1 <= limit[src]  # ... of one of the easiest tenth (here: the shortest)


def test_domain_weights_steer_the_loader_mixture(shards):
    sampler = Schedulers(domain_weights={"reference": REF, "eta": 5.0})
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
    state = json.loads(json.dumps(first.state_dict()))  # the loader's state carries the sampler's
    s3 = _sampler()
    resumed = ShardLoader([shards], sampler=s3, **kw)
    resumed.load_state_dict(state)
    tail = _run(resumed, s3, 60, start=25)
    assert len(head + tail) == len(straight)
    for (x, sx), (y, sy) in zip(straight, head + tail):
        np.testing.assert_array_equal(x, y)
        assert sx == sy
    assert s3.domain_weights.history == s1.domain_weights.history
    assert s1.weights(60)["a"] > 0.5  # the weights did move during the run


def test_sampler_state_mismatch_is_an_error(shards):
    a = Schedulers(domain_weights={"reference": REF})
    b = Schedulers(curriculum={"column": "length"})
    with pytest.raises(ValueError, match="schedulers"):
        b.load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="sampler.curriculum: unknown key"):
        Schedulers(curriculum={"colum": "length"})
    with pytest.raises(ValueError, match="sampler.batch_size.kind"):
        Schedulers(batch_size={"end": 4})
