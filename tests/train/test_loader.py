import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pyarrow.parquet  # noqa: F401
import pytest

from datamill.stages.tokens import tokenizer as toklib
from datamill.stages.metadata_prefix import MetadataPrefix
from datamill.stages.tokens.token_shards import TokenShards
from datamill.schedulers import Schedulers
from datamill.train.data import Batch, ShardLoader
from datamill.shards import ShardError
from tests.conftest import run_plan
from tests.stages.shard_corpora import clough, split, stories

WIKI_TEXT = "X is the 24th letter of the Latin alphabet."
LIT = [("lit-0", None, "An opening document without a URL."),
       ("lit-1", "https://en.wikipedia.org/wiki/X", WIKI_TEXT),
       ("lit-2", "https://www.example.com/page", "A closing document.")]


@pytest.fixture(scope="module")
def shard_dir(client, shared_data, tmp_path_factory):
    lit = pa.table({"id": [r[0] for r in LIT], "url": pa.array([r[1] for r in LIT], pa.string()),
                    "text": [r[2] for r in LIT], "source": ["lit"] * len(LIT)})
    real = pa.concat_tables([stories(shared_data, splits=("dev",)), clough(shared_data)])
    table = MetadataPrefix()(pa.concat_tables([lit, real]))
    out = tmp_path_factory.mktemp("shards")
    run_plan(client, TokenShards(tokenizer={"train_vocab": 800}, max_shard_tokens=50_000), split(table, 3),
             tmp_path=out)
    return out


def decode(shard_dir, ids) -> str:
    return toklib.decode((shard_dir / "tokenizer.json").read_text(), ids)


def test_meco_prefix_is_masked_and_left_out_in_cooldown(shard_dir):
    loader = ShardLoader([str(shard_dir)], seq_len=64, batch_size=1, order="sequential", val_fraction=0.0,
                         weights={"lit": 1.0})
    b = loader.next_batch()
    assert isinstance(b, Batch) and b.sources == ["lit"] and b.input_ids.shape == (1, 64)
    assert b.input_ids.dtype == np.int64 and b.loss_mask.dtype == np.float32 and b.doc_ids.dtype == np.int32
    masked = np.flatnonzero(b.loss_mask[0] == 0)
    runs = np.split(masked, np.flatnonzero(np.diff(masked) > 1) + 1)  # contiguous masked runs
    tok = (shard_dir / "tokenizer.json").read_text()
    n_wiki, n_example = (len(toklib.encode(tok, [p])[0]) for p in ("URL: en.wikipedia.org\n\n",
                                                                    "URL: www.example.com\n\n"))
    assert len(runs) == 2 and len(runs[0]) == n_wiki  # mask 0 on exactly the prefix tokens
    assert decode(shard_dir, b.targets[0, runs[0]]) == "URL: en.wikipedia.org\n\n"
    assert len(runs[1]) == min(n_example, 64 - runs[1][0])  # the next prefix, up to the window's end
    assert runs[1][-1] == 63 and "URL: www.example.com\n\n".startswith(decode(shard_dir, b.targets[0, runs[1]]))
    doc = b.targets[0, runs[0][-1] + 1:runs[1][0]]  # mask 1 on the document tokens (and its EOS)
    assert decode(shard_dir, doc) == WIKI_TEXT + "<|endoftext|>" and (b.loss_mask[0, runs[0][-1] + 1:runs[1][0]] == 1).all()
    assert decode(shard_dir, b.input_ids[0, :runs[0][0] + 1]) == LIT[0][2] + "<|endoftext|>"

    loader.load_state_dict(ShardLoader([str(shard_dir)], seq_len=64, batch_size=1, order="sequential",
                                       val_fraction=0.0, weights={"lit": 1.0}).state_dict())
    loader.set_strip_metadata(True)
    c = loader.next_batch()
    text = decode(shard_dir, c.input_ids[0])
    assert "URL:" not in text and (c.loss_mask == 1).all()
    assert text.startswith(LIT[0][2] + "<|endoftext|>" + WIKI_TEXT + "<|endoftext|>" + LIT[2][2])


