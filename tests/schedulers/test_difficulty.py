import hashlib
import json
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from datamill.schedulers.curriculum import Curriculum
from datamill.schedulers.difficulty import compression_difficulty, load_model, main, perplexity_difficulty
from datamill import shards as fmt
from datamill.train.checkpoint import checkpoint_path, save_checkpoint
from datamill.train.config import ModelConfig
from datamill.train.model import Transformer
from datamill.shards import ShardSet
from tests.schedulers.synthetic_shards import VOCAB, write_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return str(write_shards(tmp_path_factory.mktemp("difficulty-shards"), {"a": 30, "b": 20}, max_len=90))


def test_compression_difficulty_ranks_redundant_text_easier(shards, tmp_path):
    table = compression_difficulty([shards])
    index = ShardSet(shards).index()
    assert table.column("id").to_pylist() == index.column("id").to_pylist()
    v = table.column("compression_difficulty").to_numpy()
    assert ((v > 0) & (v < 1.2)).all()
    # a repeated phrase compresses far better than the Markov text of the same length
    rep = np.tile(np.arange(1, 9, dtype=np.uint16), 20)
    d = tmp_path / "rep"
    d.mkdir()
    tok = b"{}"
    fmt.atomic_write_bytes(d / fmt.TOKENIZER, tok)
    idx = pa.table({"id": ["rep"], "id_hash": pa.array([1], pa.uint64()), "source": ["a"],
                    "offset": pa.array([0], pa.int64()), "length": pa.array([len(rep)], pa.int32()),
                    "prefix_len": pa.array([0], pa.int32())})
    entry = fmt.write_shard(d, "00000-000", rep, idx)
    fmt.write_manifest(d, {"tokenizer": {"file": fmt.TOKENIZER, "sha256": hashlib.sha256(tok).hexdigest(),
                                         "vocab_size": VOCAB, "eos_id": 0}, "dtype": "uint16", "shards": [entry]})
    assert compression_difficulty([str(d)]).column("compression_difficulty")[0].as_py() < 0.3 < np.median(v)


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
