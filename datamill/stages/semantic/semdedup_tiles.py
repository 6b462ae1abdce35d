"""SemDeDup's per-cluster kernel as Dask tasks (docs/METHODS.md, "SemDeDup").

Within a cluster, rows are ordered by a partition-independent key (``hard``: similarity to the
centroid ascending, i.e. farthest first, as the reference keeps; ties by id), and each row gets
M = its largest cosine similarity to an EARLIER row (the reference's ``triu(E Eᵀ).max(0)``) and
the id of that row. M does not depend on ε, so ε can move later without recomputation.

A cluster that fits in ``tile_rows`` is one tile. A larger one is cut into B blocks by id hash
and every pair of blocks {a, b} is a tile holding both blocks (each row sits in B-1 tiles); a
row's M is the max over its tiles, which covers every earlier row of its cluster while no task
holds more than ``tile_rows`` rows. Tiles are packed into shuffle outputs; the results travel
back to their input partitions by a second shuffle, so text never moves.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.stages.semantic.encoders import from_arrow
from datamill.stages.semantic.spherical_kmeans import EMBEDDING, row_hashes


def plan_tiles(sizes: np.ndarray, tile_rows: int, n_in: int) -> dict:
    """Blocks per cluster, first tile index per cluster and the output partition of each tile."""
    half = max(1, tile_rows // 2)
    blocks = np.where(sizes > tile_rows, -(-sizes // half), 1).astype(np.int64)
    tiles_per = np.where(blocks > 1, blocks * (blocks - 1) // 2, 1)
    start = np.concatenate([[0], np.cumsum(tiles_per)[:-1]]).astype(np.int64)
    est = np.repeat(np.where(blocks > 1, 2 * sizes / np.maximum(blocks, 1), sizes), tiles_per)
    target = min(tile_rows, max(1, math.ceil(int(sizes.sum()) / max(1, n_in))))
    dest = np.zeros(len(est), np.int32)
    out, fill = 0, 0.0
    for t, rows in enumerate(est):  # greedy packing in cluster order
        if fill and fill + rows > target:
            out, fill = out + 1, 0.0
        dest[t] = out
        fill += rows
    return {"blocks": blocks, "start": start, "dest": dest, "n_out": out + 1 if len(est) else 1}


def _row_tiles(labels: np.ndarray, block: np.ndarray, plan: dict) -> tuple[np.ndarray, np.ndarray]:
    """(row index, tile) pairs: one per row for small clusters, B-1 per row for split ones."""
    nb = plan["blocks"][labels]
    small = np.flatnonzero(nb == 1)
    rows, tiles = [small], [plan["start"][labels[small]]]
    for b in np.unique(nb[nb > 1]):
        r = np.flatnonzero(nb == b)
        x = block[r] % b
        for shift in range(1, b):  # partner block y = x + shift (mod b), each pair once per row
            y = (x + shift) % b
            lo, hi = np.minimum(x, y), np.maximum(x, y)
            local = lo * b - lo * (lo + 1) // 2 + (hi - lo - 1)  # index of pair (lo, hi), lo < hi
            rows.append(r)
            tiles.append(plan["start"][labels[r]] + local)
    return np.concatenate(rows), np.concatenate(tiles).astype(np.int64)


def keyed_rows(i: int, table: pa.Table, assigned: tuple, plan: dict, seed: int, keep: str) -> pa.Table:
    """Per input partition: what the tile tasks need, one row per (row, tile), text left behind."""
    labels, sims = assigned
    clustered = labels >= 0
    ids = table.column("id")
    if keep == "random":
        key = row_hashes(ids, seed + 1).astype(np.float64)
    else:
        key = sims.astype(np.float64) if keep == "hard" else -sims.astype(np.float64)
    block = row_hashes(ids, seed + 2) if (plan["blocks"] > 1).any() else np.zeros(len(labels), np.uint64)
    r, tile = _row_tiles(labels[clustered], block[clustered], plan)
    r = np.flatnonzero(clustered)[r]
    emb = table.column(EMBEDDING)
    return pa.table({
        "dest": plan["dest"][tile], "tile": tile, "part": np.full(len(r), i, np.int32),
        "row": r.astype(np.int32), "key": key[r], "id": ids.take(pa.array(r)).cast(pa.string()),
        EMBEDDING: emb.take(pa.array(r)),
    })


def split_by(column: str):
    def split(table: pa.Table, n_out: int) -> list[pa.Table]:
        dest = table.column(column).to_numpy()
        order = np.argsort(dest, kind="stable")
        bounds = np.searchsorted(dest[order], np.arange(n_out + 1))
        return [table.take(pa.array(order[bounds[j]:bounds[j + 1]])) for j in range(n_out)]
    split.__name__ = f"split_by_{column}"
    return split


def concat(pieces: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(pieces)


def prefix_max_sim(x: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For rows of ``x`` (n, d) in order: (max cosine to an earlier row, its index); -inf, -1 if none."""
    n = len(x)
    best = np.full(n, -np.inf, np.float32)
    arg = np.full(n, -1, np.int64)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        sim = x[:e] @ x[s:e].T  # (e, e - s): sim[i, j - s] = cos(row i, row j)
        sim[np.arange(e)[:, None] >= np.arange(s, e)[None, :]] = -np.inf  # only i < j
        a = sim.argmax(axis=0)
        best[s:e] = sim[a, np.arange(e - s)]
        arg[s:e] = np.where(np.isfinite(best[s:e]), a, -1)
    return best, arg