def test_segments_change_exactly_after_eos(shard_dir):
    loader = ShardLoader([str(shard_dir)], seq_len=128, batch_size=8, seed=1, val_fraction=0.0)
    for _ in range(10):
        b = loader.next_batch()
        assert (np.diff(b.doc_ids, axis=1) >= 0).all() and (b.doc_ids[:, 0] == 0).all()
        changed = np.diff(b.doc_ids, axis=1) == 1
        assert (changed == (b.input_ids[:, :-1] == loader.eos_id)).all()
        assert (b.targets[:, :-1] == b.input_ids[:, 1:]).all()


def take(loader, n):
    return [loader.next_batch() for _ in range(n)]


def same(a: list[Batch], b: list[Batch]) -> bool:
    return all((x.input_ids == y.input_ids).all() and (x.targets == y.targets).all() and
               (x.loss_mask == y.loss_mask).all() and (x.doc_ids == y.doc_ids).all() and x.sources == y.sources
               for x, y in zip(a, b, strict=True))


def test_resume_gives_the_same_batches(shard_dir):
    def make():
        return ShardLoader([str(shard_dir)], seq_len=256, batch_size=4, seed=5,
                           weights={"stories": 0.5, "clough": 0.4, "lit": 0.1})
    a = make()
    take(a, 30)  # past an epoch of the small sources
    a.set_weights({"stories": 0.2, "clough": 0.8})
    a.set_strip_metadata(True)
    state = json.loads(json.dumps(a.state_dict()))  # plain JSON-able data
    expected = take(a, 12)
    b = make()
    b.load_state_dict(state)
    assert same(take(b, 12), expected)
    assert not same(take(make(), 12), expected)
    other_seed = ShardLoader([str(shard_dir)], seq_len=256, batch_size=4, seed=6)
    with pytest.raises(ValueError, match="different shards or settings"):
        ShardLoader([str(shard_dir)], seq_len=128, batch_size=4).load_state_dict(other_seed.state_dict())


def test_weights_give_token_shares_and_ranks_split_the_global_batch(shard_dir):
    weights = {"stories": 0.6, "clough": 0.3, "lit": 0.1}
    loader = ShardLoader([str(shard_dir)], seq_len=64, batch_size=10, weights=weights)
    sources = [s for b in take(loader, 20) for s in b.sources]
    for s, w in weights.items():
        assert abs(sources.count(s) / len(sources) - w) <= 1 / len(sources)
    whole = take(ShardLoader([str(shard_dir)], seq_len=64, batch_size=8, seed=2), 3)
    ranks = [take(ShardLoader([str(shard_dir)], seq_len=64, batch_size=4, seed=2, rank=r, world_size=2), 3)
             for r in range(2)]
    for w, r0, r1 in zip(whole, *ranks):
        assert (np.concatenate([r0.input_ids, r1.input_ids]) == w.input_ids).all()
        assert r0.sources + r1.sources == w.sources
    natural = ShardLoader([str(shard_dir)], seq_len=64, batch_size=50)  # weights None: by tokens
    src = natural.next_batch().sources
    assert src.count("stories") > src.count("clough") > src.count("lit")
    natural.set_batch_size(3)
    assert natural.next_batch().input_ids.shape == (3, 64)


def test_val_split_is_held_out_and_seed_independent(shard_dir):
    train = ShardLoader([str(shard_dir)], seq_len=64, batch_size=2, val_fraction=0.2)
    val = ShardLoader([str(shard_dir)], seq_len=64, batch_size=2, val_fraction=0.2, split="val", seed=9)
    ids = {name: {i for t in loader._docs.values() for i in t.column("id").to_pylist()}
           for name, loader in (("train", train), ("val", val))}
    assert ids["train"].isdisjoint(ids["val"]) and len(ids["val"]) > 0
    assert 0.05 < len(ids["val"]) / (len(ids["train"]) + len(ids["val"])) < 0.4
    again = ShardLoader([str(shard_dir)], seq_len=64, batch_size=2, val_fraction=0.2, split="val", seed=1)
    assert {i for t in again._docs.values() for i in t.column("id").to_pylist()} == ids["val"]


