"""EntiGraph against a real HTTP server speaking the OpenAI chat-completions API (conftest.py)."""

import json

import pyarrow as pa
import pytest

from datamill.partitions import Partitions, PlanContext
from datamill.synth.entigraph import EntiGraphSynth, run_partition
from tests.synth.conftest import ENTITIES, Fault

DOCS = pa.table({
    "id": ["a", "b"],
    "text": ["The Glass Tower\nAlice and Bob climb the Glass Tower to face the Dragon.",
             "River Song\nEve walks through the Forest carrying a Sword."],
})


def make_stage(server, cache_path, **overrides) -> EntiGraphSynth:
    backend = {"kind": "openai", "model": "fake-model", "base_url": server.url, "api_key_env": "",
               "timeout_s": 0.5, "max_retries": 3, "backoff_s": 0.05, "concurrency": 4}
    backend.update(overrides.pop("backend", {}))
    fields = {"max_triples": 2, "triples_per_round": 1, **overrides}
    return EntiGraphSynth(backend=backend, cache_path=str(cache_path), **fields)


def is_entity_request(body):
    return "### Entities:" not in body["messages"][-1]["content"]


def test_recovers_from_faults_and_second_run_is_all_cache(fake_openai, tmp_path):
    fake_openai.faults = [
        Fault("The Glass Tower", "malformed"),  # the first request for doc a: entity extraction
        Fault("### Entities:\n- Alice\n- Bob", "status", status=500),  # the (Alice, Bob) pair
        Fault("### Entities:\n- Eve\n- Forest\n- Sword", "stall", stall_s=2.0),  # doc b's only triple
    ]
    stage = make_stage(fake_openai, tmp_path / "cache.sqlite")
    table, stats = run_partition(DOCS, stage, str(tmp_path / "cache.sqlite"))

    assert all(f.seen == f.times for f in fake_openai.faults)
    kinds = table.column("kind").to_pylist()
    # a: 4 entities -> 6 pairs, 2 triples (max_triples); b: 3 entities -> 3 pairs, 1 triple
    assert kinds.count("summary") == 2 and kinds.count("pair") == 9 and kinds.count("triple") == 3
    assert stats["parse_failures"] == 1 and stats["documents_failed"] == 0
    assert stats["failure_samples"][0]["source_id"] == "a" and "oops" in stats["failure_samples"][0]["reply"]
    assert stats["requests"] == 15 and stats["retries"] == 2 and stats["failed_requests"] == 0
    assert fake_openai.count() == 17  # 15 requests + one retry after the 500 + one after the timeout
    assert stats["completion_tokens"] > 0 and stats["prompt_tokens"] > 0 and stats["generation_seconds"] > 0

    # Entity extraction asked for JSON; every request carried its seed.
    assert all(b.get("response_format") == {"type": "json_object"}
               for b in fake_openai.requests if is_entity_request(b))
    assert all(isinstance(b.get("seed"), int) for b in fake_openai.requests)

    rows = table.to_pylist()
    summary_a = next(r for r in rows if r["source_id"] == "a" and r["kind"] == "summary")
    assert summary_a["entities"] == ENTITIES["The Glass Tower"]
    assert summary_a["text"] == "A summary of The Glass Tower."  # the entity list is not training text
    pair = next(r for r in rows if r["kind"] == "pair" and r["entities"] == ["Alice", "Bob"])
    assert "Alice & Bob" in pair["text"]
    assert {r["backend"] for r in rows} == {"openai"} and {r["model"] for r in rows} == {"fake-model"}
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["prompt_hash"] for r in rows}) == 3  # one per kind

    # Second run, same config, fresh stage object: nothing reaches the server.
    before = fake_openai.count()
    table2, stats2 = run_partition(DOCS, make_stage(fake_openai, tmp_path / "cache.sqlite"),
                                   str(tmp_path / "cache.sqlite"))
    assert fake_openai.count() == before
    assert stats2["requests"] == 0 and stats2["cache_hits"] == 15
    assert table2.equals(table)


def test_permanent_failures_are_counted_and_bounded(fake_openai, tmp_path):
    fake_openai.faults = [
        Fault("River Song", "malformed", times=99),  # doc b never yields entities
        Fault("### Entities:\n- Alice\n- Bob", "status", status=503, times=99),  # never recovers
        Fault("### Entities:\n- Alice\n- Dragon", "status", status=400),  # a client error: not retried
    ]
    stage = make_stage(fake_openai, "", max_attempts=2, max_triples=0, backend={"max_retries": 2})
    table, stats = run_partition(DOCS, stage, "")

    assert stats["documents_failed"] == 1 and stats["parse_failures"] == 2
    assert fake_openai.count(lambda b: is_entity_request(b) and "River Song" in b["messages"][-1]["content"]) == 2
    pair_ab = lambda b: b["messages"][-1]["content"].endswith("- Alice\n- Bob")  # noqa: E731
    assert fake_openai.count(pair_ab) == 3  # 1 try + max_retries
    assert stats["failed_requests"] == 2 and stats["relation_failures"] == 2
    assert any("HTTP 503" in e for e in stats["request_errors"])
    assert any("HTTP 400" in e for e in stats["request_errors"])
    assert set(table.column("source_id").to_pylist()) == {"a"}
    assert table.column("kind").to_pylist().count("pair") == 6 - 2


