import hashlib
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from datamill.stages.tokens import tokenizer as toklib
from datamill.stages.metadata_prefix import MetadataPrefix
from datamill.catalog import STAGES
from datamill.stages.tokens.token_shards import TokenShards
from datamill.shards import ShardSet, token_dtype
from tests.conftest import run_plan
from tests.stages.shard_corpora import clough, split, stories, web


def doc_map(shard_dir) -> dict[str, tuple]:
    s = ShardSet(shard_dir)
    return {r["id"]: (tuple(s.doc_tokens(r["shard"], r["offset"], r["length"]).tolist()), r["prefix_len"],
                      r["source"]) for r in s.index().to_pylist()}


def test_round_trip_on_real_web_text(client, web_text, tmp_path):
    """Decoding a document's tokens gives back its text exactly (no normalisation)."""
    table = MetadataPrefix()(web(web_text))
    stage = TokenShards(tokenizer={"train_vocab": 2048}, max_shard_tokens=200_000)
    rows = run_plan(client, stage, split(table, 3), tmp_path=tmp_path)
    assert STAGES["token_shards"] is TokenShards
    shards = ShardSet(tmp_path)
    tok = (tmp_path / "tokenizer.json").read_text()
    assert shards.dtype == np.uint16 and shards.vocab_size == 2048 and len(shards.shards) > 3
    assert all(s.tokens.size <= 200_000 for s in shards.shards)
    texts = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    prefixes = dict(zip(table.column("id").to_pylist(), table.column("metadata_prefix").to_pylist()))
    index = shards.index().to_pylist()
    assert len(index) == table.num_rows == sum(r.num_rows for r in rows)
    for r in index:
        toks = shards.doc_tokens(r["shard"], r["offset"], r["length"])
        assert toks[-1] == shards.eos_id and shards.eos_id not in toks[:-1]
        assert toklib.decode(tok, toks[:r["prefix_len"]]) == prefixes[r["id"]]
        assert toklib.decode(tok, toks[r["prefix_len"]:-1]) == texts[r["id"]]
    m = shards.manifest
    assert m["totals"]["docs"] == table.num_rows
    assert m["totals"]["tokens"] == sum(s.tokens.size for s in shards.shards)
    assert m["sources"]["web"]["prefix_tokens"] == sum(r["prefix_len"] for r in index) > 0
    assert "exactly" in m["tokenizer"]["normalization"]


def small_corpus(shared_data) -> pa.Table:
    t = pa.concat_tables([stories(shared_data, splits=("dev",)), clough(shared_data)])
    return MetadataPrefix()(t)


def test_same_result_for_any_partitioning(client, shared_data, tmp_path):
    table = small_corpus(shared_data)
    stage = TokenShards(tokenizer={"train_vocab": 600, "sample_bytes": 300_000})
    run_plan(client, stage, [table], tmp_path=tmp_path / "one")
    run_plan(client, stage, split(table, 4), tmp_path=tmp_path / "four")
    one, four = (tmp_path / "one" / "tokenizer.json").read_text(), (tmp_path / "four" / "tokenizer.json").read_text()
    assert one == four
    assert doc_map(tmp_path / "one") == doc_map(tmp_path / "four")
    m1, m4 = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("one", "four"))
    assert m1["sources"] == m4["sources"] and m1["totals"] == m4["totals"]
    assert len(m4["shards"]) == 4
    other = TokenShards(tokenizer={"train_vocab": 600, "sample_bytes": 300_000, "seed": 1})
    run_plan(client, other, [table], tmp_path=tmp_path / "seed1")
    assert (tmp_path / "seed1" / "tokenizer.json").read_text() != one  # the seed picks the sample


