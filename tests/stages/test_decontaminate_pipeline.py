"""``decontaminate`` through the engine on real text: SQuALITY train-split story windows, with
questions and human summaries of the dev and test splits (other stories) planted into a few of
them, re-wrapped into short lines, re-cased and re-punctuated."""

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pyarrow as pa
import pytest

from datamill.cli import main as cli
from datamill.pipeline.io import read_rejected, read_stage
from datamill.pipeline.runner import run_pipeline
from tests.stages.test_decontaminate import python_words

PUNCT = [",", ";", " -", ":", "", "...", " ("]


def disguise(text: str, rng) -> str:
    """The same words, other punctuation, other case, 2-4 words a line."""
    words = [w.strip(".,;:!?\"'()[]“”‘’—-") for w in text.split()]
    words = [w for w in words if w]
    out, line = [], []
    for i, w in enumerate(words):
        line.append((w.upper() if i % 2 else w.title()) + PUNCT[int(rng.integers(len(PUNCT)))])
        if len(line) >= int(rng.integers(2, 5)):
            out.append(" ".join(line))
            line = []
    return "\n".join(out + [" ".join(line)]) + "?!"


def load(shared_data, split: str) -> list[dict]:
    return [json.loads(line) for line in open(shared_data / "squality" / f"v1-3_txt_{split}.jsonl")]


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory):
    """(data dir, {planted doc id: reference name}, original text of each planted doc)."""
    rng = np.random.default_rng(7)
    tmp = tmp_path_factory.mktemp("decon")
    docs = []
    for r in load(shared_data, "train"):
        paras = [p.strip() for p in r["document"].split("\n") if p.strip()]
        text = ""
        for p in paras:
            text = f"{text}\n{p}" if text else p
            if len(text) >= 2000:
                docs.append({"id": f"{r['metadata']['passage_id']}-{len(docs)}", "text": text})
                text = ""
    test, dev = load(shared_data, "test"), load(shared_data, "dev")
    items = [{"question": q["question_text"], "options": [a["response_text"] for a in q["responses"]]}
             for r in test for q in r["questions"]]
    (tmp / "squality.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    questions = [q["question_text"] for r in dev for q in r["questions"]]
    pq.write_table(pa.table({"question": questions}), tmp / "questions.parquet")

    long_questions = [q for q in questions if len(python_words(q)) >= 8]
    planted, originals = {}, {}
    for k, d in enumerate(rng.choice(len(docs), 24, replace=False).tolist()):
        if k % 3 == 0:  # a 20-30 word run from the middle of a test-split summary
            words = items[int(rng.integers(len(items)))]["options"][int(rng.integers(4))].split()
            start = int(rng.integers(0, len(words) - 30))
            item, name = " ".join(words[start:start + int(rng.integers(20, 31))]), "squality"
        elif k % 3 == 1:  # a whole test-split question of 8 words or more
            item = [i["question"] for i in items if len(python_words(i["question"])) >= 8][int(rng.integers(50))]
            name = "squality"
        else:  # a dev-split question, found through the parquet reference only
            item, name = long_questions[int(rng.integers(len(long_questions)))], "questions"
        originals[docs[d]["id"]] = docs[d]["text"]
        cut = docs[d]["text"].find("\n", len(docs[d]["text"]) // 2)
        docs[d]["text"] = docs[d]["text"][:cut] + "\n" + disguise(item, rng) + docs[d]["text"][cut:]
        planted[docs[d]["id"]] = name
    (tmp / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    return tmp, planted, originals


def config(data, out, partition_rows: int, mode: str = "drop") -> dict:
    refs = {"squality": {"path": str(data / "squality.jsonl"), "fields": ["question", "options"]},
            "questions": {"path": str(data / "questions.parquet"), "fields": ["question"]}}
    return {"name": "decon", "output": str(out), "execution": {"partition_rows": partition_rows},
            "sources": {"docs": {"format": "jsonl", "path": str(data / "docs.jsonl")}},
            "stages": [{"use": "decontaminate", "name": "decon", "references": refs, "mode": mode}]}


def digest(run_dir) -> str:
    table = read_stage(str(run_dir), "decon")
    h = hashlib.sha256()
    for row in table.sort_by("id").to_pylist():
        h.update(repr(sorted(row.items())).encode())
    return h.hexdigest()


def test_planted_items_are_removed_and_no_clean_document_is(corpus, client, tmp_path, capsys):
    data, planted, _ = corpus
    result = run_pipeline(config(data, tmp_path / "run", 100), client=client, progress=False)
    stats = result.stats["decon"]
    rejected = read_rejected(str(tmp_path / "run"), "decon")
    removed = dict(zip(rejected.column("id").to_pylist(), rejected.column("_removal_reason").to_pylist()))
    assert removed == {i: f"contaminated:{name}" for i, name in planted.items()}
    assert stats["rows_in"] == 643 and stats["rows_out"] == 643 - len(planted)
    by_ref = {name: sum(1 for n in planted.values() if n == name) for name in ("squality", "questions")}
    refs = stats["extra"]["references"]
    assert {k: v["documents"] for k, v in refs.items()} == by_ref
    assert refs["squality"]["items"] == 260 and 1 <= refs["questions"]["items_found"] <= by_ref["questions"]
    assert cli(["stats", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "decon: references" in out and "items_found" in out
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if "squality " in line]
    assert rows == [["squality", str(by_ref["squality"]), "260", str(refs["squality"]["items_found"])]]
    from datamill.report import render

    assert "<caption>decon: references</caption>" in render(str(tmp_path / "run"))


def test_redact_keeps_every_document_and_the_rest_of_its_text(corpus, client, tmp_path):
    data, planted, originals = corpus
    run_pipeline(config(data, tmp_path / "run", 100, mode="redact"), client=client, progress=False)
    out = read_stage(str(tmp_path / "run"), "decon")
    assert out.num_rows == 643
    source = {r["id"]: r["text"] for r in map(json.loads, open(data / "docs.jsonl"))}
    for row in out.to_pylist():
        if row["id"] in planted:
            assert python_words(row["text"]) == python_words(originals[row["id"]]), row["id"]
            assert row["contamination"] == [planted[row["id"]]]
        else:
            assert row["text"] == source[row["id"]] and row["contamination"] == []


def test_same_output_for_partitions_and_a_multiprocess_cluster(corpus, client, tmp_path):
    from distributed import Client, LocalCluster

    data = corpus[0]
    run_pipeline(config(data, tmp_path / "one", 10_000, "annotate"), client=client, progress=False)
    many = run_pipeline(config(data, tmp_path / "many", 37, "annotate"), client=client, progress=False)
    assert many.stats["decon"]["partitions"] >= 17 and many.stats["decon"]["flagged"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as procs:
        run_pipeline(config(data, tmp_path / "procs", 37, "annotate"), client=procs, progress=False)
    assert digest(tmp_path / "one") == digest(tmp_path / "many") == digest(tmp_path / "procs")
    stats = [json.loads((tmp_path / r / "decon" / ".datamill" / "stats.json").read_text())["extra"]
             for r in ("one", "many", "procs")]
    assert stats[0] == stats[1] == stats[2]