def _plan(client, stage, tables, stage_dir):
    parts = Partitions(client, client.scatter(tables, hash=False), name="docs")  # slices of one table tokenize alike
    ctx = PlanContext(stage_name="synth", stage_dir=str(stage_dir), client=client)
    out = stage.plan(ctx, parts).gather()
    return pa.concat_tables(out), ctx.extra_stats["llm"].result()


def test_plan_is_partition_invariant_and_reports_stats(fake_openai, client, tmp_path):
    stage = make_stage(fake_openai, "", max_pairs=2)
    whole, stats1 = _plan(client, stage, [DOCS], tmp_path / "one" / "synth")
    split, stats2 = _plan(client, stage, [DOCS.slice(0, 1), DOCS.slice(1)], tmp_path / "two" / "synth")
    assert whole.to_pylist() == split.to_pylist()
    assert stats1["requests"] == stats2["requests"] == 2 + 2 * 2 + 2 + 1
    assert stats2["completion_tokens_per_s"] > 0 and json.dumps(stats2)  # JSON-serialisable for _stats.json
    # a seeded sample of 2 pairs per document
    assert whole.column("kind").to_pylist().count("pair") == 4


def test_relative_cache_path_lives_in_the_run_dir(fake_openai, client, tmp_path):
    stage = make_stage(fake_openai, "_cache/llm.sqlite", max_triples=0)
    _plan(client, stage, [DOCS], tmp_path / "run" / "synth")
    assert (tmp_path / "run" / "_cache" / "llm.sqlite").is_file()
    n = fake_openai.count()
    _plan(client, stage, [DOCS], tmp_path / "run" / "synth")
    assert fake_openai.count() == n


def test_seed_changes_triple_choice(fake_openai, tmp_path):
    many = pa.table({"id": ["t"], "text": ["The Glass Tower\nA long tale."]})
    picks = []
    for seed in (1, 2, 3):
        table, _ = run_partition(many, make_stage(fake_openai, "", seed=seed, max_pairs=1, max_triples=1), "")
        picks.append(tuple(table.filter(pa.compute.equal(table["kind"], "triple"))["entities"][0].as_py()))
    again, _ = run_partition(many, make_stage(fake_openai, "", seed=1, max_pairs=1, max_triples=1), "")
    assert tuple(again.filter(pa.compute.equal(again["kind"], "triple"))["entities"][0].as_py()) == picks[0]
    assert len(set(picks)) > 1  # 4 possible triples; three seeds do not all agree


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown backend keys.*temprature"):
        EntiGraphSynth(backend={"kind": "openai", "model": "m", "temprature": 1})
    with pytest.raises(ValueError, match="backend.kind"):
        EntiGraphSynth(backend={"kind": "llamacpp", "model": "m"})
    with pytest.raises(ValueError, match="prompts.pair_system uses unknown fields.*entity3"):
        EntiGraphSynth(prompts={"pair_system": "{entity3}"})
    with pytest.raises(ValueError, match="unknown prompt key"):
        EntiGraphSynth(prompts={"pairs": "x"})
    with pytest.raises(ValueError, match="max_pairs"):
        EntiGraphSynth(max_pairs=-1)


def test_triple_token_budget_and_batching(fake_openai, monkeypatch):
    from datamill.synth import backends

    class Spy:
        def __init__(self, inner):
            self.inner, self.calls = inner, []

        def generate(self, requests, on_result=None):
            self.calls.append(len(requests))
            return self.inner.generate(requests, on_result)

    one = DOCS.slice(0, 1)  # 4 entities: 6 pairs, 4 triples
    stage = make_stage(fake_openai, "", max_triples=4)
    spy = Spy(backends.OpenAIBackend(stage.backend))
    monkeypatch.setitem(backends._BACKENDS, stage.backend.key(), spy)
    table, stats = run_partition(one, stage, "")
    assert stats["triples"] == 4 and spy.calls == [1, 6 + 4]  # no budget: pairs and triples in one batch

    # Each fake triple text is 14-15 tokens: a 20-token budget stops after the second round of one.
    budget = make_stage(fake_openai, "", max_triples=4, triple_token_budget=20, triples_per_round=1)
    spy = Spy(backends.OpenAIBackend(budget.backend))
    monkeypatch.setitem(backends._BACKENDS, budget.backend.key(), spy)
    table, stats = run_partition(one, budget, "")
    assert stats["triples"] == 2 and spy.calls == [1, 6 + 1, 1]
    assert table.column("kind").to_pylist().count("pair") == 6