def test_training_is_deterministic_across_processes(shared_data):
    code = ("import sys, hashlib; from tests.stages.shard_corpora import clough; from pathlib import Path;"
            "from datamill.stages.tokens.tokenizer import train_bpe;"
            "t = clough(Path(sys.argv[1])).column('text').to_pylist();"
            "print(hashlib.sha256(train_bpe(t, 800).encode()).hexdigest())")
    runs = {subprocess.run([sys.executable, "-c", code, str(shared_data)], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1 and len(runs.pop().strip()) == 64


def test_loaded_tokenizer_scores_sources_and_sizes(client, shared_data, tmp_path):
    table = small_corpus(shared_data)
    table = table.append_column("quality_score", pa.array(np.linspace(0, 1, table.num_rows)))
    table = table.append_column("note", pa.array(["x"] * table.num_rows))
    tok_path = tmp_path / "tok.json"
    tok_path.write_text(toklib.train_bpe(table.column("text").to_pylist(), 700))
    stage = TokenShards(tokenizer={"path": str(tok_path)}, max_shard_tokens=20_000)
    rows = run_plan(client, stage, split(table, 2), tmp_path=tmp_path / "out")
    shards = ShardSet(tmp_path / "out")
    assert shards.manifest["tokenizer"]["origin"] == {"path": str(tok_path)}
    assert shards.manifest["tokenizer"]["sha256"] == hashlib.sha256(tok_path.read_bytes()).hexdigest()
    index = shards.index()
    assert "quality_score" in index.column_names and "note" not in index.column_names
    assert set(index.column("source").to_pylist()) == {"stories", "clough"}
    for s in shards.shards:  # bounded (a single longer document stands alone), sources contiguous
        assert s.tokens.size <= 20_000 or s.index.num_rows == 1
        src = s.index.column("source").to_pylist()
        assert src == sorted(src)
    out = pa.concat_tables(rows)
    assert out.num_rows == table.num_rows and {"shard", "offset", "length", "prefix_len"} <= set(out.column_names)


def test_wide_vocabulary_uses_uint32(client, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(70_000)} | {"<|endoftext|>": 70_000, "[UNK]": 70_001}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / "wide.json"
    path.write_text(tok.to_str())
    table = pa.table({"id": ["a", "b"], "text": ["w1 w69999", "w65536 w2 w3"]})
    run_plan(client, TokenShards(tokenizer={"path": str(path)}), [table], tmp_path=tmp_path / "out")
    shards = ShardSet(tmp_path / "out")
    assert shards.dtype == np.uint32 and token_dtype(65_536) == np.uint16
    assert shards.shards[0].tokens.tolist() == [1, 69999, 70_000, 65536, 2, 3, 70_000]


def test_bad_config_and_missing_eos(client, tmp_path):
    with pytest.raises(ValueError, match="train_vocab"):
        TokenShards(tokenizer={"train_vocab": 100})
    from tokenizers import Tokenizer, models

    path = tmp_path / "noeos.json"
    path.write_text(Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")).to_str())
    with pytest.raises(Exception, match="no token '<|endoftext|>'"):
        run_plan(client, TokenShards(tokenizer={"path": str(path)}), [pa.table({"id": ["1"], "text": ["a"]})],
                 tmp_path=tmp_path / "out")


def test_pipeline_ends_in_shards_the_loader_reads(client, shared_data, tmp_path):
    """sources -> mix -> metadata_prefix -> token_shards through the engine, then the loader."""
    import pyarrow.parquet as pq

    from datamill.pipeline.io import read_stage
    from datamill.pipeline.runner import run_pipeline
    from datamill.train.data import ShardLoader

    pq.write_table(stories(shared_data, splits=("dev",)).drop_columns(["source"]), tmp_path / "stories.parquet")
    cfg = {"name": "shards-e2e", "output": str(tmp_path / "run"),
           "sources": {"stories": {"format": "parquet", "path": str(tmp_path / "stories.parquet")},
                       "clough": {"format": "text", "path": str(shared_data / "neardup-clough" / "*.txt")}},
           "stages": {"mix": {"use": "mix", "inputs": ["stories", "clough"],
                              "weights": {"stories": 0.8, "clough": 0.2}, "seed": 1},
                      "meco": {"use": "metadata_prefix", "input": "mix", "missing": "fixed"},
                      "shards": {"use": "token_shards", "input": "meco",
                                 "tokenizer": {"train_vocab": 700}, "seq_len": 128}}}
    run_pipeline(cfg, client=client, progress=False)
    out = tmp_path / "run" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["sources"]) == {"stories", "clough"} and manifest["seq_len"] == 128
    assert abs(manifest["sources"]["clough"]["share"] - 0.2) < 0.05  # mixed by bytes (the default count)
    rows = read_stage(str(tmp_path / "run"), "shards")
    assert rows.num_rows == manifest["totals"]["docs"] and (rows.column("prefix_len").to_numpy() > 0).all()
    loader = ShardLoader([str(out)], seq_len=128, batch_size=4, weights={"clough": 1.0})
    masks = np.concatenate([loader.next_batch().loss_mask for _ in range(10)])
    assert masks.shape == (40, 128) and 0 < (masks == 0).mean() < 0.2  # prefixes masked, text trained on
