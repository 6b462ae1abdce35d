"""Several inputs are a union: a stage reads every row of every input (docs/RELIABILITY.md)."""

import json
import random

import pyarrow as pa
import pytest

from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from tests.pipeline.stage_readers import load_ids


def _page(rng: random.Random, words: int = 60) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


# letters only: near-dedup normalisation drops digits, so "w12" and "w13" would be one word
VOCAB = sorted({"".join(random.Random(i).choices("abcdefghijklmnopqrstuvwxyz", k=6)) for i in range(400)})


def write_sources(tmp_path, pages: dict[str, dict[str, str]]) -> dict[str, dict]:
    sources = {}
    for name, docs in pages.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs.items()))
        sources[name] = {"format": "jsonl", "path": str(path)}
    return sources


def corpus(seed: int = 0) -> dict[str, dict[str, str]]:
    """Three sources of distinct pages, with duplicates planted ACROSS sources: b03 is a01 verbatim,
    c02 is b05 with its last word changed (word 5-gram Jaccard 55/57 ≈ 0.96), c04 is a02 verbatim."""
    rng = random.Random(seed)
    pages = {s: {f"{s}{k:02d}": _page(rng) for k in range(8)} for s in "abc"}
    pages["b"]["b03"] = pages["a"]["a01"]
    pages["c"]["c02"] = pages["b"]["b05"].rsplit(" ", 1)[0] + " changed"
    pages["c"]["c04"] = pages["a"]["a02"]
    return pages


def test_map_stage_with_several_inputs_reads_their_union(client, tmp_path):
    pages = corpus()
    cfg = {"name": "union", "sources": write_sources(tmp_path, pages),
           "stages": {"both": {"use": "clean_text", "inputs": ["a", "b"]},
                      "long": {"use": "length_filter", "input": "both", "min_words": 5}},  # fused after the union
           "output": str(tmp_path / "run"), "execution": {"partition_rows": 3}}
    stats = run_pipeline(cfg, client=client, progress=False).stats
    out = read_stage(str(tmp_path / "run"), "long")
    # in input order: a's 8 rows (3 partitions), then b's 8 rows (3 partitions)
    assert out.column("id").to_pylist() == list(pages["a"]) + list(pages["b"])
    assert stats["both"]["rows_in"] == stats["a"]["rows_out"] + stats["b"]["rows_out"] == 16
    assert stats["both"]["partitions"] == stats["long"]["partitions"] == 6
    assert set(out.column("source").to_pylist()) == {"a", "b"}


@pytest.mark.parametrize("use", ["exact_dedup", "minhash_dedup"])
def test_global_dedup_finds_a_duplicate_in_another_input(client, tmp_path, use):
    cfg = {"name": "g", "sources": write_sources(tmp_path, corpus()),
           "stages": {"dedup": {"use": use, "inputs": ["a", "b", "c"]}},
           "output": str(tmp_path / "run"), "execution": {"partition_rows": 5}}
    stats = run_pipeline(cfg, client=client, progress=False).stats
    ids = set(read_stage(str(tmp_path / "run"), "dedup").column("id").to_pylist())
    removed = {"b03", "c04"} | ({"c02"} if use == "minhash_dedup" else set())
    assert ids == {i for s in corpus().values() for i in s} - removed
    assert stats["dedup"]["rows_in"] == 24


def test_acceptance_three_sources_fanned_into_one_union_deduplicated(client, tmp_path):
    """`inputs: [a, b, c]` into clean_text, exact then near dedup across sources; the final stage
    loads with pandas, pyarrow and datasets to exactly the expected ids."""
    pages = corpus(seed=1)
    cfg = {"name": "accept", "sources": write_sources(tmp_path, pages),
           "stages": [{"use": "clean_text", "inputs": ["a", "b", "c"]},
                      {"use": "exact_dedup"}, {"use": "minhash_dedup", "threshold": 0.8}],
           "output": str(tmp_path / "run"), "execution": {"partition_rows": 4}}
    result = run_pipeline(cfg, client=client, progress=False)
    expected = sorted({i for s in pages.values() for i in s} - {"b03", "c04", "c02"})
    assert result.stats["exact_dedup"]["removed"] == {"exact_duplicate": 2}
    assert result.stats["minhash_dedup"]["removed"] == {"minhash_duplicate": 1}
    stage = tmp_path / "run" / "minhash_dedup"
    for reader in ("pandas", "pyarrow", "datasets"):
        assert load_ids(reader, stage, tmp_path / "hf")[0] == expected, reader
    assert isinstance(read_stage(str(tmp_path / "run"), "minhash_dedup"), pa.Table)
