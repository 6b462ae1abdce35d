"""D4 (Tirumala et al. 2023, arXiv 2308.12284): SemDeDup, then re-cluster the survivors and drop
the most prototypical ones (SSL prototypes, Sorscher et al. 2022), docs/METHODS.md, "D4 and SSL prototypes".

Survivors are re-clustered with the same K; each gets its cosine distance to its new centroid,
and the ``1 - r_proto`` fraction of them nearest their centroids is removed (one cut over all
clusters, placed exactly). Kept overall: r_dedup x r_proto.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

import numpy as np
import pyarrow as pa

from datamill.stages.semantic import spherical_kmeans as skm
from datamill.stage import GlobalStage, set_columns, with_reasons
from datamill.stages.semantic.encoders import EmbedderFields
from datamill.stages.semantic.embed import ensure_embedding
from datamill.order_statistic import kth_smallest
from datamill.stages.semantic.semdedup import ClusterFields, semantic_dedup


@dataclasses.dataclass(frozen=True)
class D4Prune(EmbedderFields, ClusterFields, GlobalStage):
    """SemDeDup -> re-cluster -> SSL-prototype pruning on document embeddings."""

    use: ClassVar[str] = "d4"

    r_proto: float = 0.8  # kept fraction of SemDeDup's survivors (our default; D4 sets R = r_dedup * r_proto per budget)

    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("id", "text")
    writes: ClassVar[tuple[str, ...]] = ("d4_cluster", "d4_max_sim", "d4_dup_of",
                                         "d4_proto_cluster", "d4_proto_dist")

    def __post_init__(self):
        EmbedderFields.__post_init__(self)
        self._check()
        if not 0.0 < self.r_proto <= 1.0:
            raise ValueError(f"{self.use}: r_proto={self.r_proto} must be in (0, 1]")

    def plan(self, ctx, parts):
        embedded = parts.map(ensure_embedding, self)
        k, assigned, dup, keep = semantic_dedup(ctx, embedded, self, "semdedup")
        proto, _ = skm.cluster(embedded, keep, self.n_clusters or k, self.sample_size, self.niter, self.seed)
        dist = proto.map(_survivor_distances, keep)
        cut = kth_smallest(dist, functools.partial(_rank_removed, self.r_proto))
        final = proto.map(_keep_far, keep, cut)
        ctx.add_stats("proto_cut_distance", cut)
        ctx.add_stats("proto_kept_fraction", final.map(_count, keep).reduce(_sum).map(_fraction))
        ctx.add_stats("kept_fraction", final.map(_count, None).reduce(_sum).map(_fraction))
        return parts.map(_annotate, assigned, dup, proto, keep, final)


def _survivor_distances(proto: tuple, keep: np.ndarray) -> np.ndarray:
    return (1.0 - proto[1][keep]).astype(np.float32)


def _rank_removed(r_proto: float, n: int) -> int:
    return round((1.0 - r_proto) * n)


def _keep_far(proto: tuple, keep: np.ndarray, cut: float | None) -> np.ndarray:
    """Final keep mask: SemDeDup survivors farther from their new centroid than the cut."""
    if cut is None:
        return keep.copy()
    return keep & ((1.0 - proto[1]).astype(np.float32) > cut)


def _count(final: np.ndarray, among: np.ndarray | None) -> np.ndarray:
    if among is None:
        return np.array([int(final.sum()), len(final)], np.int64)
    return np.array([int(final[among].sum()), int(among.sum())], np.int64)


def _sum(parts: list) -> np.ndarray:
    return np.sum(parts, axis=0)


def _fraction(counts: np.ndarray) -> float:
    return float(counts[0] / counts[1]) if counts[1] else 1.0


def _annotate(table: pa.Table, assigned: tuple, dup: tuple, proto: tuple, keep: np.ndarray,
              final: np.ndarray) -> pa.Table:
    columns = {
        "d4_cluster": pa.array(assigned[0], pa.int32()),
        "d4_max_sim": pa.array(dup[0], pa.float32()),
        "d4_dup_of": dup[1],
        "d4_proto_cluster": pa.array(proto[0], pa.int32(), mask=~keep),
        "d4_proto_dist": pa.array((1.0 - proto[1]).astype(np.float32), pa.float32(), mask=~keep),
    }
    table = set_columns(table, columns)
    reasons = np.where(~keep, "semdedup", np.where(final, None, "ssl_prototype"))
    return with_reasons(table, pa.array(reasons, pa.string()))
