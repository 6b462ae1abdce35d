"""SemDeDup (Abbas et al. 2023, arXiv 2303.09540): drop semantic near-duplicates within k-means
clusters of document embeddings. A row goes when its cosine similarity to an earlier row of its
cluster exceeds 1 - ε; ε is given, or calibrated exactly to keep ``r_dedup`` of the rows.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from datamill.stages.semantic import spherical_kmeans as skm
from datamill.stage import GlobalStage, Mode, set_columns, with_reasons
from datamill.stages.semantic.encoders import EmbedderFields
from datamill.stages.semantic.embed import ensure_embedding
from datamill.order_statistic import kth_smallest
from datamill.stages.semantic.semdedup_tiles import max_similarity



@dataclasses.dataclass(frozen=True)
class ClusterFields:
    """Clustering and SemDeDup options shared by ``semdedup`` and ``d4``."""

    eps: float = 0.0  # > 0: drop rows with cosine > 1 - eps to an earlier row; 0: calibrate to r_dedup
    r_dedup: float = 0.75  # kept fraction after SemDeDup; D4 (Tirumala et al. 2023)
    n_clusters: int = 0  # k-means K; 0: round(sqrt(rows)), the D4/SemDeDup heuristic (K=11,000 for ~1e8)
    sample_size: int = 100_000  # rows k-means is fitted on, then all assigned; keep >= ~40 K (faiss)
    niter: int = 20  # k-means iterations; D4's faiss config
    seed: int = 1234  # SemDeDup reference config
    which_to_keep: Literal["hard", "easy", "random"] = "hard"  # SemDeDup reference; hard keeps the farthest from the centroid
    tile_rows: int = 10_000  # most rows one task compares; larger clusters are split
    mode: Mode = "drop"  # drop | annotate

    def _check(self) -> None:
        stage = self.use
        if not 0.0 <= self.eps < 2.0:
            raise ValueError(f"{stage}: eps={self.eps} must be in [0, 2)")
        if not 0.0 < self.r_dedup <= 1.0:
            raise ValueError(f"{stage}: r_dedup={self.r_dedup} must be in (0, 1]")
        if self.n_clusters < 0 or self.sample_size < 1 or self.niter < 1 or self.tile_rows < 2:
            raise ValueError(f"{stage}: n_clusters >= 0, sample_size >= 1, niter >= 1, tile_rows >= 2")


def semantic_dedup(ctx, embedded, stage: ClusterFields, prefix: str):
    """Cluster, compute M per row, place the threshold: (K, assigned, dup, keep masks)."""
    assigned, centroids = skm.cluster(embedded, None, stage.n_clusters, stage.sample_size,
                                      stage.niter, stage.seed)
    k = centroids.map(len).result()
    sizes = assigned.map(skm.cluster_sizes, k).reduce(_sum_arrays)
    ctx.add_stats(f"{prefix}_n_clusters", int(k))
    ctx.add_stats(f"{prefix}_cluster_sizes", sizes.map(skm.size_histogram))
    dup = max_similarity(embedded, assigned, sizes, stage.seed, stage.which_to_keep, stage.tile_rows)
    if stage.eps > 0:
        threshold = 1.0 - stage.eps
        ctx.add_stats(f"{prefix}_eps", stage.eps)
    else:
        threshold = kth_smallest(dup.pick(0), functools.partial(_rank, stage.r_dedup))
        ctx.add_stats(f"{prefix}_eps", threshold.map(_eps))
    keep = dup.map(_keep_below, threshold)
    ctx.add_stats(f"{prefix}_kept_fraction", keep.map(_count).reduce(_sum_arrays).map(_fraction))
    return k, assigned, dup, keep


@dataclasses.dataclass(frozen=True)
class SemDeDup(EmbedderFields, ClusterFields, GlobalStage):
    """SemDeDup alone: embed (or reuse ``embedding``), cluster, drop near-duplicates per cluster."""

    use: ClassVar[str] = "semdedup"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("id", "text")
    writes: ClassVar[tuple[str, ...]] = ("semdedup_cluster", "semdedup_max_sim", "semdedup_dup_of")

    def __post_init__(self):
        EmbedderFields.__post_init__(self)
        self._check()

    def plan(self, ctx, parts):
        embedded = parts.map(ensure_embedding, self)
        _, assigned, dup, keep = semantic_dedup(ctx, embedded, self, "semdedup")
        return parts.map(_annotate, assigned, dup, keep)


def _annotate(table: pa.Table, assigned: tuple, dup: tuple, keep: np.ndarray) -> pa.Table:
    table = set_columns(table, {"semdedup_cluster": pa.array(assigned[0], pa.int32()),
                                "semdedup_max_sim": pa.array(dup[0], pa.float32()), "semdedup_dup_of": dup[1]})
    return with_reasons(table, pa.array(np.where(keep, None, "semdedup"), pa.string()))


def _sum_arrays(parts: list) -> np.ndarray:
    return np.sum(parts, axis=0)



def _rank(keep_fraction: float, n: int) -> int:
    return round(keep_fraction * n)


def _eps(threshold: float | None) -> float | None:
    return None if threshold is None else 1.0 - threshold


def _keep_below(dup: tuple, threshold: float | None) -> np.ndarray:
    m = dup[0]
    return np.ones(len(m), bool) if threshold is None else m <= threshold


def _count(mask: np.ndarray) -> np.ndarray:
    return np.array([int(mask.sum()), len(mask)], np.int64)


def _fraction(counts: np.ndarray) -> float:
    return float(counts[0] / counts[1]) if counts[1] else 1.0
