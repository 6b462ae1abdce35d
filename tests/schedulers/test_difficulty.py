import hashlib

import numpy as np
import pyarrow as pa
import pytest

from datamill import shards as fmt
from datamill.schedulers.difficulty import compression_difficulty
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