def test_sequential_order_reads_the_stream_in_order(shard_dir):
    loader = ShardLoader([str(shard_dir)], seq_len=100, batch_size=3, order="sequential", val_fraction=0.0,
                         weights={"clough": 1.0})
    docs = loader._docs["clough"]
    shard = loader._mmaps
    stream = np.concatenate([shard[r["shard"]][r["offset"]:r["offset"] + r["length"]]
                             for r in docs.to_pylist()]).astype(np.int64)
    rows = np.concatenate([b.input_ids for b in take(loader, 4)])
    for k, row in enumerate(rows):
        assert (row == stream[k * 100:k * 100 + 100]).all()


class Curriculum(Schedulers):
    """A sampler: only clough, and within it only its first document."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def weights(self, step):
        return {"clough": 1.0}

    def doc_probabilities(self, source, index, step):
        self.calls += 1
        p = np.zeros(index.num_rows)
        p[0] = 1.0
        return p


def test_sampler_hooks(shard_dir):
    sampler = Curriculum()
    loader = ShardLoader([str(shard_dir)], seq_len=32, batch_size=4, sampler=sampler, strip_metadata=True)
    first = loader._docs["clough"].to_pylist()[0]
    want = loader._mmaps[first["shard"]][first["offset"]:first["offset"] + 32]
    for b in take(loader, 3):
        assert b.sources == ["clough"] * 4 and (b.input_ids == want).all()
    assert sampler.calls == 3
    assert "sampler" not in loader.state_dict()  # the trainer checkpoints the sampler, once


def test_damaged_shards_fail_clearly(shard_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(shard_dir, bad)
    bin_file = sorted((bad / "shards").glob("*.bin"))[0]
    data = bytearray(bin_file.read_bytes())
    data[100] ^= 0xFF
    bin_file.write_bytes(bytes(data))
    with pytest.raises(ShardError, match=f"{bin_file.name}: corrupted"):
        ShardLoader([str(bad)], seq_len=64, batch_size=2)
    ShardLoader([str(bad)], seq_len=64, batch_size=2, verify="size")  # sizes alone cannot see it
    bin_file.write_bytes(bytes(data[:-10]))
    with pytest.raises(ShardError, match=f"{bin_file.name}: truncated"):
        ShardLoader([str(bad)], seq_len=64, batch_size=2, verify="size")
    (bad / "manifest.json").unlink()
    with pytest.raises(ShardError, match="no manifest.json"):
        ShardLoader([str(bad)], seq_len=64, batch_size=2)


def test_export_to_hugging_face_dataset(shard_dir, tmp_path, capsys):
    import datasets

    from datamill.train.hf_dataset import main
    from datamill.shards import ShardSet

    shards = ShardSet(shard_dir)
    index = {r["id"]: r for r in shards.index().to_pylist()}
    assert main([str(shard_dir), "-o", str(tmp_path / "disk")]) == 0
    ds = datasets.load_from_disk(capsys.readouterr().out.strip().removeprefix("wrote "))  # the path it prints
    assert ds.num_rows == len(index) and {"input_ids", "prefix_len", "id", "source"} <= set(ds.column_names)
    for row in ds.select(range(0, ds.num_rows, 7)):
        r = index[row["id"]]
        assert row["input_ids"] == shards.doc_tokens(r["shard"], r["offset"], r["length"]).tolist()
        assert row["prefix_len"] == r["prefix_len"] and row["source"] == r["source"]
    assert main([str(shard_dir), "-o", str(tmp_path / "pq"), "--format", "parquet", "--strip-metadata"]) == 0
    stripped = pa.concat_tables([pa.parquet.read_table(p) for p in sorted((tmp_path / "pq").glob("*.parquet"))])
    wiki = stripped.filter(pa.compute.equal(stripped.column("id"), "lit-1")).to_pylist()[0]
    assert decode(shard_dir, wiki["input_ids"]) == WIKI_TEXT + "<|endoftext|>" and wiki["prefix_len"] == 0
    assert (tmp_path / "pq" / "tokenizer.json").read_text() == (shard_dir / "tokenizer.json").read_text()
