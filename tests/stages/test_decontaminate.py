import json
import unicodedata

import numpy as np
import pyarrow as pa
import pytest

from datamill.stage import REMOVAL_REASON
from datamill.stages.decontaminate import Decontaminate, Reference
from datamill.stages.ngram_index import build_index, windows, word_spans, words
from datamill.typed_config import ConfigError, path_fields
from tests.conftest import configured, run_plan

QUESTION = "Which planet did the crew of the Aphrodite finally reach after the long storm?"  # 14 words
OPTIONS = ["They landed on Venus in the middle of the swamp at dawn", "Mars", "The third moon of Jupiter"]
SHORT_Q = "What did Strykalski find inside the old engine room?"  # 9 words: matched as a whole


@pytest.fixture
def refs(tmp_path):
    (tmp_path / "quality.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"question": QUESTION, "options": OPTIONS},
        {"question": SHORT_Q, "options": ["An empty bottle", None]},
        {"question": "Too short to count?", "options": []}]))
    (tmp_path / "mmlu.jsonl").write_text(json.dumps({"question": QUESTION}) + "\n")
    return {"quality": Reference(str(tmp_path / "quality.jsonl"), ("question", "options")),
            "mmlu": Reference(str(tmp_path / "mmlu.jsonl"), ("question",))}


DOCS = {
    "q": "Chapter 2.\nWHICH PLANET did the crew,\nof the APHRODITE\nfinally reach -- after the long storm? Nobody knew.",
    "opt": "Log: they landed on venus; in the middle of the swamp... at dawn! The rest is history.",
    "short": "Then: what did Strykalski find inside the old engine-room? Rust.",
    "part": "What did Strykalski find inside the old engine? A question cut short is not the question.",
    "clean": "The crew of the Aphrodite reached a planet after a storm, and the swamp was quiet at dawn.",
    "empty": "",
}


def table(ids):
    return pa.table({"id": list(ids), "text": [DOCS[i] for i in ids]})


def by_id(out: list[pa.Table], column: str) -> dict:
    return {i: v for t in out for i, v in zip(t.column("id").to_pylist(), t.column(column).to_pylist())}


def test_finds_rewrapped_recased_repunctuated_items_and_names_the_first_reference(client, refs):
    out = run_plan(client, Decontaminate(references=refs), [table(["q", "opt", "short"]), table(["part", "clean", "empty"])])
    assert by_id(out, REMOVAL_REASON) == {"q": "contaminated:quality", "opt": "contaminated:quality",
                                         "short": "contaminated:quality", "part": None, "clean": None, "empty": None}
    assert by_id(out, "contamination") == {"q": ["quality", "mmlu"], "opt": ["quality"], "short": ["quality"],
                                          "part": [], "clean": [], "empty": []}
    ngrams = by_id(out, "contamination_ngrams")
    assert ngrams["q"] == 2 and ngrams["opt"] == 1 and ngrams["short"] == 1 and ngrams["clean"] == 0  # 14 words: 2 windows
    mmlu_first = {"mmlu": refs["mmlu"], "quality": refs["quality"]}
    out = run_plan(client, Decontaminate(references=mmlu_first, mode="annotate"), [table(["q"])])
    assert by_id(out, REMOVAL_REASON) == {"q": "contaminated:mmlu"}


def test_redact_cuts_the_matched_spans_and_keeps_the_rest(client, refs):
    out = run_plan(client, Decontaminate(references=refs, mode="redact"), [table(DOCS)])
    assert REMOVAL_REASON not in out[0].column_names  # every row stays
    text = by_id(out, "text")
    assert text["q"] == "Chapter 2.\n? Nobody knew."
    assert text["opt"] == "Log: ! The rest is history."
    assert text["short"] == "Then: ? Rust."
    assert text["clean"] == DOCS["clean"] and text["part"] == DOCS["part"]
    assert by_id(out, "contamination")["q"] == ["quality", "mmlu"]


def test_stats_count_items_found_and_documents_per_reference(client, refs, tmp_path):
    from datamill.partitions import Partitions, PlanContext

    parts = Partitions(client, client.scatter([table(["q", "opt"]), table(["clean", "short"])], hash=False))
    ctx = PlanContext("decon", str(tmp_path), client)
    Decontaminate(references=refs).plan(ctx, parts).gather()
    assert ctx.extra_stats["references"].result() == {
        "quality": {"items": 3, "items_found": 2, "documents": 3},
        "mmlu": {"items": 1, "items_found": 1, "documents": 1}}


