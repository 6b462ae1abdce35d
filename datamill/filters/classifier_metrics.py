"""Held-out metrics shared by the fastText and embedding classifiers of ``fit-classifier``."""

from __future__ import annotations

import numpy as np


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) identity, ties averaged
    (numpy only: scikit-learn is not a core dependency)."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    uniq, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct score
    ranks = avg_rank[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(y: np.ndarray, score: np.ndarray, keep_fraction: float) -> dict:
    """Precision / recall / F1 / accuracy at 0.5, ROC-AUC, and the threshold keeping ``keep_fraction``;
    ``trivial_f1`` / ``trivial_accuracy``: what predicting the majority (F1: the positive) class scores."""
    y = np.asarray(y, dtype=bool)
    p = float(y.mean()) if len(y) else 0.0
    pred = score >= 0.5
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    k = max(1, int(np.ceil(keep_fraction * len(score))))
    threshold = float(np.sort(score)[::-1][k - 1]) if len(score) else float("nan")
    return {"n": int(len(y)), "positive_rate": float(y.mean()) if len(y) else 0.0,
            "precision": precision, "recall": recall, "f1": f1,
            "accuracy": float((pred == y).mean()) if len(y) else 0.0,
            "trivial_f1": 2 * p / (1 + p), "trivial_accuracy": max(p, 1 - p),
            "roc_auc": roc_auc(y, score), "keep_fraction": keep_fraction,
            "threshold_for_keep_fraction": threshold,
            "kept_at_threshold": float((score >= threshold).mean()) if len(score) else 0.0}
