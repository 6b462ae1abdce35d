"""Spherical k-means over partitions, shared by ``semdedup`` and ``d4`` (docs/METHODS.md, "Spherical k-means").

Fit on a seeded sample, assign every row: the sample is the ``sample_size`` rows with the
smallest ``xxh3(seed, id)``, found in two passes (per-partition smallest hashes -> global
cut-off, then the rows under it), so it depends on ids and the seed, not on partitioning. The
fit is faiss' ``Kmeans(spherical=True)`` with D4's settings (``min_points_per_centroid=1``, no
subsampling). Assignment is an inner-product argmax; near-ties are re-decided row by row in
float64 so a row's cluster does not depend on the shape of the matrix product it was part of.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from datamill.stages.semantic.encoders import from_arrow

EMBEDDING = "embedding"
_TIE = 1e-5  # float32 GEMM error on unit vectors is ~1e-6; closer candidates are re-checked


def row_hashes(ids: pa.ChunkedArray | pa.Array, seed: int) -> np.ndarray:
    """uint64 hash of each id (stable across runs, machines and partitionings)."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h((i or "").encode(), seed=seed) for i in ids.to_pylist()), dtype=np.uint64, count=len(ids))


def _smallest(values: np.ndarray, k: int) -> np.ndarray:
    if len(values) > k:
        values = np.partition(values, k - 1)[:k]
    return np.sort(values)


def sample_hashes(table: pa.Table, mask: np.ndarray | None, size: int, seed: int) -> np.ndarray:
    """Per partition: the ``size`` smallest row hashes (among rows where ``mask``)."""
    h = row_hashes(table.column("id"), seed)
    return _smallest(h if mask is None else h[mask], size)


def merge_smallest(size: int):
    def merge(parts: list[np.ndarray]) -> np.ndarray:
        return _smallest(np.concatenate(parts) if parts else np.empty(0, np.uint64), size)
    return merge


def sample_rows(table: pa.Table, mask: np.ndarray | None, smallest: np.ndarray, seed: int):
    """Per partition: (hashes, embeddings) of its rows inside the global sample."""
    if len(smallest) == 0:
        return np.empty(0, np.uint64), np.empty((0, 0), np.float32)
    h = row_hashes(table.column("id"), seed)
    take = h <= smallest[-1]
    if mask is not None:
        take &= mask
    return h[take], from_arrow(table.column(EMBEDDING))[take]


def concat_samples(parts: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.empty(0, np.uint64), np.empty((0, 0), np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def fit(sample: tuple[np.ndarray, np.ndarray], n_clusters: int, niter: int, seed: int,
        n_rows: int) -> np.ndarray:
    """(K, d) unit-norm centroids; ``n_clusters`` 0 means round(sqrt(n_rows)), the rows being
    clustered (D4: K=11,000 for ~100M), at most one centroid per sample row."""
    hashes, x = sample
    if len(hashes) == 0:
        return np.empty((0, 0), np.float32)
    x = np.ascontiguousarray(x[np.argsort(hashes, kind="stable")], dtype=np.float32)  # fixed order
    k = n_clusters or max(1, round(math.sqrt(n_rows)))
    k = min(k, len(x))
    if k == 1:
        c = x.mean(axis=0, keepdims=True)
        return c / max(float(np.linalg.norm(c)), 1e-12)
    try:
        import faiss
    except ImportError as e:
        raise ImportError("k-means for semdedup/d4 needs faiss-cpu (pip install datamill[embed])") from e
    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, spherical=True,
                      min_points_per_centroid=1, max_points_per_centroid=len(x) + 1, verbose=False)
    km.train(x)
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def assign(x: np.ndarray, centroids: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(cluster int32, cosine similarity to its centroid float32) per row of ``x`` (n, d).

    Chunks of 2048 rows keep the float64 copies in cache; the best two centroids come from two
    argmax passes (a full argpartition of the (rows, K) scores cost 3x as much)."""
    n = len(x)
    labels = np.zeros(n, np.int32)
    sims = np.zeros(n, np.float32)
    if n == 0 or len(centroids) == 0:
        return labels, sims
    c64 = centroids.astype(np.float64)
    for s in range(0, n, chunk):
        xs = x[s:s + chunk]
        scores = xs @ centroids.T  # (b, K) float32
        lab = scores.argmax(axis=1)
        if scores.shape[1] > 1:
            r = np.arange(len(xs))
            top = scores[r, lab]
            scores[r, lab] = -np.inf
            second = scores.argmax(axis=1)
            near = top - scores[r, second] < _TIE
        else:
            near = np.zeros(len(xs), bool)
        if near.any():  # row-wise float64 dots: the same value whatever the batch
            rows = np.flatnonzero(near)
            x64 = xs[rows].astype(np.float64)
            cand = np.sort(np.stack([lab[rows], second[rows]], axis=1), axis=1)  # lower index wins an exact tie
            d = np.stack([np.einsum("ij,ij->i", x64, c64[cand[:, j]]) for j in range(2)], axis=1)
            lab[rows] = cand[np.arange(len(rows)), d.argmax(axis=1)]
        labels[s:s + chunk] = lab
        sims[s:s + chunk] = np.einsum("ij,ij->i", xs.astype(np.float64), c64[lab])
    return labels, sims


def cluster(parts, mask_parts, n_clusters: int, sample_size: int, niter: int, seed: int):
    """Fit on a sample of ``parts`` (tables with an embedding column) and assign every row.

    ``mask_parts``: per-partition bool arrays selecting the rows to cluster, or None for all;
    unselected rows get cluster -1. Returns (Partitions of (labels, sims), Value of centroids).
    """
    cutoff = parts.map(sample_hashes, mask_parts, sample_size, seed).reduce(merge_smallest(sample_size))
    rows = parts.map(sample_rows, mask_parts, cutoff, seed)
    n_rows = parts.map(count_rows, mask_parts).reduce(sum)
    centroids = rows.reduce(concat_samples).map(fit, n_clusters, niter, seed, n_rows)
    return parts.map(assign_table, centroids, mask_parts), centroids


def count_rows(table: pa.Table, mask: np.ndarray | None) -> int:
    return table.num_rows if mask is None else int(mask.sum())


def assign_table(table: pa.Table, centroids: np.ndarray, mask: np.ndarray | None):
    x = from_arrow(table.column(EMBEDDING))
    if mask is None:
        return assign(x, centroids)
    labels = np.full(len(x), -1, np.int32)
    sims = np.full(len(x), np.nan, np.float32)
    labels[mask], sims[mask] = assign(x[mask], centroids)
    return labels, sims


def cluster_sizes(assigned: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    labels = assigned[0]
    return np.bincount(labels[labels >= 0], minlength=k).astype(np.int64)


def size_histogram(sizes: np.ndarray) -> dict[str, int]:
    """Clusters per power-of-two size bucket: {"1": n, "2-3": n, "4-7": n, ...}."""
    out: dict[str, int] = {}
    for s in sizes[sizes > 0]:
        lo = 1 << (int(s).bit_length() - 1)
        key = str(lo) if lo == 1 else f"{lo}-{2 * lo - 1}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: int(kv[0].split("-")[0])))