def test_one_partition_equals_many(client, refs):
    ids = list(DOCS) * 3
    rows = pa.table({"id": [f"{i}{k}" for k, i in enumerate(ids)], "text": [DOCS[i] for i in ids]})
    for mode in ("drop", "redact"):
        stage = Decontaminate(references=refs, mode=mode)
        one = pa.concat_tables(run_plan(client, stage, [rows]))
        many = pa.concat_tables(run_plan(client, stage, [rows.slice(i, 4) for i in range(0, rows.num_rows, 4)]))
        assert one.equals(many)


def python_words(text: str) -> list[str]:
    """The front end in plain Python: runs of L/N/M characters, each NFKC-normalised and lower-cased."""
    out, run = [], ""
    for c in text + " ":
        if unicodedata.category(c)[0] in "LNM":
            run += c
        elif run:
            norm = unicodedata.normalize("NFKC", run).lower()
            out += "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in norm).split()
            run = ""
    return out


TRICKY = ["Ça va? naïve café — ½ ﬁne “quotes” ㈠x", "e\u0301te\u0301 ÉTÉ", "snake_case under_score", "日本語の文章です。",
          "  leading and trailing  ", "", "x"]


def test_words_are_the_plain_python_front_end_and_map_back_to_the_original(shared_data):
    stories = [json.loads(line)["document"][:6000] for line in open(shared_data / "squality" / "v1-3_txt_dev.jsonl")]
    texts = stories + TRICKY
    w = words(pa.array(texts))
    import xxhash

    for t, text in enumerate(texts):
        expected = python_words(text)
        got = w.hashes[w.offsets[t]:w.offsets[t + 1]]
        assert got.tolist() == [xxhash.xxh3_64_intdigest(x.encode()) for x in expected], text[:60]
        spans = word_spans(text)
        assert len(spans) == len(expected)
        for (a, b), word in zip(spans, expected):  # each word comes from its span of the original
            assert word in unicodedata.normalize("NFKC", text[a:b]).lower()


def test_hash_lookup_finds_exactly_the_documents_an_exact_ngram_scan_finds(shared_data):
    """Hashes against exact word tuples, on real text: story windows vs 13-word runs of other stories."""
    rows = [json.loads(line) for line in open(shared_data / "squality" / "v1-3_txt_dev.jsonl")]
    docs = [r["document"][i:i + 2000] for r in rows[:12] for i in range(0, 24000, 2000)]
    rng = np.random.default_rng(0)
    refs = []
    for r in rows[12:] + rows[:12:3]:  # other stories, and a third of the corpus's own stories
        ws = r["document"].split()
        refs += [" ".join(ws[s:s + int(rng.integers(8, 30))]) for s in rng.integers(0, len(ws) - 30, 40)]
    index = build_index({"r": (pa.array(refs), np.arange(len(refs), dtype=np.int32), len(refs))}, 13, 8)
    w = words(pa.array(docs))
    h, start, _ = windows(w, list(index.lengths))
    q, _ = index.lookup(h)
    found = set(np.unique(np.searchsorted(w.offsets, start[q], "right") - 1).tolist())
    ref_words = [python_words(r) for r in refs]
    long_ = {tuple(x[i:i + 13]) for x in ref_words for i in range(len(x) - 12)}
    short = {tuple(x) for x in ref_words if 8 <= len(x) < 13}
    exact = set()
    for d, doc in enumerate(docs):
        x = python_words(doc)
        grams = {tuple(x[i:i + n]) for n in {13} | {len(s) for s in short} for i in range(len(x) - n + 1)}
        if grams & (long_ | short):
            exact.add(d)
    assert 10 <= len(exact) < len(docs) // 2
    assert found == exact


def test_references_are_nested_sections_with_paths_relative_to_the_config(tmp_path):
    from pathlib import Path

    stage = configured(Decontaminate, references={"q": {"path": "q.jsonl", "fields": ["question", "options"]}})
    assert stage.references == {"q": Reference("q.jsonl", ("question", "options"))}
    from datamill.typed_config import build

    built = build(Decontaminate, {"references": {"q": {"path": "evals/q.jsonl"}}}, "stage", base=Path(tmp_path))
    assert built.references["q"].path == str(tmp_path / "evals" / "q.jsonl")
    assert path_fields(built) == [("references.q.path", str(tmp_path / "evals" / "q.jsonl"), True)]


