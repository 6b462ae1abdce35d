"""Same config and seed, same bytes: across worker counts, partition counts, and the embedded
(in-process) cluster vs a multi-process one, for every stage but EntiGraph (which needs an LLM
server): the rule stages, dedup, mixing and shards on real text, the fastText quality filter
with a model trained here, and the embedding stages (embed, semdedup, d4) on a small sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from tests.proc_cluster import ROOT, worker_env
from tests.reliability.figures import record
from tests.reliability.runs import data_files, stage_digests

RULE_STAGES = {
    "clean": {"use": "clean_text", "input": "docs"},
    "length": {"use": "length_filter", "input": "clean", "min_words": 20},
    "exact": {"use": "exact_dedup", "input": "length"},
    "near": {"use": "minhash_dedup", "input": "exact", "threshold": 0.7},
    "language": {"use": "language_filter", "input": "near", "mode": "annotate"},
    "repetition": {"use": "gopher_repetition", "input": "language", "mode": "annotate"},
    "gopher": {"use": "gopher_quality", "input": "repetition"},
    "c4": {"use": "c4_quality", "input": "gopher", "require_terminal_punct": False},
    "fineweb": {"use": "fineweb_quality", "input": "c4", "mode": "annotate"},
    "toxicity": {"use": "toxicity_filter", "input": "fineweb", "wordlist_path": "BADWORDS", "max_bad_words": 2},
    "quality": {"use": "quality_filter", "input": "toxicity", "model": "MODEL", "label": "__label__hq",
                "keep_fraction": 0.8},
    "meco": {"use": "metadata_prefix", "input": "quality"},
    "web_clean": {"use": "clean_text", "input": "web"},
    "mix": {"use": "mix", "inputs": ["meco", "web_clean"], "weights": {"meco": 0.8, "web_clean": 0.2}, "seed": 3},
    "shards": {"use": "token_shards", "input": "mix", "tokenizer": {"train_vocab": 512}, "seq_len": 64},
    "meco_shards": {"use": "token_shards", "input": "meco", "tokenizer": {"train_vocab": 512}, "seq_len": 64},
}
TABLE_STAGES = [s for s in RULE_STAGES if "shards" not in s]
ORDERED = [s for s in TABLE_STAGES if s != "mix"]  # mix: same rows, order follows partitions (see below)


@pytest.fixture(scope="module")
def quality_model(tmp_path_factory) -> str:
    """A small classifier from ``datamill fit-classifier`` (python docs with examples = 'hq')."""
    from datamill.pipeline.pydocs import python_docs

    path = tmp_path_factory.mktemp("model")
    rows = [{"text": d["text"], "label": int(">>>" in d["text"])} for d in python_docs()[:400]]
    (path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = subprocess.run([sys.executable, "-m", "datamill.cli", "fit-classifier", str(path / "train.jsonl"),
                           "-o", str(path / "quality.bin"), "--label-name", "hq", "--threads", "1", "--dim", "16",
                           "--epoch", "5", "--bucket", "20000"],
                          env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return str(path / "quality.bin")


def rules_config(out: Path, partition_rows: int, shared_data: Path, model: str) -> dict:
    stages = {k: dict(v) for k, v in RULE_STAGES.items()}
    stages["toxicity"]["wordlist_path"] = str(shared_data / "badwords-ldnoobw" / "en")
    stages["quality"]["model"] = model
    web = str(shared_data / "web-dolma-fixtures" / "multiple_files__cc_en_head-*.jsonl.gz")
    return {"name": "det", "output": str(out), "stages": stages,
            "sources": {"docs": {"format": "python_docs"}, "web": {"format": "jsonl", "path": web, "url_field": "id"}},
            "execution": {"partition_rows": partition_rows}}


def test_rule_stages_are_byte_identical_across_workers_partitions_and_clusters(
        client, proc_cluster, tmp_path, shared_data, quality_model):
    one = run_pipeline(rules_config(tmp_path / "one", 100_000, shared_data, quality_model), client=client,
                       progress=False)
    many = run_pipeline(rules_config(tmp_path / "many", 97, shared_data, quality_model), client=client,
                        progress=False)
    with proc_cluster.client() as c:
        procs = run_pipeline(rules_config(tmp_path / "procs", 97, shared_data, quality_model), client=c,
                             progress=False)
    record("determinism_runs", 3)
    assert many.stats["docs"]["partitions"] >= 9 and one.stats["docs"]["partitions"] == 1
    for name in TABLE_STAGES:  # every stage did something measurable
        assert many.stats[name]["rows_out"] > 0, name
    assert many.stats["exact"]["removed"] and many.stats["gopher"]["removed"]
    # 2 threads in one process vs 3 worker processes, same partitioning: every file, every byte
    assert data_files(tmp_path / "procs") == data_files(tmp_path / "many")
    # 1 partition vs 10: every stage's rows, in order, all columns
    assert stage_digests(tmp_path / "one", ORDERED) == stage_digests(tmp_path / "many", ORDERED)
    assert sorted_rows(tmp_path / "one", "mix") == sorted_rows(tmp_path / "many", "mix")
    # token shards are cut per partition; the token stream and the document index are not
    assert token_stream(tmp_path / "one" / "meco_shards") == token_stream(tmp_path / "many" / "meco_shards")
    record("stages_checked_for_determinism", len(RULE_STAGES))


def sorted_rows(run_dir: Path, stage: str) -> list:
    table = read_stage(str(run_dir), stage)
    return sorted(map(repr, table.to_pylist()))


def token_stream(stage_dir: Path) -> tuple:
    """All shards' tokens and index rows in shard order (offsets are per shard, so left out)."""
    import pyarrow.parquet as pq

    bins = b"".join(p.read_bytes() for p in sorted((stage_dir / "shards").glob("*.bin")))
    index = [_without(pq.read_table(p), "offset", "shard").to_pylist() for p in sorted((stage_dir / "shards").glob("*.parquet"))]
    tokenizer = (stage_dir / "tokenizer.json").read_bytes()
    return bins, [row for part in index for row in part], tokenizer


