"""Curriculum sampling over a per-document difficulty (docs/METHODS.md §5.3, Platanios et al. 2019).

A raw difficulty (any numeric column of the shard index — ``length``, a ``*_score``, a
``*_difficulty`` — or a column of a separate ``id``-keyed Parquet table, such as the perplexity
under a reference checkpoint from ``datamill.train.difficulty``) is mapped to its empirical
CDF within each source, d(x) = #{y <= x} / n. At step t the loader samples only documents with
d(x) <= c(t), the pacing's competence, in proportion to their tokens (``weight: tokens``, so that
a finished curriculum samples like the plain loader) or uniformly (``weight: docs``, as in the
paper). ``anti`` reverses the order (hard -> easy) for ablations. Missing difficulties (null,
NaN) count as the hardest in both orders. Once a non-cyclical curriculum is over, the hook
returns None and the loader's own epoch order (every window once per epoch) takes over.

The loader packs windows of ``seq_len + 1`` tokens from the chosen documents' start, so a
window starting at a short easy document continues into its neighbours in the shard, and while
the hook is active training sees document openings drawn with replacement instead of the
loader's random-offset windows. That change alone moved validation loss a lot in
benchmarks/EXPERIMENTS.md: compare a curriculum against ``start: 1.0`` (everything admitted,
same mechanism, no ordering) before crediting the ordering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datamill.schedulers.pacing import Pacing
from datamill.typed_config import FilePath

log = logging.getLogger(__name__)


def empirical_cdf(values: np.ndarray, *, higher_is_harder: bool = True) -> np.ndarray:
    """d[i] = fraction of documents at most as hard as document i, in (0, 1]. NaN -> 1.0."""
    v = np.asarray(values, np.float64)
    if not higher_is_harder:
        v = -v
    ok = ~np.isnan(v)
    n = len(v)
    d = np.ones(n)
    if ok.any():
        s = np.sort(v[ok])
        d[ok] = np.searchsorted(s, v[ok], side="right") / n
    return d


def read_scores(path: str, column: str) -> pa.Table:
    """An ``id``-keyed difficulty table (Parquet file or directory) with ``column``."""
    try:
        t = pq.read_table(path, columns=["id", column])
    except (OSError, pa.ArrowInvalid, KeyError) as e:
        raise ValueError(f"curriculum.scores: cannot read columns ['id', {column!r}] from {path} ({e})") from None
    return t


@dataclass
class CurriculumConfig:
    """``data.sampler.curriculum``: an easy->hard curriculum over one difficulty column."""

    column: str = "length"  # a numeric column of the shard index (or of `scores`)
    # Platanios et al. 2019: sqrt competence worked best
    pacing: Literal["linear", "root", "quadratic", "inv_quadratic", "step", "exp"] = "root"
    length: int = 1000  # steps (loader micro-batches) until everything is admitted
    start: float = 0.01  # Platanios et al. 2019: c0 ~ 0.01
    p: float = 2.0  # root pacing exponent
    stairs: int = 1  # step pacing
    inc: float = 2.0  # exp pacing
    cyclical: bool = False  # repeat easy->hard every `length` steps
    anti: bool = False  # hard -> easy (an ablation)
    higher_is_harder: bool = True  # False for e.g. a quality score where higher means easier
    weight: Literal["tokens", "docs"] = "tokens"  # how admitted documents are weighted
    scores: FilePath = ""  # optional Parquet table (id, column) joined on id instead of an index column

    def __post_init__(self):
        if self.weight not in ("tokens", "docs"):
            raise ValueError(f"curriculum.weight: expected 'tokens' or 'docs', got {self.weight!r}")
        self.pace()  # Pacing checks length, start, p, stairs and inc: fail when the config loads

    def pace(self) -> Pacing:
        return Pacing(self.pacing, self.length, self.start, self.p, self.stairs, self.inc, self.cyclical)

    def config(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(CurriculumConfig)}


@dataclass
class Curriculum(CurriculumConfig):
    """The ``doc_probabilities`` hook of the shard loader: its config plus the caches it keeps."""

    _pace: Pacing = field(init=False, repr=False)
    _cdf: dict = field(init=False, repr=False, default_factory=dict)
    _scores: pa.Table | None = field(init=False, repr=False, default=None)
    _step: int | None = field(init=False, repr=False, default=None)  # the loader's last step (for metrics)

    def __post_init__(self):
        super().__post_init__()
        self._pace = self.pace()
        if self.scores:
            self._scores = read_scores(self.scores, self.column)

    def competence(self, step: int) -> float:
        return self._pace(step)

    def difficulty(self, source: str, index: pa.Table) -> np.ndarray:
        """Per-document difficulty CDF of one source's index (cached per source)."""
        key = (source, index.num_rows)
        d = self._cdf.get(key)
        if d is None:
            raw = self._raw(source, index)
            d = empirical_cdf(raw, higher_is_harder=self.higher_is_harder != self.anti)
            self._cdf[key] = d
        return d

    def _raw(self, source: str, index: pa.Table) -> np.ndarray:
        if self._scores is not None:
            if "id" not in index.column_names:
                raise ValueError(f"curriculum: source {source!r}: the shard index has no 'id' column to join "
                                 f"{self.scores} on")
            pos = pc.index_in(index.column("id"), value_set=self._scores.column("id"))
            col = self._scores.column(self.column).take(pos)
            found = int(pc.sum(pc.is_valid(pos)).as_py() or 0)
            if found < index.num_rows:
                log.warning("curriculum: %d of %d documents of %r have no %r in %s (treated as hardest)",
                            index.num_rows - found, index.num_rows, source, self.column, self.scores)
        elif self.column in index.column_names:
            col = index.column(self.column)
        else:
            raise ValueError(f"curriculum.column: {self.column!r} is not a column of the shard index of "
                             f"source {source!r} (columns: {index.column_names}); give `scores` to join one")
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise ValueError(f"curriculum.column: {self.column!r} has type {col.type}, expected a number")
        return pc.fill_null(col.cast(pa.float64()), float("nan")).to_numpy()

    def admitted(self, source: str, index: pa.Table, step: int) -> np.ndarray:
        """Boolean mask of the documents the curriculum allows at ``step``."""
        d = self.difficulty(source, index)
        mask = d <= self.competence(step) + 1e-12
        if not mask.any():  # competence below the easiest group: admit that group
            mask = d <= d.min()
        return mask

    def doc_probabilities(self, source: str, index: pa.Table, step: int) -> np.ndarray | None:
        self._step = step
        if self._pace.done(step):
            return None
        mask = self.admitted(source, index, step)
        if self.weight == "tokens":
            probs = mask * index.column("length").to_numpy().astype(np.float64)
            if probs.sum() <= 0:  # only empty documents admitted: fall back to counting them
                probs = mask.astype(np.float64)
        else:
            probs = mask.astype(np.float64)
        return probs

    def metrics(self, step: int) -> dict:
        """Competence at the loader's last micro-batch (the curriculum's clock), else at ``step``."""
        return {"curriculum/competence": self.competence(self._step if self._step is not None else step)}

    # A pure function of the step and the data: the state is the config, kept to notice a change.
    def state_dict(self) -> dict:
        return {"config": self.config()}

    def load_state_dict(self, state: dict) -> None:
        if state.get("config") != self.config():
            log.warning("curriculum: resuming with a different config (was %s, now %s)",
                        state.get("config"), self.config())