@pytest.mark.parametrize("fields, match", [
    ({"references": {"q": {"path": "q.jsonl", "feilds": ["x"]}}}, r"entry 'q': unknown key\(s\) \['feilds'\]"),
    ({"references": {"q": "q.jsonl"}}, r"entry 'q': expected a mapping with keys path, fields"),
    ({"references": {"q": {"path": "q.jsonl", "fields": "question"}}}, r"entry 'q': key 'fields'"),
    ({"references": ["q.jsonl"]}, r"key 'references'"),
    ({"references": {}}, r"references is required"),
    ({"references": {"q": {"path": "q.jsonl"}}, "mode": "remove"}, r"key 'mode'.*'redact'"),
    ({"references": {"q": {"path": "q.jsonl"}}, "min_words": 20}, r"min_words <= ngram"),
])
def test_config_errors(fields, match):
    with pytest.raises(ConfigError, match=match):
        configured(Decontaminate, **fields)


def test_reference_files_parquet_and_saved_datasets(tmp_path, client):
    import datasets
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"question": [SHORT_Q]}), tmp_path / "r.parquet")
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({"q": [QUESTION], "opts": [OPTIONS]})}) \
        .save_to_disk(str(tmp_path / "saved"))
    stage = Decontaminate(references={"pq": Reference(str(tmp_path / "r.parquet"), ("question",)),
                                      "hf": Reference(str(tmp_path / "saved"), ("q", "opts"))}, mode="annotate")
    out = run_plan(client, stage, [table(["q", "opt", "short", "clean"])])
    assert by_id(out, "contamination") == {"q": ["hf"], "opt": ["hf"], "short": ["pq"], "clean": []}
    bad = Decontaminate(references={"pq": Reference(str(tmp_path / "r.parquet"), ("questions",))})
    with pytest.raises(ValueError, match=r"reference 'pq' .* has no field\(s\) \['questions'\]; fields: \['question'\]"):
        bad.index()


def test_reference_files_are_checked_before_a_run_and_part_of_the_cache_key(tmp_path, refs):
    from datamill.pipeline.config import check_files, load_config
    from datamill.pipeline.file_fingerprints import stage_files

    raw = {"sources": {"d": {"format": "python_docs"}}, "output": str(tmp_path / "run"),
           "stages": [{"use": "decontaminate", "references": {"q": {"path": "quality.jsonl"}, "gone": {"path": "x.jsonl"}}}]}
    (tmp_path / "c.json").write_text(json.dumps(raw))
    cfg = load_config(tmp_path / "c.json")
    with pytest.raises(ConfigError, match=r"key 'references.gone.path': no such file or directory: .*x.jsonl"):
        check_files(cfg)
    stage = cfg.stages["decontaminate"].stage
    before = stage_files(stage)
    assert list(before) == [f"references.q.path={tmp_path / 'quality.jsonl'}"]
    (tmp_path / "quality.jsonl").write_text(json.dumps({"question": SHORT_Q}) + "\n")
    assert stage_files(stage) != before


def test_dotted_fields_reach_into_nested_records(tmp_path, shared_data):
    from datamill.stages.decontaminate import read_texts

    path = str(shared_data / "squality" / "v1-3_txt_dev.jsonl")
    texts, item, n = read_texts(path, ("questions.question_text", "questions.responses.response_text"), "sq")
    assert n == 25 and len(texts) == 25 * 5 * 5 and sorted(set(item.tolist())) == list(range(25))
    assert texts[0].as_py() == "What is the plot of the story?"
    with pytest.raises(ValueError, match=r"field 'questions' of item 0 holds a dict; .*dotted name"):
        read_texts(path, ("questions",), "sq")
    with pytest.raises(ValueError, match=r"field 'questions.question' holds no text in any item"):
        read_texts(path, ("questions.question",), "sq")


def test_datamill_stages_documents_the_reference_fields():
    from datamill.stage_docs import describe

    text = describe("decontaminate")
    assert "each value: Reference" in text and "fields: tuple[str, ...] = ('text',)" in text and "questions.question_text" in text