def _without(table, *columns):
    return table.drop_columns([c for c in columns if c in table.column_names])


def test_mix_row_order_does_not_depend_on_partitioning(client, tmp_path, shared_data):
    stages = {"clean": {"use": "clean_text", "input": "docs"}, "web_clean": {"use": "clean_text", "input": "web"},
              "mix": {"use": "mix", "inputs": ["clean", "web_clean"], "weights": {"clean": 0.8, "web_clean": 0.2}}}
    web = str(shared_data / "web-dolma-fixtures" / "multiple_files__cc_en_head-*.jsonl.gz")
    runs = []
    for rows in (100_000, 97):
        cfg = {"name": "mix", "output": str(tmp_path / str(rows)), "stages": stages,
               "sources": {"docs": {"format": "python_docs"}, "web": {"format": "jsonl", "path": web}},
               "execution": {"partition_rows": rows}}
        runs.append(run_pipeline(cfg, client=client, progress=False).output)
    assert read_stage(runs[0], "mix").column("id").equals(read_stage(runs[1], "mix").column("id"))


def embedding_config(out: Path, partition_rows: int, shared_data: Path) -> dict:
    web = str(shared_data / "web-dolma-fixtures" / "multiple_files__cc_en_head-*.jsonl.gz")
    model = {"max_length": 128, "device": "cpu"}
    return {"name": "emb", "output": str(out), "execution": {"partition_rows": partition_rows},
            "sources": {"web": {"format": "jsonl", "path": web, "url_field": "id"}},
            "stages": {"embed": {"use": "embed", "input": "web", **model},
                       "semdedup": {"use": "semdedup", "input": "web", "n_clusters": 2, "r_dedup": 0.5, **model},
                       "d4": {"use": "d4", "input": "web", "n_clusters": 2, "r_dedup": 0.5, "r_proto": 0.8, **model}}}


@pytest.mark.slow  # loads the model in 4 processes: ~30-70 s on 2 busy cores
def test_embedding_stages_are_identical_across_partitions_and_clusters(client, proc_cluster, tmp_path, shared_data):
    """embed, semdedup and d4 (all-MiniLM-L6-v2 on CPU) on the 20 Common Crawl documents."""
    pytest.importorskip("sentence_transformers")
    one = run_pipeline(embedding_config(tmp_path / "one", 1000, shared_data), client=client, progress=False)
    many = run_pipeline(embedding_config(tmp_path / "many", 6, shared_data), client=client, progress=False)
    with proc_cluster.client() as c:
        run_pipeline(embedding_config(tmp_path / "procs", 6, shared_data), client=c, progress=False)
    record("determinism_runs", 3)
    assert many.stats["web"]["partitions"] == 4 and one.stats["web"]["partitions"] == 2
    assert many.stats["semdedup"]["removed"] and many.stats["d4"]["removed"]
    stages = ["embed", "semdedup", "d4"]
    assert stage_digests(tmp_path / "one", stages) == stage_digests(tmp_path / "many", stages)
    assert stage_digests(tmp_path / "procs", stages) == stage_digests(tmp_path / "many", stages)
    record("stages_checked_for_determinism", len(stages))
