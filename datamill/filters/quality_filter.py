"""Quality classifier filter (DCLM, Li et al. 2024, arXiv 2406.11794, §4.4).

Scores ``quality_score`` per document with a fastText model (P(``label``)) or an embedding
classifier (``text_classifier``: a probability, or a regressed score such as FineWeb-Edu's 0-5),
then keeps either the documents at or
above a fixed ``threshold`` or the top ``keep_fraction`` of the *whole* dataset: the cutoff is
the exact global order statistic of the scores, found with two 65,536-bin histogram passes
reduced over partitions (``order_statistic``), so it does not depend on the partitioning.
Documents tied with the cutoff score are all kept.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from datamill.filters import _text, text_classifier
from datamill.stage import GlobalStage, Mode, StageArtifact, set_columns, with_reasons
from datamill.order_statistic import kth_smallest
from datamill.typed_config import FilePath

REASON = "quality_low_score"


@dataclasses.dataclass(frozen=True)
class QualityFilter(GlobalStage):
    """Keep the documents a classifier scores highest (global top fraction or threshold)."""

    use: ClassVar[str] = "quality_filter"
    version: ClassVar[str] = "1"
    writes: ClassVar[tuple[str, ...]] = ("quality_score",)

    # fastText .bin or embedding-classifier directory (`datamill fit-classifier`), or {stage: NAME}
    # for the model an upstream `train_classifier` stage wrote; required
    model: FilePath | StageArtifact = ""
    label: str = "__label__hq"  # DCLM's positive label (fasttext-oh-eli5: __label__hq vs __label__cc)
    # reuse: an embedding classifier scores an upstream `embed` stage's column when there is one
    # (it must come from the same encoder: checked); compute: always embed the text here
    embeddings: Literal["reuse", "compute"] = "reuse"
    keep_fraction: float = 0.1  # DCLM-Baseline keeps the top 10% (Table 5: best of 10/15/20%)
    threshold: float | None = None  # fixed cutoff instead of keep_fraction (DCLM's model: 0.018112)
    normalize: bool = False  # as the model was trained (`fit-classifier --normalize`); DCLM: raw text
    mode: Mode = "drop"  # drop | annotate (score every document, drop none)

    def __post_init__(self):
        if not self.model:
            raise ValueError("quality_filter: 'model' (a fastText .bin or an embedding-classifier directory) "
                             "is required")
        if not 0.0 <= self.keep_fraction <= 1.0:
            raise ValueError(f"quality_filter: keep_fraction must be in [0, 1], got {self.keep_fraction}")

    def score(self, table: pa.Table) -> pa.Table:
        clf = text_classifier.load(self.model, label=self.label, normalize=self.normalize, stage=self.use)
        scores = text_classifier.document_scores(clf, table, _text.text_array(table),
                                                 reuse_embedding=self.embeddings == "reuse", stage=self.use)
        return set_columns(table, {"quality_score": pa.array(scores, type=pa.float32())})

    def plan(self, ctx, parts):
        scored = parts.map(self.score)
        if self.threshold is not None:
            cutoff = ctx.constant(float(np.float32(self.threshold)))
        else:
            scores = scored.map(_scores)
            cutoff = kth_smallest(scores, functools.partial(_rank_from_top, self.keep_fraction))
        ctx.add_stats("quality_cutoff", cutoff)
        return scored.map(_select, cutoff)

    def apply(self, table: pa.Table, cutoff: float | None) -> pa.Table:
        """Score one partition and attach reasons for a known cutoff (tests, single partition)."""
        return _select(self.score(table), cutoff)


def _scores(table: pa.Table) -> np.ndarray:
    return table.column("quality_score").to_numpy().astype(np.float32)


def _rank_from_top(keep_fraction: float, n: int) -> int:
    """Rank (1-based, ascending) of the k-th highest score, k = ceil(keep_fraction * n);
    0 (no cutoff value) when nothing is to be kept."""
    k = math.ceil(keep_fraction * n - 1e-9)
    return n - k + 1 if k > 0 else 0


def _select(table: pa.Table, cutoff: float | None) -> pa.Table:
    scores = _scores(table)
    low = np.ones(len(scores), bool) if cutoff is None else scores < np.float32(cutoff)
    return with_reasons(table, pa.array(np.where(low, REASON, None), type=pa.string()))
