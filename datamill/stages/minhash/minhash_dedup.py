"""MinHash LSH near-duplicate removal (Broder 1997; banding: Leskovec et al., Mining of Massive
Datasets ch. 3; one document kept per connected component: Lee et al. 2022), on Dask shuffles.

Plan: signatures -> (band, band key) records shuffled by key -> star edges per bucket ->
[optional exact-Jaccard check of each edge, two shuffles] -> connected components (one task
below ``local_components_max_edges``, else large/small-star rounds) -> members routed back to
their partition for their id and priority -> shuffled by component to pick the keeper ->
routed back again and applied. See ``minhash_lsh`` for the array functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.fileio import sidecar
from datamill.stage import GlobalStage, Mode, require_column, set_column, with_reasons
from datamill.stages.minhash import clusters, lsh, signatures as mh, verify
from datamill.stages.minhash.clusters import cluster_members, np_column  # noqa: F401 (public)

REASON = "minhash_duplicate"
PRESETS = {  # name -> (num_perm, bands, rows); word 5-grams in all three
    "fineweb": (112, 14, 8),  # FineWeb, Penedo et al. 2024 (datatrove MinhashConfig)
    "lee": (9000, 450, 20),  # Lee et al. 2022 NearDup, read as 450 bands x 20 rows (docs/METHODS.md, "LSH banding")
    "refinedweb": (9000, 450, 20),  # RefinedWeb, Penedo et al. 2023: "20 buckets of 450 hashes", same reading
}
MAX_ROUNDS = 64  # large/small-star needs O(log^2 n) rounds; more means a bug, not a big graph


@dataclass(frozen=True)
class MinHashDedup(GlobalStage):
    """Near-duplicate removal by MinHash LSH over word or character n-grams; keeps one document
    per connected component of the candidate graph (Lee et al. 2022)."""

    use: ClassVar[str] = "minhash_dedup"
    version: ClassVar[str] = "3"
    reads: ClassVar[tuple[str, ...]] = ("id", "text")
    writes: ClassVar[tuple[str, ...]] = ("minhash_cluster", "is_duplicate")

    preset: Literal["none", "fineweb", "lee", "refinedweb"] = "none"  # a named setting of num_perm, bands and rows
    threshold: float = 0.8  # Jaccard; Lee et al. 2022 verify at 0.8; picks bands x rows if unset
    num_perm: int = 128  # datasketch MinHash default
    bands: int = 0  # 0 with rows 0: datasketch's optimal (b, r) for `threshold` (MinHashLSH)
    rows: int = 0  # hashes per band
    ngram: int = 5  # word 5-grams: Lee et al. 2022, RefinedWeb, FineWeb
    shingle: Literal["word", "char"] = "word"  # n-grams of words, or of characters
    seed: int = 1  # datasketch MinHash default
    hash: Literal["fast", "datasketch"] = "fast"  # (bit-exact datasketch.MinHash values, ~6x slower)
    lowercase: bool = True  # datatrove TextNormConfig defaults, as FineWeb
    punctuation: Literal["space", "drop", "keep"] = "space"  # Unicode P*, S*, Cc -> a space (datatrove), deleted, or kept
    digits: bool = True  # each run of digits -> "0"
    whitespace: bool = True  # collapse runs (char shingles; word shingles split on any run)
    diacritics: bool = True  # strip accents: NFD, then drop combining marks (datatrove)
    device: str = "cpu"  # cpu | cuda | auto (cuda when torch sees a GPU): where permutations run
    keep: str = "first"  # first (smallest id) | longest | a numeric column (highest value); ties: id
    verify: bool = False  # drop candidate edges with exact Jaccard < threshold (Lee et al.); off as FineWeb
    local_components_max_edges: int = 5_000_000  # up to ~80 MB of edges: components in one task
    mode: Mode = "drop"  # drop | annotate

    def needed_columns(self) -> tuple[str, ...]:
        return self.reads + (() if self.keep in ("first", "longest") else (self.keep,))

    def __post_init__(self):
        def bad(key, allowed):
            return ValueError(f"minhash_dedup: {key}={getattr(self, key)!r}; expected {allowed}")

        if self.preset != "none" and (self.bands or self.rows or self.num_perm not in (128, PRESETS[self.preset][0])):
            raise ValueError(f"minhash_dedup: preset={self.preset!r} sets num_perm, bands and rows; drop them")
        if self.device not in ("cpu", "auto") and not self.device.startswith("cuda"):
            raise bad("device", "cpu, cuda[:N] or auto")
        if not 0.0 < self.threshold <= 1.0:
            raise bad("threshold", "a Jaccard similarity in (0, 1]")
        if self.num_perm < 2 or self.ngram < 1:
            raise ValueError("minhash_dedup: num_perm must be >= 2 and ngram >= 1")
        if (self.bands == 0) != (self.rows == 0) or self.bands < 0 or self.rows < 0:
            raise ValueError("minhash_dedup: set both bands and rows (> 0), or neither")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"minhash_dedup: bands*rows={self.bands * self.rows} > num_perm={self.num_perm}")
        if not self.keep:
            raise bad("keep", "first, longest or a column name")

    def lsh_params(self) -> tuple[int, int, int]:
        """(num_perm, bands, rows) after the preset or datasketch's parameter search."""
        if self.preset != "none":
            return PRESETS[self.preset]
        if self.bands:
            return self.num_perm, self.bands, self.rows
        return (self.num_perm, *lsh.optimal_bands_rows(self.threshold, self.num_perm))

    # -- plan ---------------------------------------------------------------------------------

    def plan(self, ctx, parts):
        num_perm, bands, rows = self.lsh_params()
        n_in = max(len(parts), 1)
        ctx.add_stats("lsh", {"num_perm": num_perm, "bands": bands, "rows": rows,
                              "threshold": (1 / bands) ** (1 / rows), "s_curve": lsh.s_curve(bands, rows)})
        records = parts.map_indexed(self._band_records)
        ctx.add_stats("documents", records.map(_count, "docs").reduce(sum))
        ctx.add_stats("documents_without_shingles", records.map(_count, "empty").reduce(sum))
        # A shuffle is n_in x n_out tasks: band buckets get one output per ~8 input partitions
        # (~50 MB of records each at 20k-row partitions), clusters one per ~1M members.
        edges = records.shuffle(_split_records, math.ceil(n_in / 8), lsh.bucket_edges)
        ctx.add_stats("candidate_edges", edges.map(lsh.edge_count).reduce(sum))
        if self.verify:
            edges = self._verify(ctx, parts, edges, n_in)
        labels, n_edges = self._components(ctx, parts, edges, n_in)
        members = parts.map(self._members, labels)
        n_keep = max(1, min(n_in, math.ceil(2 * n_edges / 1_000_000)))
        keepers = members.shuffle(clusters.split_by_label, n_keep, clusters.choose_keepers)
        ctx.add_stats("clusters", keepers.map(clusters.cluster_sizes).reduce(clusters.merge_sizes).map(clusters.size_stats))
        back = keepers.shuffle(clusters.split_by_node_partition, n_in, clusters.concat_tables)
        return parts.map_indexed(self._apply, back, ctx.stage_dir)

    def _components(self, ctx, parts, edges, n_in):
        n_edges = edges.map(lsh.edge_count).reduce(sum).result()
        if n_edges <= self.local_components_max_edges:
            ctx.add_stats("components", {"method": "local", "edges": n_edges})
            comp = edges.reduce(_union_edges).map(lsh.local_components)
            return parts.per_index(_labels_of_partition, comp), n_edges
        n_cc = max(1, min(n_in, math.ceil(n_edges / 2_000_000)))
        for rounds in range(1, MAX_ROUNDS + 1):
            large = edges.shuffle(lsh.split_large_star, n_cc, lsh.large_star)
            small = large.pick(0).shuffle(lsh.split_small_star, n_cc, lsh.small_star)
            edges = small.pick(0)
            changed = large.pick(1).reduce(sum).result() + small.pick(1).reduce(sum).result()
            if changed == 0:
                break
        else:
            raise RuntimeError(f"minhash_dedup: components did not converge in {MAX_ROUNDS} rounds")
        ctx.add_stats("components", {"method": "large-small-star", "edges": n_edges, "rounds": rounds})
        return edges.map(lsh.star_labels).shuffle(lsh.split_by_partition, n_in, _union_labels), n_edges

    def _verify(self, ctx, parts, edges, n_in):
        by_u = edges.shuffle(lsh.split_by_partition, n_in, _union_edges)
        opts = {"ngram": self.ngram, "shingle": self.shingle, **self._norm()}
        with_u = parts.map(verify.attach_shingles, by_u, opts)
        by_v = with_u.shuffle(clusters.split_by_v_partition, n_in, clusters.concat_tables)
        checked = parts.map(verify.check_edges, by_v, opts, self.threshold)
        counts = checked.pick(1).reduce(verify.sum_pairs)
        ctx.add_stats("verification", counts.map(verify.fp_rate))
        return checked.pick(0)

    # -- tasks (run on workers; pure functions of the stage config and their inputs) ----------

    def _signature_rows(self, texts) -> np.ndarray:
        num_perm, _, _ = self.lsh_params()
        return mh.signatures(texts, num_perm=num_perm, ngram=self.ngram, shingle=self.shingle,
                             seed=self.seed, hash=self.hash, device=self.device, **self._norm())

    def _norm(self) -> dict:
        return {"lowercase": self.lowercase, "punctuation": self.punctuation, "digits": self.digits,
                "whitespace": self.whitespace, "diacritics": self.diacritics}

    def _band_records(self, index: int, table: pa.Table) -> dict:
        num_perm, bands, rows = self.lsh_params()
        ids, texts = _column(table, "id"), _column(table, "text")
        keys, has = [], []
        chunk = max(256, min(4096, (64 << 20) // (4 * num_perm)))  # signature blocks <= 64 MiB
        for start in range(0, table.num_rows, chunk):
            sig = self._signature_rows(texts.slice(start, chunk))
            keys.append(lsh.band_keys(sig, bands, rows))
            has.append(~(sig == mh.MAX32).all(axis=1))
        keys = np.concatenate(keys) if keys else np.zeros((0, bands), np.uint64)
        has = np.concatenate(has) if has else np.zeros(0, bool)
        nodes = (np.uint64(index) << np.uint64(32)) + np.arange(table.num_rows, dtype=np.uint64)
        idh = _id_hash(ids)
        sel = np.flatnonzero(has)
        return {"records": (keys[sel].ravel(), np.repeat(idh[sel], bands), np.repeat(nodes[sel], bands)),
                "docs": table.num_rows, "empty": int(len(has) - len(sel))}

    def _priority(self, table: pa.Table, rows: np.ndarray) -> np.ndarray:
        """Lower is kept first: 0 (keep: first), -length, or -column value (nulls last)."""
        if self.keep == "first":
            return np.zeros(len(rows))
        if self.keep == "longest":
            col = pc.utf8_length(_column(table, "text").take(rows))
        elif self.keep in table.column_names:
            col = table.column(self.keep).take(rows)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                    or pa.types.is_boolean(col.type)):
                raise ValueError(f"minhash_dedup: keep={self.keep!r} must be a numeric column, got {col.type}")
        else:
            raise ValueError(f"minhash_dedup: keep={self.keep!r} is neither first, longest nor a column "
                             f"of the input (columns: {table.column_names})")
        values = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        return np.where(np.isnan(values), np.inf, -values)

    def _members(self, table: pa.Table, labels: tuple) -> pa.Table:
        nodes, label = labels
        rows = (nodes & np.uint64(0xFFFFFFFF)).astype(np.int64)
        return pa.table({"label": label, "node": nodes, "id": _column(table, "id").take(rows),
                         "priority": self._priority(table, rows)})

    def _apply(self, index: int, table: pa.Table, assigned: pa.Table, stage_dir: str) -> pa.Table:
        """Cluster columns and removal reasons; members of clusters of >= 2 also go to
        ``STAGE_DIR/.datamill/clusters/`` (id, cluster, is_duplicate, text) for ``cluster_members``."""
        ids = _column(table, "id").cast(pa.string())
        rows = (np_column(assigned.column("node")) & np.uint64(0xFFFFFFFF)).astype(np.int64)
        order = np.argsort(rows)
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows] = True
        keeper = assigned.column("keeper").combine_chunks().take(pa.array(order))
        dup = np.zeros(table.num_rows, dtype=bool)
        dup[rows] = np_column(assigned.column("is_duplicate"))
        out = set_column(table, "minhash_cluster", pc.replace_with_mask(ids, pa.array(mask), keeper))
        out = set_column(out, "is_duplicate", pa.array(dup))
        if stage_dir and len(rows):
            members = out.take(pa.array(np.sort(rows))).select(["id", "minhash_cluster", "is_duplicate", "text"])
            clusters.write_table(sidecar(stage_dir, "clusters", f"part-{index:05d}.parquet"), members)
        return with_reasons(out, pa.array(np.where(dup, REASON, None), type=pa.string()))

def _column(table: pa.Table, name: str) -> pa.Array:
    return require_column(table, name, "minhash_dedup").combine_chunks()


def _id_hash(ids: pa.Array) -> np.ndarray:
    """64-bit content hash of each id (orders bucket members independently of partitioning)."""
    import xxhash

    return np.array([xxhash.xxh3_64_intdigest(s.encode()) for s in ids.cast(pa.string()).to_pylist()],
                    dtype=np.uint64)


def _count(out: dict, key: str) -> int:
    return out[key]




def _split_records(out: dict, n_out: int) -> list[tuple]:
    return lsh.split_bands(out["records"], n_out)


def _union_edges(pieces: list[tuple]) -> tuple:
    return lsh.unique_edges(*lsh.concat(pieces))


def _union_labels(pieces: list[tuple]) -> tuple:
    nodes, labels = lsh.concat(pieces)
    nodes, first = np.unique(nodes, return_index=True)
    return nodes, labels[first]


def _labels_of_partition(index: int, comp: tuple) -> tuple:
    nodes, labels = comp
    sel = (nodes >> np.uint64(32)) == np.uint64(index)
    return nodes[sel], labels[sel]


