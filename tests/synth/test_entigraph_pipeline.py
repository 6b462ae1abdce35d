"""EntiGraph inside a real pipeline run: real stories in, synthetic documents, stats and token shards out."""

import json

import pytest

from datamill.pipeline.errors import StageError
from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from tests.synth.conftest import Fault


def config(shared_data, server, out, **synth):
    backend = {"kind": "openai", "model": "fake-model", "base_url": server.url, "api_key_env": "",
               "timeout_s": 5.0, "backoff_s": 0.05}
    return {
        "name": "entigraph-test",
        "sources": {"stories": {"format": "jsonl", "path": str(shared_data / "squality" / "v1-3_txt_dev.jsonl"),
                                "text_field": "document"}},
        "stages": {
            "synth": {"use": "entigraph", "input": "stories", "backend": backend, "max_triples": 2, **synth},
            "shards": {"use": "token_shards", "input": "synth", "tokenizer": {"train_vocab": 600}, "seq_len": 128},
        },
        "output": str(out), "execution": {"partition_rows": 10},
    }


def test_pipeline_writes_documents_stats_and_shards(shared_data, fake_openai, client, tmp_path):
    out = tmp_path / "run"
    result = run_pipeline(config(shared_data, fake_openai, out), client=client, progress=False)
    synth = read_stage(str(out), "synth")
    llm = result.stats["synth"]["extra"]["llm"]
    assert llm["documents"] == 25 and llm["documents_failed"] == 0
    assert llm["requests"] == fake_openai.count() == 25 * (1 + 6 + 2)  # 4 entities each: 6 pairs, 2 triples
    assert synth.num_rows == llm["summaries"] + llm["pairs"] + llm["triples"] == 25 * 9
    assert set(synth.column("kind").to_pylist()) == {"summary", "pair", "triple"}
    assert (out / "_cache" / "llm.sqlite").is_file()
    stats_file = json.loads((out / "synth" / ".datamill" / "stats.json").read_text())
    assert stats_file["extra"]["llm"]["completion_tokens"] == llm["completion_tokens"] > 0
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    assert manifest and (out / "shards" / "tokenizer.json").is_file()
    assert result.stats["shards"]["rows_in"] == synth.num_rows

    # A config change that re-runs the stage but not its requests: all served from the request cache.
    n = fake_openai.count()
    again = run_pipeline(config(shared_data, fake_openai, out, failure_samples=7), client=client, progress=False)
    assert fake_openai.count() == n
    assert again.stats["synth"]["extra"]["llm"]["cache_hits"] == llm["requests"]
    assert read_stage(str(out), "synth").equals(synth)


def test_a_backend_that_fails_every_document_stops_the_run(shared_data, fake_openai, client, tmp_path):
    fake_openai.faults.append(Fault(match="", kind="malformed", times=10**6))  # a model that never writes JSON
    cfg = config(shared_data, fake_openai, tmp_path / "run", max_attempts=1)
    del cfg["stages"]["shards"]
    with pytest.raises(StageError, match=r"stage 'synth'.*every one of the 25 documents.*unparseable reply"):
        run_pipeline(cfg, client=client, progress=False)
    assert not (tmp_path / "run" / "synth" / ".datamill" / "success.json").exists()
