"""llm_annotate against a scripted OpenAI-compatible server: parsing, failures, the request
cache, resume, the seeded sample; and the FineWeb-Edu recipe as one DAG (annotate -> train a
classifier -> score the corpus with the upstream stage's model)."""

import json
from pathlib import Path

import pytest

from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from datamill.stages.llm_annotate import in_sample
from tests.synth.conftest import Fault

ROOT = Path(__file__).resolve().parents[2]
PROMPT = str(ROOT / "configs" / "prompts" / "fineweb-edu.txt")
TOPICS = ["fractions", "photosynthesis", "volcanoes", "the water cycle", "magnets", "the Roman Empire",
          "prime numbers", "the heart", "rivers", "gravity", "rainforests", "electric circuits"]


def corpus(path: Path) -> Path:
    """24 documents: 12 lessons (the fake model grades them 4), 10 shop pages (grade 1) and 2
    that it cannot grade."""
    rows = [{"id": f"lesson-{i:02d}", "text": f"In this lesson pupils learn about {t}. The teacher explains "
             f"{t} step by step, with worked examples, a diagram and exercises for the class."}
            for i, t in enumerate(TOPICS)]
    rows += [{"id": f"shop-{i:02d}", "text": f"Big sale on {t} gadgets! Add to cart now, free shipping, "
              "discount code inside, limited offer, buy two get one free."} for i, t in enumerate(TOPICS[:10])]
    rows += [{"id": f"odd-{i}", "text": f"UNGRADABLE page number {i}"} for i in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def grade(body: dict) -> str:
    """The fake model: restates the rubric's answer format first (the parser must take the last
    match), then grades lessons 4 and shop pages 1; 'UNGRADABLE' pages get no score at all."""
    user = body["messages"][-1]["content"]
    if "UNGRADABLE" in user:
        return "I am not able to grade this extract."
    points = 4 if "lesson" in user else 1
    return f"Using the format 'Educational score: <total points>': the extract earns {points}.\n" \
           f"Educational score: {points}"


def config(server, src: Path, out: Path, cache: Path, *, partition_rows=5, **annotate) -> dict:
    backend = {"kind": "openai", "model": "fake-grader", "base_url": server.url, "api_key_env": "",
               "timeout_s": 5.0, "max_retries": 0}
    return {"name": "annotate-test", "output": str(out), "execution": {"partition_rows": partition_rows},
            "sources": {"web": {"format": "jsonl", "path": str(src)}},
            "stages": {"grade": {"use": "llm_annotate", "input": "web", "prompt": PROMPT, "backend": backend,
                                 "cache_path": str(cache), **annotate}}}


@pytest.fixture
def grader(fake_openai):
    fake_openai.content = grade
    return fake_openai


def test_grades_failures_cache_and_resume(grader, client, tmp_path):
    src, cache = corpus(tmp_path / "docs.jsonl"), tmp_path / "llm.sqlite"
    # HTTP 500 (no retries) for shop-00 (partition 2 of 5-row partitions) and shop-05 (partition 3)
    grader.faults += [Fault(match="Big sale on fractions", kind="status"),
                      Fault(match="Big sale on the Roman Empire", kind="status")]
    out = tmp_path / "run"
    result = run_pipeline(config(grader, src, out, cache, mode="annotate"), client=client, progress=False)
    rows = {r["id"]: r["llm_score"] for r in read_stage(str(out), "grade").to_pylist()}
    assert len(rows) == 24 and grader.count() == 24
    assert [rows[f"lesson-{i:02d}"] for i in range(12)] == [4.0] * 12
    assert [rows[f"shop-{i:02d}"] for i in range(10)] == [None] + [1.0] * 4 + [None] + [1.0] * 4
    assert rows["odd-0"] is None and rows["odd-1"] is None
    stats = result.stats["grade"]
    assert stats["flagged"] == {"llm_annotate_failed": 4}
    llm = stats["extra"]["llm"]
    assert llm["documents"] == 24 and llm["annotated"] == 20 and llm["unparseable_replies"] == 2
    assert llm["failed_requests"] == 2 and all("HTTP 500" in e for e in llm["request_errors"])
    assert {s["id"] for s in llm["failure_samples"]} == {"odd-0", "odd-1"}

    # A killed run (the stage unfinished): the re-run takes every reply it has from the request
    # cache and sends only the 2 requests that failed (failures are never cached).
    (out / "grade" / ".datamill" / "success.json").unlink()
    (out / "grade" / ".datamill" / "stats" / "part-00002.json").unlink()
    resumed = run_pipeline(config(grader, src, out, cache, mode="annotate"), client=client, progress=False)
    assert grader.count() == 26 and resumed.stats["grade"]["extra"]["llm"]["cache_hits"] == 22
    rows = {r["id"]: r["llm_score"] for r in read_stage(str(out), "grade").to_pylist()}
    assert rows["shop-00"] == rows["shop-05"] == 1.0
    assert resumed.stats["grade"]["flagged"] == {"llm_annotate_failed": 2}  # the two ungradable pages

    # A new run dir sharing the cache sends nothing; a finished stage is not even planned.
    again = run_pipeline(config(grader, src, tmp_path / "run2", cache, mode="annotate"), client=client,
                         progress=False)
    assert grader.count() == 26 and again.stats["grade"]["extra"]["llm"]["cache_hits"] == 24
    run_pipeline(config(grader, src, out, cache, mode="annotate"), client=client, progress=False)
    assert grader.count() == 26


def test_the_sample_is_fixed_whatever_the_partitioning(grader, client, tmp_path):
    src, cache = corpus(tmp_path / "docs.jsonl"), tmp_path / "llm.sqlite"
    graded = []
    for rows_per_part in (5, 100):
        out = tmp_path / f"run{rows_per_part}"
        result = run_pipeline(config(grader, src, out, cache, partition_rows=rows_per_part, sample=0.5, seed=3,
                                     json_mode=True),
                              client=client, progress=False)
        graded.append(sorted(read_stage(str(out), "grade").column("id").to_pylist()))
        assert result.stats["grade"]["removed"]["llm_annotate_unsampled"] == 24 - result.stats["grade"]["extra"]["llm"]["documents"]
    ids = [json.loads(line)["id"] for line in src.read_text().splitlines()]
    expected = sorted(i for i in ids if in_sample(i, 3, 0.5) and not i.startswith("odd"))
    assert graded[0] == graded[1] == expected  # mode drop: the output is the graded sample
    assert 6 <= len(expected) <= 18  # a half sample, not all or nothing
    assert grader.count() == sum(in_sample(i, 3, 0.5) for i in ids)  # the second run: all from the cache
    assert all(body["response_format"] == {"type": "json_object"} and body["temperature"] == 0.0
               for body in grader.requests)


def test_a_pattern_that_never_matches_stops_the_run(grader, client, tmp_path):
    from datamill.pipeline.errors import StageError

    src = corpus(tmp_path / "docs.jsonl")
    cfg = config(grader, src, tmp_path / "run", tmp_path / "llm.sqlite", pattern=r"Final grade: (\d)")
    with pytest.raises(StageError, match=r"none of the 24 sampled documents got a grade.*Educational score"):
        run_pipeline(cfg, client=client, progress=False)


NEW_TOPICS = ["glaciers", "photosynthesis in algae", "long division", "the solar system", "bridges", "bees"]


def test_recipe_annotate_train_score_as_one_dag(grader, client, tmp_path):
    """The FineWeb-Edu recipe: grade a sample, train on the grades, score another corpus with the
    trained model (named as {stage: train}), keep by threshold."""
    src, cache = corpus(tmp_path / "docs.jsonl"), tmp_path / "llm.sqlite"
    held_out = tmp_path / "corpus.jsonl"
    held_out.write_text("".join(json.dumps(r) + "\n" for r in (
        [{"id": f"new-lesson-{i}", "text": f"Today's lesson: pupils study {t} with the teacher, worked "
          "examples and exercises."} for i, t in enumerate(NEW_TOPICS)]
        + [{"id": f"new-shop-{i}", "text": f"Huge sale: {t} posters, add to cart, free shipping and a "
            "discount code, buy now."} for i, t in enumerate(NEW_TOPICS)])))
    cfg = config(grader, src, tmp_path / "run", cache)
    cfg["sources"]["corpus"] = {"format": "jsonl", "path": str(held_out)}
    cfg["stages"] = {  # listed out of order on purpose: the artifact reference orders them
        "keep": {"use": "quality_filter", "input": "corpus", "model": {"stage": "train"}, "threshold": 0.5},
        **cfg["stages"],
        "train": {"use": "train_classifier", "input": "grade", "threshold": 3, "valid_fraction": 0.0,
                  "hyperparameters": {"epoch": 50, "lr": 0.5, "dim": 16, "bucket": 20000}},
    }
    result = run_pipeline(cfg, client=client, progress=False)
    kept = sorted(read_stage(str(tmp_path / "run"), "keep").column("id").to_pylist())
    assert kept == [f"new-lesson-{i}" for i in range(6)]
    report = result.stats["train"]["extra"]["classifier"]
    assert report["positives"] == 12 and report["negatives"] == 10
    model = tmp_path / "run" / "train" / ".datamill" / "model.bin"
    assert model.is_file() and report["model"] == str(model)
    keys = json.loads((tmp_path / "run" / "run.json").read_text())["keys"]
    from datamill.report import render

    assert '<path class="edge artifact" data-from="train" data-to="keep" data-field="model"' in render(
        str(tmp_path / "run"))  # the report's DAG draws the model reference

    # A retrained model (another seed) re-runs the scoring stage: the upstream key is in its key.
    cfg["stages"]["train"]["seed"] = 1
    run_pipeline(cfg, client=client, progress=False)
    keys2 = json.loads((tmp_path / "run" / "run.json").read_text())["keys"]
    assert keys2["grade"] == keys["grade"] and keys2["train"] != keys["train"] and keys2["keep"] != keys["keep"]


def test_a_rerun_from_the_cache_never_builds_the_backend(grader, tmp_path, monkeypatch):
    import pyarrow as pa

    from datamill.stages import llm_annotate
    from datamill.stages.llm_annotate import LLMAnnotate, annotate_partition

    backend = {"kind": "openai", "model": "fake-grader", "base_url": grader.url, "api_key_env": ""}
    stage = LLMAnnotate(prompt=PROMPT, backend=backend, cache_path=str(tmp_path / "llm.sqlite"))
    docs = pa.table({"id": ["a", "b"], "text": ["A lesson on fractions for pupils.", "Big sale, free shipping."]})
    first, _ = annotate_partition(docs, stage, stage.cache_path)
    monkeypatch.setattr(llm_annotate, "get_backend", lambda cfg: pytest.fail("loaded a model for cached replies"))
    again, stats = annotate_partition(docs, stage, stage.cache_path)
    assert stats["cache_hits"] == 2 and again.column("llm_score").to_pylist() == [4.0, 1.0]
    assert first.equals(again)
