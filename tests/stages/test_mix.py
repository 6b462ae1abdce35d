import json

import pyarrow.compute  # noqa: F401  (pa.compute)

import numpy as np
import pyarrow as pa
import pytest

from datamill.stages.tokens import tokenizer as toklib
from datamill.stages.mix import Mix
from datamill.pipeline.tasks import split_removed
from datamill.catalog import STAGES
from datamill.stages.tokens.token_shards import TokenShards
from tests.conftest import run_plan
from tests.stages.shard_corpora import clough, copy_table, split, stories, web

TARGET = {"web": 0.5, "stories": 0.35, "clough": 0.15}


def test_token_shares_on_a_real_multi_source_corpus(client, web_text, shared_data, tmp_path):
    """web up/down-sampled, stories down-sampled, clough repeated ~2x: shares in the shards
    (tokens trained on, EOS included) within 1% of the targets."""
    corpus = {"web": web(web_text).drop_columns(["url"]), "stories": stories(shared_data).drop_columns(["url"]),
              "clough": clough(shared_data).drop_columns(["url"])}
    tok_path = tmp_path / "tokenizer.json"
    sample = [t for table in corpus.values() for t in table.column("text").to_pylist()[::3]]
    tok_path.write_text(toklib.train_bpe(sample, 2048))
    parts = [p for table in corpus.values() for p in split(table, 2)]
    parts = [parts[i] for i in (0, 2, 4, 1, 3, 5)]  # sources spread over partitions
    stage = Mix(weights=TARGET, by="source", total=600_000, count="tokenizer", tokenizer=str(tok_path), seed=3)
    assert STAGES["mix"] is Mix
    mixed = kept(stage, run_plan(client, stage, parts))
    assert "mix_copy" in mixed[0].column_names
    run_plan(client, TokenShards(tokenizer={"path": str(tok_path)}), [copy_table(t) for t in mixed],
             tmp_path=tmp_path / "shards")
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    shares = {s: v["share"] for s, v in manifest["sources"].items()}
    for s, w in TARGET.items():
        assert abs(shares[s] - w) <= 0.01 * w, (s, shares[s], w)  # 1% of the target, relative
    assert abs(manifest["totals"]["tokens"] - 600_000) < 6_000
    src = manifest["sources"]
    assert src["clough"]["repeated_docs"] > 0 and src["clough"]["docs"] > clough(shared_data).num_rows
    assert src["stories"]["repeated_docs"] == 0 and src["stories"]["docs"] < stories(shared_data).num_rows


def kept(stage, tables):
    """What the engine writes: rows with a removal reason (mix_downsampled) dropped."""
    return [split_removed(stage, t, 0)[0] for t in tables]


def ids_and_copies(tables):
    t = pa.concat_tables(kept(Mix(weights={"x": 1.0}), tables))
    return sorted(zip(t.column("id").to_pylist(), t.column("mix_copy").to_pylist(), t.column("mix_group").to_pylist()))


def test_partition_invariance_seed_and_record(client, shared_data):
    a = clough(shared_data).drop_columns(["source"])
    b = stories(shared_data, splits=("dev",)).drop_columns(["source"])
    stage = Mix(weights={"in0": 1.0, "in1": 2.0}, seed=7)  # inputs named as run_plan names them
    whole = run_plan(client, stage, [copy_table(a)], [copy_table(b)])
    parts = run_plan(client, stage, split(a, 3), split(b, 2))
    assert ids_and_copies(whole) == ids_and_copies(parts)
    assert {s for _, _, s in ids_and_copies(whole)} == {"in0", "in1"}
    other = run_plan(client, Mix(weights={"in0": 1.0, "in1": 2.0}, seed=8), [copy_table(a)], [copy_table(b)])
    assert ids_and_copies(other) != ids_and_copies(whole)
    whole = kept(stage, whole)
    size = {s: sum(len(t.encode()) for t, src in zip(pa.concat_tables(whole).column("text").to_pylist(),
                                                      pa.concat_tables(whole).column("mix_group").to_pylist()) if src == s)
            for s in ("in0", "in1")}
    assert abs(size["in0"] / (size["in0"] + size["in1"]) - 1 / 3) < 0.01  # count "bytes" by default
    # copies of one document are not next to each other in its partition
    t = pa.concat_tables(whole)
    ids = t.column("id").to_pylist()
    assert sum(x == y for x, y in zip(ids, ids[1:])) < 0.2 * len(ids)


