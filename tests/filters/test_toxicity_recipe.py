"""configs/toxicity-davidson.yaml end to end: the Davidson classifier applied through the engine."""

import gzip
import json
from pathlib import Path

import pytest
import yaml

from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from tests.filters.conftest import TOXICITY_ARGS

ROOT = Path(__file__).resolve().parents[2]
CLEAN = ("The city council met on Tuesday evening to discuss the new budget for the public "
         "library. Members agreed that the reading rooms need better lighting and more seats. ")
RANT = "shut up you stupid bitch, nobody likes you hoe. fuck off and die you worthless bitch ass nigga. "


def page(url: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = f"<html><head><title>News</title></head><body><article>{body}</article></body></html>"
    return json.dumps({"id": url, "url": url, "html": html})


def test_recipe_documents_the_training_command():
    text = (ROOT / "configs" / "toxicity-davidson.yaml").read_text()
    flat = " ".join(text.replace("#", " ").replace("\\", " ").split())
    assert " ".join(TOXICITY_ARGS) in flat  # the tested model is the one the recipe trains


@pytest.mark.slow  # HTML extraction of ~100 pages
def test_recipe_runs_and_removes_toxic_pages(davidson_model, web_pages, shared_data, client, tmp_path):
    model, _ = davidson_model
    subset = tmp_path / "pages.jsonl.gz"
    with gzip.open(web_pages, "rt") as src, gzip.open(subset, "wt") as dst:
        for i, line in enumerate(src):
            if i % 10 == 0:
                dst.write(line)
        dst.write(page("https://example.org/council", [CLEAN * 3, CLEAN * 2]) + "\n")
        dst.write(page("https://example.org/rant", [RANT * 3, RANT * 2]) + "\n")
    cfg = yaml.safe_load((ROOT / "configs" / "toxicity-davidson.yaml").read_text())
    cfg["sources"]["web"]["path"] = str(subset)
    cfg["output"] = str(tmp_path / "run")
    cfg["stages"]["toxicity"]["model"] = model
    cfg["stages"]["toxicity"]["wordlist_path"] = str(shared_data / "badwords-ldnoobw" / "en")
    result = run_pipeline(cfg, client=client, progress=False)
    stats = json.loads((Path(result.output) / "toxicity" / ".datamill" / "stats.json").read_text())
    assert stats["removed"].get("toxicity_document", 0) >= 1
    assert set(stats["removed"]) <= {"toxicity_document", "toxicity_all_sentences", "toxicity_bad_words"}
    kept = read_stage(result.output, "toxicity")
    ids = kept["id"].to_pylist()
    assert "https://example.org/council" in ids and "https://example.org/rant" not in ids
    for column in ("toxicity_score", "toxicity_max_sentence_score", "num_toxic_sentences", "num_bad_words"):
        assert column in kept.column_names
    assert max(kept["toxicity_score"].to_pylist()) <= 0.4
