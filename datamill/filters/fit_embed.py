"""Linear models on sentence embeddings for ``datamill fit-classifier --features embed``.

Labels: L2-regularised logistic regression (scikit-learn's ``LogisticRegressionCV``: the inverse
regularisation C picked from 13 values 1e-3..1e3 by 5-fold cross-validated ROC-AUC on the training
rows; classes weighted to a 50/50 prior, as the fastText path oversamples). Scores: ridge regression
(``RidgeCV``, alpha from 13 values 1e-3..1e3 by leave-one-out error), as FineWeb-Edu's annotator
is a linear head on frozen embeddings (Penedo et al. 2024). The held-out split and the report
are the fastText path's, so the two kinds of model compare row for row.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from datamill.filters import text_classifier
from datamill.filters.classifier_metrics import metrics, roc_auc
from datamill.filters.text_classifier import Encoder

GRID = np.logspace(-3, 3, 13)  # C for the logistic model, alpha for ridge


def embed(texts: list[str], encoder: Encoder, strip_markup: bool) -> np.ndarray:
    return encoder.embed(text_classifier.clean(texts, strip_markup))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, balance: bool = True, seed: int = 0):
    """(coef (d,), intercept, chosen C) of a cross-validated logistic regression."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    model = LogisticRegressionCV(Cs=GRID, cv=5, scoring="roc_auc", max_iter=2000,
                                 class_weight="balanced" if balance else None, random_state=seed)
    with warnings.catch_warnings():  # scikit-learn 1.8+ announces parameter changes that do not apply here
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(x, y)
    return model.coef_[0], float(model.intercept_[0]), float(model.C_[0])


def fit_ridge(x: np.ndarray, t: np.ndarray):
    """(coef (d,), intercept, chosen alpha) of a ridge regression with leave-one-out alpha."""
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=GRID).fit(x, t)
    return np.asarray(model.coef_).reshape(-1), float(model.intercept_), float(model.alpha_)


def split(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): the same seeded permutation as the fastText path."""
    order = np.random.default_rng(seed).permutation(n)
    n_valid = int(round(valid_fraction * n))
    return order[n_valid:], order[:n_valid]


def fit_labels(texts: list[str], y: np.ndarray, name: str, output: str, *, encoder: Encoder,
               valid_fraction: float, keep_fraction: float, seed: int, balance: bool, normalize: bool,
               embeddings: np.ndarray | None = None, fasttext: dict | None = None) -> dict:
    """Train and save a logistic embedding classifier for ``y`` (bool); return the report.
    ``fasttext``: {"file", "normalize"} of a fastText model already in ``output`` to average with."""
    train, valid = split(len(texts), valid_fraction, seed)
    start = time.perf_counter()
    x = embed(texts, encoder, normalize) if embeddings is None else embeddings
    embed_seconds = time.perf_counter() - start
    coef, intercept, c = fit_logistic(x[train], y[train], balance=balance, seed=seed)
    label = f"__label__{name}"
    report = {"model": str(output), "features": "embed", "kind": "logistic", "label": label,
              "negative_label": f"__label__not_{name}", "encoder": encoder.identity(),
              "n_train": int(len(train)), "n_valid": int(len(valid)), "valid_fraction": valid_fraction,
              "balance": balance, "normalize": normalize, "seed": seed, "C": c,
              "embed_seconds": round(embed_seconds, 3),
              "train_seconds": round(time.perf_counter() - start - embed_seconds, 3)}
    text_classifier.save(output, kind="logistic", label=label, encoder=encoder, strip_markup=normalize,
                         coef=coef, intercept=intercept, extra={"C": c, **({"fasttext": fasttext} if fasttext else {})})
    if fasttext:
        report["features"] = "embed+fasttext"
    if len(valid):
        clf = text_classifier.load(output)
        scores = clf.scores([texts[i] for i in valid], x[valid])
        report["held_out"] = metrics(y[valid], scores, keep_fraction)
    write_report(output, report)
    return report


def fit_scores(texts: list[str], scores, name: str, output: str, *, features: str = "embed",
               encoder: Encoder | str | None = None, valid_fraction: float = 0.1, keep_fraction: float = 0.1,
               seed: int = 0, normalize: bool = False, positive_threshold: float | None = None,
               embeddings: np.ndarray | None = None) -> dict:
    """Train and save a ridge model predicting ``scores`` (e.g. an LLM's 0-5 educational value) from
    embeddings; the held-out report gives Pearson / Spearman / MAE against predicting the mean,
    the score threshold keeping ``keep_fraction``, and with ``positive_threshold`` the ROC-AUC of
    ``score >= positive_threshold`` (FineWeb-Edu keeps documents scoring 3 or more)."""
    if features != "embed":
        raise ValueError(f"fit_scores: features {features!r}: score regression needs 'embed'")
    encoder = text_classifier.as_encoder(encoder)
    t = np.asarray(scores, dtype=np.float64)
    if len(t) != len(texts) or not np.isfinite(t).all():
        raise ValueError("fit_scores: one finite score per text is needed")
    train, valid = split(len(texts), valid_fraction, seed)
    x = embed(texts, encoder, normalize) if embeddings is None else embeddings
    coef, intercept, alpha = fit_ridge(x[train], t[train])
    label = f"__label__{name}"
    text_classifier.save(output, kind="ridge", label=label, encoder=encoder, strip_markup=normalize,
                         coef=coef, intercept=intercept, extra={"alpha": alpha})
    report = {"model": str(output), "features": "embed", "kind": "ridge", "label": label,
              "encoder": encoder.identity(), "n_train": int(len(train)), "n_valid": int(len(valid)),
              "valid_fraction": valid_fraction, "normalize": normalize, "seed": seed, "alpha": alpha}
    if len(valid):
        pred = text_classifier.load(output).scores(None, x[valid]).astype(np.float64)
        report["held_out"] = regression_metrics(t[valid], pred, t[train].mean(), keep_fraction,
                                                positive_threshold)
    write_report(output, report)
    return report


def regression_metrics(t: np.ndarray, pred: np.ndarray, train_mean: float, keep_fraction: float,
                       positive_threshold: float | None) -> dict:
    from scipy.stats import pearsonr, spearmanr

    k = max(1, int(np.ceil(keep_fraction * len(pred))))
    out = {"n": int(len(t)), "pearson": float(pearsonr(t, pred)[0]), "spearman": float(spearmanr(t, pred)[0]),
           "mae": float(np.abs(t - pred).mean()), "baseline_mae": float(np.abs(t - train_mean).mean()),
           "keep_fraction": keep_fraction, "threshold_for_keep_fraction": float(np.sort(pred)[::-1][k - 1])}
    if positive_threshold is not None:
        out["positive_threshold"] = positive_threshold
        out["roc_auc"] = roc_auc(t >= positive_threshold, pred)
    return out


def write_report(output: str, report: dict) -> None:
    """Beside the model, as for fastText: ``OUTPUT.json``."""
    Path(output).with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
