"""Train a document classifier on annotated rows, inside the pipeline (FineWeb-Edu's second
step, Penedo et al. 2024: a classifier learns the LLM's grades, then scores the corpus).

The grade column is binarised at ``threshold`` (FineWeb-Edu keeps int score >= 3) and
``datamill.filters.fit_classifier.fit`` trains on every graded row, sorted by id so the model
does not depend on partitioning. The model is this stage's artifact
(``STAGE/.datamill/model.bin``, its report beside it as ``model.json``): a later stage names it
with ``model: {stage: NAME}``. Rows pass through unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.fileio import sidecar
from datamill.filters import fit_classifier
from datamill.stage import GlobalStage, require_column
from datamill.typed_config import ModelRef


@dataclasses.dataclass(frozen=True)
class TrainClassifier(GlobalStage):
    """Fit a classifier on a graded column; the model is an artifact for ``{stage: NAME}``."""

    use: ClassVar[str] = "train_classifier"
    version: ClassVar[str] = "1"
    artifact: ClassVar[str] = "model.bin"
    needs_rows: ClassVar[bool] = True

    label_column: str = "llm_score"  # the grade to learn (llm_annotate's column); null rows are skipped
    threshold: float = 3.0  # positive when grade >= threshold (FineWeb-Edu: int score >= 3)
    label_name: str = "hq"  # positive class __label__NAME; quality_filter's default label is __label__hq
    features: Literal["fasttext", "embed"] = "fasttext"  # fastText n-grams, or sentence embeddings
    encoder: ModelRef = ""  # features: embed: the sentence encoder
    valid_fraction: float = 0.1  # seeded held-out share for the report (`datamill fit-classifier`'s)
    keep_fraction: float = 0.1  # the report gives the score threshold keeping this share (DCLM: 10%)
    seed: int = 0  # held-out split, oversampling and fastText's seed
    hyperparameters: dict[str, int | float] = dataclasses.field(default_factory=dict)  # over DCLM's fastText ones

    def __post_init__(self):
        if not 0.0 <= self.valid_fraction < 1.0 or not 0.0 < self.keep_fraction <= 1.0:
            raise ValueError(f"stage {self.use}: valid_fraction must be in [0, 1), keep_fraction in (0, 1]")
        if unknown := set(self.hyperparameters) - set(fit_classifier.DCLM):
            raise ValueError(f"stage {self.use}: unknown hyperparameters {sorted(unknown)}; "
                             f"allowed: {sorted(fit_classifier.DCLM)}")

    def needed_columns(self) -> tuple[str, ...]:
        return (*self.reads, self.label_column)

    def plan(self, ctx, parts):
        examples = parts.map(self.examples).reduce(_concat)
        report = examples.map(self.train, sidecar(ctx.stage_dir, self.artifact))
        ctx.add_stats("classifier", report)
        return parts.map(_after, report)  # the rows, once the model exists

    def examples(self, table: pa.Table) -> pa.Table:
        """(id, text, positive) of the graded rows."""
        grade = require_column(table, self.label_column, self.use)
        graded = table.filter(pc.is_valid(grade))
        positive = pc.greater_equal(graded.column(self.label_column).cast(pa.float64()), self.threshold)
        ids = graded.column("id") if "id" in graded.column_names else pa.array([""] * graded.num_rows)
        return pa.table({"id": ids.cast(pa.string()), "text": graded.column("text"), "positive": positive})

    def train(self, examples: pa.Table, path: str) -> dict:
        examples = examples.sort_by([("id", "ascending"), ("text", "ascending")])
        labels = ["1" if p else "0" for p in examples.column("positive").to_pylist()]
        report = fit_classifier.fit(examples.column("text").to_pylist(), labels, {"1"}, self.label_name,
                                    path.removeprefix("file://"), valid_fraction=self.valid_fraction,
                                    keep_fraction=self.keep_fraction, seed=self.seed,
                                    hyper=dict(self.hyperparameters), features=self.features,
                                    encoder=self.encoder or None)  # None: the default encoder
        return {**report, "threshold": self.threshold, "positives": int(np.sum(np.array(labels) == "1")),
                "negatives": int(np.sum(np.array(labels) == "0"))}


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables)


def _after(table: pa.Table, report: dict) -> pa.Table:
    return table