def tile_max_sim(table: pa.Table) -> pa.Table:
    """Per packed output: M and the id of the earlier row it came from, per (part, row, tile)."""
    order = pc.sort_indices(table, sort_keys=[("tile", "ascending"), ("key", "ascending"),
                                              ("id", "ascending")])
    table = table.take(order)
    tiles = table.column("tile").to_numpy()
    x = from_arrow(table.column(EMBEDDING))
    best = np.full(len(tiles), -np.inf, np.float32)
    src = np.full(len(tiles), -1, np.int64)
    bounds = np.flatnonzero(np.diff(tiles)) + 1
    for s, e in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(tiles)]])):
        b, a = prefix_max_sim(x[s:e])
        best[s:e] = b
        src[s:e] = np.where(a >= 0, a + s, -1)
    ids = table.column("id")
    dup_of = pc.if_else(pa.array(src >= 0), ids.take(pa.array(np.maximum(src, 0))), pa.scalar(None, pa.string()))
    return pa.table({"part": table.column("part"), "row": table.column("row"),
                     "max_sim": best, "dup_of": dup_of})


def join_rows(table: pa.Table, pieces: pa.Table) -> tuple[np.ndarray, pa.Array]:
    """(M per row with -1.0 for 'no earlier row', id of that row or null) for one input partition."""
    n = table.num_rows
    best = np.full(n, -1.0, np.float32)
    dup_of = pa.nulls(n, pa.string())
    if pieces.num_rows:
        pieces = pieces.take(pc.sort_indices(pieces, sort_keys=[("row", "ascending"),
                                                               ("max_sim", "descending")]))
        rows = pieces.column("row").to_numpy()
        first = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
        m = pieces.column("max_sim").to_numpy()[first]
        best[rows[first]] = np.maximum(m, -1.0)
        values = pc.if_else(pa.array(np.isfinite(m)), pieces.column("dup_of").take(pa.array(first)),
                            pa.scalar(None, pa.string()))
        positions = np.full(n, -1, np.int64)
        positions[rows[first]] = np.arange(len(first))
        dup_of = values.take(pa.array(positions, mask=positions < 0))
    return best, dup_of


def max_similarity(embedded, assigned, sizes, seed: int, keep: str, tile_rows: int):
    """Partitions of (M float32, dup_of string array) aligned with the rows of ``embedded``;
    ``sizes`` is a Value of the rows per cluster (the tile plan is made from it on the cluster)."""
    plan = sizes.map(plan_tiles, tile_rows, len(embedded))
    n_out = plan.map(_n_out).result()
    keyed = embedded.map_indexed(keyed_rows, assigned, plan, seed, keep)
    results = keyed.shuffle(split_by("dest"), n_out, concat).map(tile_max_sim)
    back = results.shuffle(split_by("part"), len(embedded), concat)
    return embedded.map(join_rows, back)


def _n_out(plan: dict) -> int:
    return plan["n_out"]