def test_errors_name_the_problem(client, shared_data):
    a = clough(shared_data)
    with pytest.raises(ValueError, match=r"unknown \['web'\], missing \['in0'\]"):
        run_plan(client, Mix(weights={"web": 1.0}), [copy_table(a)])
    stage = Mix(weights={"in0": 1.0}, total=10 * sum(len(t.encode()) for t in a.column("text").to_pylist()))
    with pytest.raises(ValueError, match="max_repeat"):
        stage._solve(stage._histogram(a, "in0", None))
    with pytest.raises(ValueError, match="count 'tokenizer' needs"):
        Mix(weights={"a": 1.0}, count="tokenizer")
    with pytest.raises(ValueError, match="weights is required"):
        Mix()
    assert np.isclose(sum(Mix(weights={"a": 1, "b": 3}).weights.values()), 4)


def test_downsampled_rows_are_removed_with_a_reason_and_sources_are_kept(client, shared_data):
    a = clough(shared_data)  # source column "clough"
    b = stories(shared_data, splits=("dev",))
    stage = Mix(weights={"in0": 1.0, "in1": 1.0}, seed=7)  # stories is larger: down-sampled
    out = pa.concat_tables(run_plan(client, stage, [copy_table(a)], [copy_table(b)]), promote_options="default")
    first = out.filter(pa.compute.equal(out.column("mix_copy"), 0))
    assert first.num_rows == a.num_rows + b.num_rows  # every row once in round 0, kept or removed
    reasons = first.column("_removal_reason").to_pylist()
    dropped = {g for g, r in zip(first.column("mix_group").to_pylist(), reasons) if r == "mix_downsampled"}
    assert dropped == {"in1"} and 0 < reasons.count("mix_downsampled") < b.num_rows
    assert set(out.column("source").to_pylist()) == set(a.column("source").to_pylist()) | set(b.column("source").to_pylist())


def test_weights_naming_other_inputs_fail_at_config_time(tmp_path):
    from datamill.pipeline.config import load_config
    from datamill.typed_config import ConfigError

    cfg = {"name": "m", "sources": {s: {"format": "text", "path": str(tmp_path / "*.txt")} for s in ("web", "books")},
           "stages": {"mixed": {"use": "mix", "inputs": ["web", "books"], "weights": {"web": 1.0, "code": 1.0}}}}
    with pytest.raises(ConfigError, match=r"stage 'mixed'.*unknown \['code'\], missing \['books'\]"):
        load_config(cfg)


def test_repeat_past_max_repeat_is_one_line_naming_the_stage(client, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": "a", "text": "tiny"}\n')
    (tmp_path / "b.jsonl").write_text("".join(f'{{"id": "b{i}", "text": "a much longer document {i}"}}\n'
                                               for i in range(50)))
    (tmp_path / "c.yaml").write_text(json.dumps({
        "name": "m", "output": str(tmp_path / "run"),
        "sources": {s: {"format": "jsonl", "path": str(tmp_path / f"{s}.jsonl")} for s in "ab"},
        "stages": {"mixed": {"use": "mix", "inputs": ["a", "b"], "weights": {"a": 1.0, "b": 1.0}}}}))
    from datamill.pipeline.runner import run_pipeline
    from datamill.pipeline.source_config import DataError

    with pytest.raises(DataError, match=r"stage 'mixed': mix: 'a' would be repeated [0-9.]+x \(> max_repeat 4.0\)"):
        run_pipeline(str(tmp_path / "c.yaml"), client=client, progress=False)
