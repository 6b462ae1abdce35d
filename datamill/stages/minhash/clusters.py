"""Clusters of MinHash near-duplicates: routing tables between partitions, the keeper of each
cluster (lowest priority, then smallest id: deterministic whatever the partitioning), cluster
statistics, and the ``.datamill/clusters/`` record that ``datamill show --cluster`` reads.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datamill.fileio import sidecar
from datamill.stages.minhash import lsh
from datamill.stages.table_groups import group_starts, split_rows


def np_column(col) -> np.ndarray:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return col.to_numpy(zero_copy_only=False)


def split_by_label(table: pa.Table, n_out: int) -> list[pa.Table]:
    return split_rows(table, lsh.hash_route(np_column(table.column("label")), n_out), n_out)


def split_by_node_partition(table: pa.Table, n_out: int) -> list[pa.Table]:
    return split_rows(table, (np_column(table.column("node")) >> np.uint64(32)).astype(np.int64), n_out)


def split_by_v_partition(table: pa.Table, n_out: int) -> list[pa.Table]:
    return split_rows(table, (np_column(table.column("v")) >> np.uint64(32)).astype(np.int64), n_out)


def concat_tables(pieces: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(pieces).combine_chunks()


def choose_keepers(pieces: list[pa.Table]) -> pa.Table:
    """Per component: the member with the lowest (priority, id) is kept; all get its id."""
    members = pa.concat_tables(pieces).sort_by([("label", "ascending"), ("priority", "ascending"),
                                                ("id", "ascending")])
    first, start = group_starts(np_column(members.column("label")))
    keeper = members.column("id").take(pa.array(start))
    size = np.bincount(start, minlength=len(start))[start]
    return pa.table({"node": members.column("node"), "keeper": keeper.cast(pa.string()),
                     "is_duplicate": pa.array(~first), "size": pa.array(size)})


def cluster_sizes(keepers: pa.Table) -> dict[int, int]:
    sizes = np_column(keepers.column("size"))[~np_column(keepers.column("is_duplicate"))]
    values, counts = np.unique(sizes, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def merge_sizes(parts: list[dict]) -> dict[int, int]:
    out: dict[int, int] = {}
    for d in parts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def size_stats(sizes: dict[int, int]) -> dict:
    """Clusters of >= 2 documents: count, duplicates, largest, histogram in powers of two."""
    hist: dict[str, int] = {}
    for size, count in sorted(sizes.items()):
        hi = 1 << (size - 1).bit_length()
        label = str(size) if size <= 2 else f"{hi // 2 + 1}-{hi}"
        hist[label] = hist.get(label, 0) + count
    return {"clusters": sum(sizes.values()), "duplicates": sum((s - 1) * c for s, c in sizes.items()),
            "largest": max(sizes, default=0), "size_histogram": hist}


def cluster_members(run_dir: str, stage: str, cluster_id: str) -> pa.Table:
    """Every member of one near-duplicate cluster (``datamill show RUN STAGE --cluster ID``):
    id, minhash_cluster, is_duplicate, text, keeper first."""
    import fsspec
    import pyarrow.parquet as pq

    fs, root = fsspec.core.url_to_fs(sidecar(f"{str(run_dir).rstrip('/')}/{stage}", "clusters"))
    files = sorted(fs.glob(f"{root}/part-*.parquet")) if fs.exists(root) else []
    tables = [pq.read_table(f, filesystem=fs, filters=[("minhash_cluster", "=", cluster_id)]) for f in files]
    if not tables:
        return pa.table({"id": pa.array([], pa.string()), "minhash_cluster": pa.array([], pa.string()),
                         "is_duplicate": pa.array([], pa.bool_()), "text": pa.array([], pa.string())})
    return pa.concat_tables(tables).sort_by([("is_duplicate", "ascending"), ("id", "ascending")])


def write_table(path: str, table: pa.Table) -> None:
    import fsspec

    from datamill.fileio import atomic_write_table

    fs, root = fsspec.core.url_to_fs(path)
    fs.makedirs(root.rsplit("/", 1)[0], exist_ok=True)
    atomic_write_table(path, table)
