import pyarrow as pa
import pytest

from datamill.filters.toxicity_filter import ToxicityFilter
from tests.filters.texts import annotated, reason_of, reasons_of

CLEAN = "The committee approved the budget for the new public library on Tuesday."
TOXIC = "shut up you stupid bitch, nobody likes you hoe"


@pytest.fixture(scope="module")
def stage(davidson_model):
    path, _ = davidson_model
    return ToxicityFilter(model=path, normalize=True)


def test_document_level_scores_and_reason(stage):
    assert reason_of(stage, TOXIC) == "toxicity_document"
    assert reason_of(stage, CLEAN) is None
    toxic, clean = annotated(stage, TOXIC), annotated(stage, CLEAN)
    assert toxic["toxicity_score"] > 0.9 and clean["toxicity_score"] < 0.4
    assert annotated(stage, "")["toxicity_score"] == 0.0  # no text, no toxicity
    strict = ToxicityFilter(model=stage.model, normalize=True, document_threshold=0.0)
    assert reason_of(strict, CLEAN) == "toxicity_document"


def test_toxic_sentences_are_cut_and_the_rest_kept(stage):
    text = f"{CLEAN} {TOXIC}. The library will open in spring."
    out = annotated(stage, text)
    assert out["text"] == f"{CLEAN} The library will open in spring."
    assert out["num_toxic_sentences"] == 1
    assert out["toxic_sentence_fraction"] == pytest.approx(1 / 3)
    assert out["toxicity_max_sentence_score"] > 0.9
    # Dolma's sentence-level use: cut spans, keep the document
    spans_only = ToxicityFilter(model=stage.model, normalize=True, disable=["toxicity_document"])
    assert reason_of(spans_only, text) is None
    keep = ToxicityFilter(model=stage.model, normalize=True, remove_sentences=False)
    assert annotated(keep, text)["text"] == text


def test_all_sentences_toxic(stage):
    only = ToxicityFilter(model=stage.model, normalize=True, disable=["toxicity_document"])
    assert reason_of(only, TOXIC) == "toxicity_all_sentences"
    assert annotated(only, TOXIC)["text"] == ""


def test_word_list_flagging(shared_data, stage):
    words = str(shared_data / "badwords-ldnoobw" / "en")
    listed = ToxicityFilter(wordlist_path=words)
    assert annotated(listed, "what the fuck, this shit is bad")["num_bad_words"] == 2
    assert reasons_of(listed, ["what the fuck", CLEAN]) == ["toxicity_bad_words", None]
    lenient = ToxicityFilter(wordlist_path=words, max_bad_words=1)
    assert reasons_of(lenient, ["what the fuck", "fuck this shit"]) == [None, "toxicity_bad_words"]
    both = ToxicityFilter(model=stage.model, normalize=True, wordlist_path=words)
    assert set(annotated(both, CLEAN)) >= {"toxicity_score", "num_bad_words", "num_toxic_sentences"}


def test_partition_invariance(stage):
    texts = [CLEAN, TOXIC, f"{CLEAN} {TOXIC}.", "", "Hello there. Nice day!"] * 3
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    whole = stage.annotate(table)
    parts = pa.concat_tables([stage.annotate(table.slice(a, b)) for a, b in [(0, 4), (4, 0), (4, 11)]])
    assert parts.equals(whole)
    assert stage.reasons(parts).equals(stage.reasons(whole))


def test_config_needs_a_model_or_a_list():
    with pytest.raises(ValueError, match="toxicity_filter"):
        ToxicityFilter()
