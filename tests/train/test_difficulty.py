"""Perplexity difficulty under a trained checkpoint, and the difficulty CLI (datamill.train.difficulty)."""

import json
from dataclasses import asdict

import numpy as np
import pyarrow.compute as pc
import pytest
import torch

from datamill.schedulers.curriculum import Curriculum
from datamill.shards import ShardSet
from datamill.train.checkpoint import checkpoint_path, save_checkpoint
from datamill.train.config import ModelConfig
from datamill.train.difficulty import load_model, main, perplexity_difficulty
from datamill.train.model import Transformer
from tests.schedulers.synthetic_shards import VOCAB, write_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return str(write_shards(tmp_path_factory.mktemp("difficulty-shards"), {"a": 30, "b": 20}, max_len=90))


def _run_dir(tmp_path) -> str:
    torch.manual_seed(0)
    cfg = ModelConfig(n_layer=1, n_head=2, d_model=32, vocab_size=VOCAB, pad_vocab_multiple=1).resolved(VOCAB, 64)
    model = Transformer(cfg)
    save_checkpoint(checkpoint_path(tmp_path / "checkpoints", 5), model=model,
                    optimizer=torch.optim.SGD(model.parameters(), lr=0.1), trainer_state={"step": 5},
                    loader_states=[], config={})
    (tmp_path / "config.json").write_text(json.dumps({"model": asdict(cfg)}))
    return str(tmp_path)


def test_perplexity_difficulty_is_the_per_document_loss(shards, tmp_path):
    run = _run_dir(tmp_path / "run")
    table = perplexity_difficulty([shards], run, max_tokens=40, batch_size=7)
    got = dict(zip(table.column("id").to_pylist(), table.column("ppl_difficulty").to_numpy()))
    model = load_model(run)
    s = ShardSet(shards)
    index = s.index()
    for i in (0, 7, 33):  # one document at a time, no padding
        row = {c: index.column(c)[i].as_py() for c in ("id", "shard", "offset", "length")}
        toks = torch.from_numpy(np.asarray(s.shards[row["shard"]].tokens[row["offset"]:row["offset"] + row["length"] - 1],
                                           np.int64))[:41][None]
        with torch.no_grad():
            want = float(model(toks[:, :-1], toks[:, 1:]))
        assert got[row["id"]] == pytest.approx(want, rel=1e-4)
    assert np.isfinite(list(got.values())).all()
    # and it plugs into a curriculum through the CLI's Parquet file
    out = tmp_path / "ppl.parquet"
    assert main(["perplexity", shards, "--run", run, "--max-tokens", "40", "-o", str(out)]) == 0
    cur = Curriculum(column="ppl_difficulty", scores=str(out), length=10, start=0.2)
    a = index.filter(pc.equal(index.column("source"), "a"))
    p = cur.doc_probabilities("a", a, 0)
    easiest = sorted(a.column("id").to_pylist(), key=got.get)[:6]
    assert {a.column("id")[i].as_py() for i in np.flatnonzero(p)} == set(easiest)
