"""LSH banding and connected components for MinHash dedup, as pure functions over numpy arrays.

Documents are ``node`` keys (uint64: input partition << 32 | row), used only to route data back
to its partition; every choice that decides an output (bucket representative, kept document)
uses content (signatures, id hashes, ids), so results do not depend on partitioning.

Banding: a band's ``rows`` hash values are folded into one 64-bit key per (document, band); a
shuffle on that key brings equal keys together; each bucket of >= 2 documents yields star
edges (representative -> member), the representative being the member with the smallest id hash.

Components: either one task runs scipy's connected components (below a documented edge count),
or the alternating large-star / small-star iteration of Kiveris et al. 2014 ("Connected
Components in MapReduce and Beyond") runs as repeated shuffles until no edge changes; it then
leaves every component as a star around its smallest node.
"""

from __future__ import annotations

import functools

import numpy as np

from datamill.stages.minhash.signatures import fmix64

_FOLD = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)
EMPTY_EDGES = (np.zeros(0, np.uint64), np.zeros(0, np.uint64))


@functools.lru_cache(maxsize=64)
def optimal_bands_rows(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's own search (``MinHashLSH`` with equal false-positive/negative weights)."""
    from datasketch.lsh import _optimal_param

    return tuple(int(x) for x in _optimal_param(threshold, num_perm, 0.5, 0.5))


def s_curve(bands: int, rows: int, points=np.round(np.arange(0.5, 1.0001, 0.05), 2)) -> dict[str, float]:
    """P(candidate | Jaccard s) = 1 - (1 - s^r)^b at each ``s``."""
    return {f"{s:.2f}": float(1 - (1 - s ** rows) ** bands) for s in points}


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: each band's ``rows`` values folded and mixed with the band index."""
    n = len(sigs)
    h = np.zeros((n, bands), dtype=np.uint64)
    view = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    for j in range(rows):
        h = (h + view[:, :, j]) * _FOLD
    return fmix64(h ^ (np.arange(bands, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)))


def hash_route(keys: np.ndarray, n_out: int) -> np.ndarray:
    return (fmix64(keys) % np.uint64(n_out)).astype(np.int64)


def split_by(route: np.ndarray, n_out: int, *columns: np.ndarray) -> list[tuple]:
    """Pieces of ``columns`` per destination ``route`` value, in row order."""
    order = np.argsort(route, kind="stable")
    bounds = np.searchsorted(route[order], np.arange(n_out + 1))
    cols = [c[order] for c in columns]
    return [tuple(c[bounds[j]:bounds[j + 1]] for c in cols) for j in range(n_out)]


def concat(pieces: list[tuple]) -> tuple:
    pieces = [p for p in pieces if p is not None]
    if not pieces:
        return EMPTY_EDGES
    return tuple(np.concatenate(cols) for cols in zip(*pieces))


def split_bands(records: tuple, n_out: int) -> list[tuple]:
    keys, idh, nodes = records
    return split_by((keys % np.uint64(n_out)).astype(np.int64), n_out, keys, idh, nodes)


def bucket_edges(pieces: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Star edges (representative, member) from every bucket of >= 2 documents."""
    keys, idh, nodes = concat(pieces) if pieces else (np.zeros(0, np.uint64),) * 3
    if len(keys) < 2:
        return EMPTY_EDGES
    order = np.lexsort((nodes, idh, keys))
    keys, nodes = keys[order], nodes[order]
    first = np.concatenate([[True], keys[1:] != keys[:-1]])
    rep = nodes[np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))]
    member = ~first
    return unique_edges(rep[member], nodes[member])


def unique_edges(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = u != v
    u, v = u[keep], v[keep]
    if len(u) == 0:
        return EMPTY_EDGES
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    new = np.concatenate([[True], (u[1:] != u[:-1]) | (v[1:] != v[:-1])])
    return u[new], v[new]


def edge_count(edges: tuple) -> int:
    return len(edges[0])


def _groups(src: np.ndarray, dst: np.ndarray):
    """Sort by (src, dst); return src, dst, group start flags and each row's group min dst."""
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    first = np.concatenate([[True], src[1:] != src[:-1]]) if len(src) else np.zeros(0, bool)
    gmin = dst[np.maximum.accumulate(np.where(first, np.arange(len(src)), 0))] if len(src) else dst
    return src, dst, first, gmin


def split_large_star(edges: tuple, n_out: int) -> list[tuple]:
    u, v = edges
    src, dst = np.concatenate([u, v]), np.concatenate([v, u])
    return split_by(hash_route(src, n_out), n_out, src, dst)


def large_star(pieces: list[tuple]) -> tuple[tuple, int]:
    """Per node u with neighbours N: connect every larger neighbour to min(N + u).
    Returns (edges, changed) where changed counts edges that moved."""
    src, dst = concat(pieces)
    if len(src) == 0:
        return EMPTY_EDGES, 0
    src, dst, _, gmin = _groups(src, dst)
    m = np.minimum(gmin, src)
    out = dst > src
    changed = int(np.count_nonzero(m[out] != src[out]))
    return unique_edges(dst[out], m[out]), changed


def split_small_star(edges: tuple, n_out: int) -> list[tuple]:
    u, v = edges
    hi, lo = np.maximum(u, v), np.minimum(u, v)
    return split_by(hash_route(hi, n_out), n_out, hi, lo)


def small_star(pieces: list[tuple]) -> tuple[tuple, int]:
    """Per node u with smaller neighbours N: connect N + u to min(N). Returns (edges, changed)
    where changed counts nodes with more than one smaller neighbour."""
    hi, lo = concat(pieces)
    if len(hi) == 0:
        return EMPTY_EDGES, 0
    hi, lo = unique_edges(hi, lo)
    hi, lo, first, gmin = _groups(hi, lo)
    starts = np.flatnonzero(first)
    changed = int(np.count_nonzero(np.diff(np.append(starts, len(hi))) > 1))
    u = np.concatenate([lo, hi[first]])
    v = np.concatenate([gmin, gmin[first]])
    return unique_edges(u, v), changed


def star_labels(edges: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(node, label) for the stars that large/small-star converge to: label = the centre."""
    u, v = edges
    hi, lo = np.maximum(u, v), np.minimum(u, v)
    return np.concatenate([hi, lo]), np.concatenate([lo, lo])


def local_components(edges: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(node, label = smallest node of its component), by scipy in one task."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    u, v = edges
    if len(u) == 0:
        return EMPTY_EDGES
    nodes, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    k = len(nodes)
    graph = coo_matrix((np.ones(len(u), np.int8), (inv[: len(u)], inv[len(u):])), shape=(k, k))
    _, comp = connected_components(graph, directed=False)
    smallest = np.full(comp.max() + 1, k, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(k))  # nodes are sorted: index order = node order
    return nodes, nodes[smallest[comp]]


def split_by_partition(pair: tuple, n_out: int) -> list[tuple]:
    """Route (node, ...) columns to the input partition the node came from."""
    return split_by((pair[0] >> np.uint64(32)).astype(np.int64), n_out, *pair)
