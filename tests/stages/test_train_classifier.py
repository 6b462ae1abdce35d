"""train_classifier hands fit_classifier.fit the same training set whatever the partitioning:
graded rows only, binarised at the threshold, sorted by id; the model goes to the stage's sidecar."""

import pyarrow as pa
import pytest

from datamill.filters import fit_classifier
from datamill.stages.train_classifier import TrainClassifier
from tests.conftest import configured, run_plan

ROWS = [{"id": f"d{i:02d}", "text": f"page {i}", "llm_score": None if i % 5 == 0 else float(i % 6)}
        for i in range(20)]


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_fit(texts, labels, positive, name, output, **kw):
        seen.append({"texts": texts, "labels": labels, "positive": positive, "name": name, "output": output, **kw})
        return {"model": output}

    monkeypatch.setattr(fit_classifier, "fit", fake_fit)
    return seen


@pytest.mark.parametrize("sizes", [[20], [7, 13], [3, 5, 4, 8]])
def test_the_training_set_does_not_depend_on_partitioning(client, tmp_path, calls, sizes):
    rows = ROWS[::-1]  # arrival order is not id order
    parts, start = [], 0
    for n in sizes:
        parts.append(pa.Table.from_pylist(rows[start:start + n]))
        start += n
    stage = TrainClassifier(threshold=3, hyperparameters={"epoch": 9})
    out = run_plan(client, stage, parts, tmp_path=tmp_path)
    assert [t.num_rows for t in out] == sizes  # rows pass through
    (call,) = calls
    graded = [r for r in ROWS if r["llm_score"] is not None]
    assert call["texts"] == [r["text"] for r in graded]  # sorted by id, ungraded rows skipped
    assert call["labels"] == ["1" if r["llm_score"] >= 3 else "0" for r in graded]
    assert set(call["labels"]) == {"0", "1"} and call["positive"] == {"1"} and call["name"] == "hq"
    assert call["output"] == f"{tmp_path}/.datamill/model.bin" and call["hyper"] == {"epoch": 9}


def test_config_errors_name_the_key():
    from datamill.typed_config import ConfigError

    with pytest.raises(ConfigError, match=r"unknown hyperparameters \['epochs'\]"):
        configured(TrainClassifier, hyperparameters={"epochs": 3})
    assert TrainClassifier(label_column="edu").needed_columns() == ("text", "edu")


def test_embed_features_reach_fit_with_the_default_or_named_encoder(client, tmp_path, calls):
    table = pa.Table.from_pylist(ROWS)
    run_plan(client, TrainClassifier(features="embed"), [table], tmp_path=tmp_path / "a")
    run_plan(client, TrainClassifier(features="embed", encoder=str(tmp_path)), [table], tmp_path=tmp_path / "b")
    assert [(c["features"], c["encoder"]) for c in calls] == [("embed", None), ("embed", str(tmp_path))]


def _is_daemon() -> bool:
    import multiprocessing

    return multiprocessing.current_process().daemon


def test_the_model_trains_inside_a_dask_worker_process(tmp_path):
    """The embedded cluster's workers are daemonic processes (multiprocessing gives them no
    children) started with glibc malloc tuning (fastText stopped with NaN under it)."""
    from datamill.pipeline.clusters import dask_client
    from datamill.pipeline.pydocs import python_docs

    docs = python_docs()[:400]
    table = pa.table({"id": [f"d{i:03d}" for i in range(len(docs))], "text": [d["text"] for d in docs],
                      "llm_score": [5.0 if ">>>" in d["text"] else 0.0 for d in docs]})
    stage = TrainClassifier(hyperparameters={"dim": 16, "bucket": 20000})
    path = str(tmp_path / "model.bin")
    with dask_client(workers=1) as c:
        assert c.submit(_is_daemon).result()
        report = c.submit(stage.train, stage.examples(table), path).result()
    assert report["fasttext_seed"] == stage.seed  # trained on the first try: no NaN stop
    from datamill.filters import fasttext_model
    from datamill.filters.classifier_metrics import roc_auc

    scores = fasttext_model.label_proba(fasttext_model.load(path), fasttext_model.one_line(table["text"].to_pylist()),
                                        "__label__hq")
    assert roc_auc(table["llm_score"].to_numpy() > 0, scores) > 0.9  # not degenerate: a constant scores 0.5
