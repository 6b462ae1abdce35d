"""Training batches from token shards (docs/ARCHITECTURE.md §7).

Each source's documents (of one split) form a virtual token stream: the documents in shard
order, each ``prefix + text + eos``, or ``text + eos`` when metadata is stripped (the MeCo
cooldown). A window is ``seq_len + 1`` consecutive stream tokens starting at a multiple of
``seq_len`` (plus a per-epoch random offset); the stream wraps, so a source smaller than a
window still yields windows. Random order visits every window of an epoch once, in a seeded
permutation. Sources are interleaved by stride scheduling: each slot adds every source's
weight to its credit and goes to the source with the most credit, so achieved token shares
track the weights within one window at any step. All of it is a pure function of
(seed, step, counters), so ``state_dict`` restores the exact position, and every rank of a
data-parallel job computes the same global schedule and reads only its own slice.

Held-out ("val") documents: those whose id hash, mixed with a fixed salt, falls below
``val_fraction``; the same documents for any seed, disjoint from "train".

A ``Schedulers`` object (``datamill.schedulers``) may steer the mixture (``weights``) and the
window starts (``doc_probabilities``); the trainer, not the loader, checkpoints its state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from datamill.schedulers import Schedulers
from datamill.shards import ShardError, ShardSet

_VAL_SALT = np.uint64(0x5EED_0F_DA7A_5A17)
STATE_VERSION = 1


@dataclass
class Batch:
    input_ids: np.ndarray  # (B, T) int64
    targets: np.ndarray  # (B, T) int64, the next token of each position
    loss_mask: np.ndarray  # (B, T) float32: 0 where the target is a MeCo metadata-prefix token, else 1
    doc_ids: np.ndarray  # (B, T) int32 segment id per position, non-decreasing within a row
    sources: list[str]  # (B,) source label of each window


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a well-mixed uint64 per input (vectorized, wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _ranges(sizes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Positions ``starts[i] + 0..sizes[i]-1`` for every i, flattened."""
    firsts = np.cumsum(sizes) - sizes
    return np.repeat(starts - firsts, sizes) + np.arange(int(sizes.sum()))


def val_mask(id_hash: np.ndarray, val_fraction: float) -> np.ndarray:
    u = _mix64(id_hash ^ _VAL_SALT).astype(np.float64) / 2.0**64
    return u < val_fraction


class _Stream:
    """One source's documents as a token stream, extended by ``span`` tokens past its end
    (the start again) so that a window starting anywhere in [0, n) is contiguous in it."""

    def __init__(self, docs: dict[str, np.ndarray], strip: bool, span: int):
        pre = docs["prefix_len"] if not strip else np.zeros_like(docs["prefix_len"])
        cut = docs["prefix_len"] if strip else np.zeros_like(docs["prefix_len"])
        vlen = docs["length"] - cut
        self.n = int(vlen.sum())
        n_docs = len(vlen)
        starts = np.cumsum(vlen) - vlen
        extra = (span // self.n) * n_docs + int(np.searchsorted(starts, span % self.n, "right"))
        idx = np.arange(n_docs + extra) % n_docs  # documents of the extended stream
        self.doc = idx
        self.vlen, self.plen = vlen[idx], pre[idx]
        self.vstart = np.cumsum(self.vlen) - self.vlen
        self.shard, self.pstart = docs["shard"][idx], docs["offset"][idx] + cut[idx]
        # pieces: maximal runs of documents that are contiguous in one shard file
        brk = np.ones(len(idx), bool)
        brk[1:] = (self.shard[1:] != self.shard[:-1]) | (self.pstart[1:] != self.pstart[:-1] + self.vlen[:-1])
        first = np.flatnonzero(brk)
        self.p_vstart, self.p_shard, self.p_pstart = self.vstart[first], self.shard[first], self.pstart[first]
        self.p_vend = np.append(self.p_vstart[1:], self.vstart[-1] + self.vlen[-1])

    def read(self, starts: np.ndarray, length: int, mmaps: list[np.ndarray], out: np.ndarray,
             rows: np.ndarray) -> None:
        """Copy the window ``[a, a + length)`` for each ``a`` in ``starts`` into ``out[rows]``."""
        j0 = np.searchsorted(self.p_vstart, starts, "right") - 1
        j1 = np.searchsorted(self.p_vstart, starts + length, "left")
        for row, a, lo, hi in zip(rows.tolist(), starts.tolist(), j0.tolist(), j1.tolist()):
            pv, pe = self.p_vstart[lo:hi].tolist(), self.p_vend[lo:hi].tolist()
            ps, sh = self.p_pstart[lo:hi].tolist(), self.p_shard[lo:hi].tolist()
            for v_start, v_end, p_start, shard in zip(pv, pe, ps, sh):
                v0, v1 = max(a, v_start), min(a + length, v_end)
                p0 = p_start + v0 - v_start
                out[row, v0 - a:v1 - a] = mmaps[shard][p0:p0 + v1 - v0]

    def layout(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(segment id, in-prefix flag), each (len(starts), length), for windows at ``starts``.
        Work is one ``np.repeat`` over the window plus one scatter over the prefix tokens."""
        rows = len(starts)
        lo = np.searchsorted(self.vstart, starts, "right") - 1
        hi = np.searchsorted(self.vstart, starts + length, "left")
        count = hi - lo
        row = np.repeat(np.arange(rows), count)
        local = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)  # segment in row
        doc = lo[row] + local
        rel = self.vstart[doc] - starts[row]  # document start relative to the window (first may be < 0)
        s0, s1 = np.clip(rel, 0, length), np.clip(rel + self.vlen[doc], 0, length)
        seg = np.repeat(local.astype(np.int32), s1 - s0).reshape(rows, length)
        p_len = np.clip(rel + self.plen[doc], 0, length) - s0
        has = p_len > 0
        prefix = np.zeros(rows * length, bool)
        prefix[_ranges(p_len[has], row[has] * length + s0[has])] = True
        return seg, prefix.reshape(rows, length)

    def doc_start(self, docs: np.ndarray) -> np.ndarray:
        """Stream position of (original) documents ``docs``: where a window starting there begins."""
        return self.vstart[docs]


class ShardLoader:
    """Windows of ``seq_len + 1`` tokens from one or more ``token_shards`` directories."""

    def __init__(self, shard_dirs: list[str], *, seq_len: int, batch_size: int, seed: int = 0,
                 weights: dict[str, float] | None = None, split: str = "train",
                 val_fraction: float = 0.01, order: str = "random", strip_metadata: bool = False,
                 rank: int = 0, world_size: int = 1, sampler: Schedulers | None = None, verify: str = "full"):
        if isinstance(shard_dirs, (str, bytes)) or not shard_dirs:
            raise ValueError(f"shard_dirs: expected a non-empty list of directories, got {shard_dirs!r}")
        if split not in ("train", "val"):
            raise ValueError(f"split: expected 'train' or 'val', got {split!r}")
        if order not in ("random", "sequential"):
            raise ValueError(f"order: expected 'random' or 'sequential', got {order!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        if seq_len < 1:
            raise ValueError(f"seq_len must be positive, got {seq_len}")
        self.seq_len, self.seed, self.split, self.order = seq_len, seed, split, order
        self.rank, self.world_size = rank, world_size
        self.sampler = sampler if sampler is not None else Schedulers()  # no sampler: hooks that change nothing
        self.set_batch_size(batch_size)
        sets = [ShardSet(d, verify=verify) for d in shard_dirs]
        tok = {s.manifest["tokenizer"]["sha256"] for s in sets}
        if len(tok) > 1:
            raise ShardError(f"shard dirs {list(map(str, shard_dirs))} use different tokenizers")
        self.vocab_size, self.eos_id, self.tokenizer_path = sets[0].vocab_size, sets[0].eos_id, sets[0].tokenizer_path
        self._mmaps = [sh.tokens.view(np.ndarray) for s in sets for sh in s.shards]  # cheaper slicing
        tables, base = [], 0
        for s in sets:
            t = s.index()
            tables.append(t.set_column(t.schema.get_field_index("shard"), "shard",
                                       pa.array(t.column("shard").to_numpy() + base, pa.int32())))
            base += len(s.shards)
        index = pa.concat_tables(tables, promote_options="default")
        is_val = val_mask(index.column("id_hash").to_numpy(), val_fraction)
        index = index.filter(pa.array(is_val if split == "val" else ~is_val))
        self._docs: dict[str, pa.Table] = {}
        src = np.asarray(index.column("source").to_pylist(), dtype=object)
        for name in sorted(set(src.tolist())):
            self._docs[name] = index.filter(pa.array(src == name))
        self.sources: list[str] = list(self._docs)
        if not self.sources:
            raise ShardError(f"no {split} documents in {list(map(str, shard_dirs))} "
                             f"(val_fraction={val_fraction})")
        self._tokens = np.array([int(t.column("length").to_numpy().sum()) for t in self._docs.values()], np.float64)
        self._fingerprint = [seq_len, split, val_fraction, order, self.sources, self._tokens.tolist()]
        self._strip, self._streams, self._perm_cache = strip_metadata, [], {}
        self._build_streams()
        self.step = 0
        self._credit = np.zeros(len(self.sources))
        self._cursor = [[0, 0] for _ in self.sources]  # (epoch, windows taken) per source
        self.set_weights(weights)

    # -- configuration -------------------------------------------------------------------------
    def _build_streams(self) -> None:
        span = self.seq_len + 1
        self._streams = []
        for t in self._docs.values():
            docs = {c: t.column(c).to_numpy().astype(np.int64) for c in ("shard", "offset", "length", "prefix_len")}
            self._streams.append(_Stream(docs, self._strip, span))
        self._perm_cache = {}

    def set_strip_metadata(self, on: bool) -> None:
        if bool(on) != self._strip:
            self._strip = bool(on)
            self._build_streams()

    def set_weights(self, weights: dict[str, float] | None) -> None:
        """Target share of windows per source (normalized); None = proportional to tokens;
        a source left out gets none."""
        if weights is None:
            self._weights = None
            return
        unknown = set(weights) - set(self.sources)
        if unknown:
            raise ValueError(f"weights: unknown source(s) {sorted(unknown)}; sources are {self.sources}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
        self._weights = {k: float(v) for k, v in weights.items()}

    def set_batch_size(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.batch_size = int(batch_size)

    def _weight_vector(self) -> np.ndarray:
        weights = self.sampler.weights(self.step) or self._weights
        if weights is None:
            w = self._tokens.copy()
        else:
            w = np.array([float(weights.get(s, 0.0)) for s in self.sources])
        return w / w.sum()

    # -- the schedule -----------------------------------------------------------------------
    def _allocate(self, slots: int) -> np.ndarray:
        """Stride scheduling over sources (plain floats: a handful of sources, many slots)."""
        w = self._weight_vector().tolist()
        credit = self._credit.tolist()
        order = range(len(w))
        out = np.empty(slots, np.int64)
        for k in range(slots):
            for i in order:
                credit[i] += w[i]
            s = max(order, key=credit.__getitem__)
            credit[s] -= 1.0
            out[k] = s
        self._credit = np.array(credit)
        return out

    def _epoch_windows(self, s: int, epoch: int) -> tuple[int, np.ndarray | None, int]:
        """(offset, permutation or None for identity, number of windows) of one source's epoch."""
        cached = self._perm_cache.get(s)
        if cached is None or cached[0] != epoch:
            n, T = self._streams[s].n, self.seq_len
            if self.order == "sequential":
                off, perm = 0, None
                count = max(1, (n - 1) // T)
            else:
                rng = np.random.default_rng([self.seed, s, epoch, int(self._strip)])
                off = int(rng.integers(T)) if n > 2 * T + 1 else 0
                count = max(1, (n - off - 1) // T)
                perm = rng.permutation(count)
            cached = self._perm_cache[s] = (epoch, (off, perm, count))  # each source's current epoch
        return cached[1]

    def _next_starts(self, s: int, k: int) -> np.ndarray:
        """The next ``k`` window starts of source ``s`` (advancing its cursor)."""
        out = []
        epoch, pos = self._cursor[s]
        while len(out) < k:
            off, perm, count = self._epoch_windows(s, epoch)
            take = min(k - len(out), count - pos)
            w = np.arange(pos, pos + take) if perm is None else perm[pos:pos + take]
            out.extend((off + w * self.seq_len).tolist())
            pos += take
            if pos >= count:
                epoch, pos = epoch + 1, 0
        self._cursor[s] = [epoch, pos]
        return np.asarray(out, np.int64)

    def _sampled_starts(self, s: int, k: int, probs: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, np.float64)
        n_docs = self._docs[self.sources[s]].num_rows
        if probs.shape != (n_docs,) or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError(f"sampler.doc_probabilities({self.sources[s]!r}) must return {n_docs} "
                             f"non-negative values with a positive sum")
        rng = np.random.default_rng([self.seed, self.step, s, 1])
        docs = rng.choice(n_docs, size=k, p=probs / probs.sum())
        return self._streams[s].doc_start(docs)

    # -- batches --------------------------------------------------------------------------------
    def next_batch(self) -> Batch:
        B, L = self.batch_size, self.seq_len + 1
        alloc = self._allocate(B * self.world_size)
        starts = np.zeros(len(alloc), np.int64)
        for s in sorted(set(alloc.tolist())):
            slots = np.flatnonzero(alloc == s)
            probs = self.sampler.doc_probabilities(self.sources[s], self._docs[self.sources[s]], self.step)
            starts[slots] = (self._next_starts(s, len(slots)) if probs is None
                             else self._sampled_starts(s, len(slots), probs))
        self.step += 1
        mine = slice(self.rank * B, (self.rank + 1) * B)
        alloc, starts = alloc[mine], starts[mine]
        window = np.empty((B, L), np.int64)
        seg = np.empty((B, L), np.int32)
        prefix = np.empty((B, L), bool)
        for s in sorted(set(alloc.tolist())):
            rows = np.flatnonzero(alloc == s)
            stream = self._streams[s]
            stream.read(starts[rows], L, self._mmaps, window, rows)
            seg[rows], prefix[rows] = stream.layout(starts[rows], L)
        return Batch(input_ids=np.ascontiguousarray(window[:, :-1]), targets=np.ascontiguousarray(window[:, 1:]),
                     loss_mask=(~prefix[:, 1:]).astype(np.float32), doc_ids=np.ascontiguousarray(seg[:, :-1]),
                     sources=[self.sources[s] for s in alloc.tolist()])

    # -- resume -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"version": STATE_VERSION, "step": self.step, "credit": self._credit.tolist(),
                "cursor": {s: list(c) for s, c in zip(self.sources, self._cursor)},
                "weights": self._weights, "strip_metadata": self._strip, "batch_size": self.batch_size,
                "seed": self.seed, "fingerprint": self._fingerprint}

    def load_state_dict(self, state: dict) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"loader state version {state.get('version')!r}, expected {STATE_VERSION}")
        if state["fingerprint"] != self._fingerprint:
            raise ValueError("loader state was saved for different shards or settings (seq_len, split, "
                             "val_fraction, order, sources or token counts differ)")
        self.seed = int(state["seed"])
        self.step = int(state["step"])
        self._credit = np.array(state["credit"], np.float64)
        self._cursor = [list(state["cursor"][s]) for s in self.sources]
        self.set_weights(state["weights"])
        self.set_batch_size(state["batch_size"])
        self.set_strip_metadata(state["strip_metadata"])
        self._perm_cache = {}
