"""``mix``: combine sources to target token shares, up-sampling by repetition and down-sampling.

Each group (an input, or a value of the ``source`` column) gets ``weight × total`` tokens: every
document is repeated ``floor(r)`` times (``r`` = target / available; D4, Tirumala et al. 2023:
repeating selected data helps) and the remainder is filled with one more copy of documents
taken in the order of a seeded hash of their id. The fill works on a 65,536-bin histogram of
tokens over that hash, summed across partitions (a tree reduce of fixed-size arrays, never the
documents): bins are taken in hash order while they fit, so one long document does not
overshoot the target; the error is at most half a bin (one document on small corpora). Which documents are taken does not
depend on partitioning. Copies get ``mix_copy`` (0 = first) and are spread by a seeded order.
Rows left out are removed with reason ``mix_downsampled`` (counted and sampled like a filter's);
``source`` is kept as read, the group goes to ``mix_group``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from datamill.partitions import Partitions
from datamill.stage import GlobalStage, set_column, with_reasons
from datamill.typed_config import FilePath

NBINS = 1 << 16


def _hashes(seed: int, groups: list[str], ids: list[str]) -> np.ndarray:
    """A seeded 64-bit hash of (group, id) per row: which documents a fractional share takes."""
    import xxhash

    return np.array([xxhash.xxh3_64_intdigest(f"{g}\x00{i}".encode(), seed=seed) for g, i in zip(groups, ids)],
                    np.uint64)


@dataclass(frozen=True)
class Mix(GlobalStage):
    """Token-share mixing of several inputs (or sources) with repetition; seeded, recorded."""

    use: ClassVar[str] = "mix"
    # 2: copies in rounds after the originals (partition-invariant order); 3: `source` kept, the
    # group in `mix_group`, rows left out removed as `mix_downsampled`
    version: ClassVar[str] = "3"
    reads: ClassVar[tuple[str, ...]] = ("id", "text", "source")
    writes: ClassVar[tuple[str, ...]] = ("mix_group", "mix_copy")

    weights: dict[str, float] = field(default_factory=dict)  # target share of tokens per group (normalized)
    by: Literal["input", "source"] = "input"  # input: a group per upstream stage | source: the source column
    total: int = 0  # size of the mix in `count` units; 0 = what the inputs hold together
    count: Literal["tokenizer", "bytes", "words"] = "bytes"  # unit: tokenizer (exact: tokens + EOS, as token_shards stores them) | bytes | words
    tokenizer: FilePath = ""  # tokenizer.json, for count == "tokenizer"
    max_repeat: float = 4.0  # Muennighoff et al. 2023: up to ~4 epochs of repeated data ≈ unique data
    seed: int = 0  # which documents are taken and the order of copies

    def __post_init__(self):
        if not self.weights:
            raise ValueError("mix: weights is required: target token share per input or source")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError(f"mix: weights must be non-negative with a positive sum, got {self.weights}")
        if self.count == "tokenizer" and not self.tokenizer:
            raise ValueError("mix: count 'tokenizer' needs tokenizer: path/to/tokenizer.json")
        if self.total < 0 or self.max_repeat < 1:
            raise ValueError("mix: total must be >= 0 and max_repeat >= 1")

    def check_inputs(self, inputs: list[str]) -> None:
        """Called by the config loader: with ``by: input`` the weights name exactly the inputs."""
        if self.by != "input" or set(inputs) == set(self.weights):
            return
        unknown, missing = sorted(set(self.weights) - set(inputs)), sorted(set(inputs) - set(self.weights))
        raise ValueError(f"weights must name exactly the inputs {inputs}: unknown {unknown}, missing {missing}")

    def plan(self, ctx, parts: Partitions) -> Partitions:
        inputs = parts.by_input()
        names = [p.name for p in inputs]
        self.check_inputs(names)
        tok = ctx.constant(_load_tokenizer(self.tokenizer)) if self.count == "tokenizer" else None
        hists = [p.map(self._histogram, name, tok).reduce(_sum_hists) for p, name in zip(inputs, names)]
        merged = hists[0].map(_merge, *hists[1:])
        solved = merged.map(self._solve)
        ctx.add_stats("mix", solved.map(_summary))
        # copy r of every selected row goes to round r: originals first, then first repeats, ...
        # in input order within a round, so the output order does not depend on partitioning
        # and repeated documents sit far apart
        plan = solved.result()
        rounds = max([v["full_copies"] + int(plan["take"][g].any()) for g, v in plan["groups"].items()] + [1])
        outs = [p.map(self._apply, name, solved, r) for r in range(rounds) for p, name in zip(inputs, names)]
        return Partitions.concat(outs, name=ctx.stage_name)

    # -- per partition ------------------------------------------------------------------------
    def _groups(self, table: pa.Table, name: str) -> list[str]:
        if self.by == "input":
            return [name] * table.num_rows
        if "source" not in table.column_names:
            raise ValueError(f"mix: by 'source' but input {name!r} has no source column")
        return [s if s is not None else "" for s in table.column("source").to_pylist()]

    def _sizes(self, table: pa.Table, tok_json: str | None) -> np.ndarray:
        texts = [t or "" for t in table.column("text").to_pylist()]
        if self.count == "tokenizer":
            from datamill.stages.tokens import tokenizer as toklib

            return toklib.encode(tok_json, texts)[1] + 1  # + EOS, as stored in the shards
        if self.count == "words":
            return np.array([len(t.split()) for t in texts], np.int64)
        return np.array([len(t.encode()) for t in texts], np.int64)

    def _keys(self, table: pa.Table, groups: list[str]) -> np.ndarray:
        ids = table.column("id").cast(pa.string()).to_pylist()
        return _hashes(self.seed, groups, ids)

    def _histogram(self, table: pa.Table, name: str, tok_json: str | None) -> dict:
        groups = self._groups(table, name)
        sizes, bins = self._sizes(table, tok_json), self._keys(table, groups) >> np.uint64(48)
        out = {}
        for g in set(groups):
            m = np.array([x == g for x in groups])
            h = np.zeros((2, NBINS), np.int64)  # (tokens, documents) per hash bin
            np.add.at(h[0], bins[m].astype(np.int64), sizes[m])
            np.add.at(h[1], bins[m].astype(np.int64), 1)
            out[g] = h
        return out

    def _apply(self, table: pa.Table, name: str, solved: dict, copy_round: int) -> pa.Table:
        groups = self._groups(table, name)
        keys = self._keys(table, groups)
        plan = solved["groups"]
        missing = sorted(set(groups) - set(plan))
        if missing:
            raise ValueError(f"mix: no weight for source(s) {missing}")
        full = np.array([plan[g]["full_copies"] for g in groups], np.int64)
        extra = np.array([solved["take"][g][b] for g, b in zip(groups, (keys >> np.uint64(48)).tolist())], bool)
        copies = full + extra
        # round 0 holds every row, so the ones not taken are removed with a reason the engine counts
        rows = np.arange(table.num_rows) if copy_round == 0 else np.flatnonzero(copies > copy_round)
        out = table.take(pa.array(rows, pa.int64()))
        out = set_column(out, "mix_group", pa.array([groups[r] for r in rows.tolist()], pa.string()))
        out = set_column(out, "mix_copy", pa.array(np.full(len(rows), copy_round), pa.int32()))
        if copy_round == 0:
            out = with_reasons(out, pa.array(np.where(copies > 0, None, "mix_downsampled").tolist(), pa.string()))
        return out

    # -- once -------------------------------------------------------------------------------------
    def _solve(self, hists: dict[str, np.ndarray]) -> dict:
        unknown = sorted(set(hists) - set(self.weights))
        if unknown:
            raise ValueError(f"mix: no weight for source(s) {unknown}; weights name {sorted(self.weights)}")
        available = {g: int(hists[g][0].sum()) if g in hists else 0 for g in self.weights}
        total = self.total or sum(available.values())
        wsum = sum(self.weights.values())
        groups, take = {}, {}
        for g, w in sorted(self.weights.items()):
            target = w / wsum * total
            n = available[g]
            if n == 0:
                if target > 0:
                    raise ValueError(f"mix: source {g!r} has weight {w} but no data")
                groups[g] = {"weight": w / wsum, "available": 0, "target": 0.0, "selected": 0,
                             "full_copies": 0, "repeat": 0.0}
                take[g] = np.zeros(NBINS, bool)
                continue
            r = target / n
            if r > self.max_repeat:
                raise ValueError(f"mix: {g!r} would be repeated {r:.2f}x (> max_repeat {self.max_repeat}): "
                                 f"{n} {self.count} available, {target:.0f} wanted; lower total or its weight")
            full = int(r)
            take[g] = _fill(hists[g][0], target - full * n)
            selected = full * n + int(hists[g][0][take[g]].sum())
            docs = int(hists[g][1].sum())
            groups[g] = {"weight": w / wsum, "available": n, "target": target, "selected": selected,
                         "full_copies": full, "repeat": selected / n,
                         "docs_in": docs, "docs_out": full * docs + int(hists[g][1][take[g]].sum())}
        got = sum(v["selected"] for v in groups.values())
        for v in groups.values():
            v["share"] = v["selected"] / got if got else 0.0
        return {"unit": self.count, "total": total, "seed": self.seed, "groups": groups, "take": take}


def _fill(tokens: np.ndarray, want: float) -> np.ndarray:
    """Bins whose tokens sum close to ``want``: in hash order, every bin that still fits, then
    the smallest bin left out if it brings the sum closer (error <= half of that bin)."""
    take = np.zeros(len(tokens), bool)
    acc = 0
    for b in np.flatnonzero(tokens).tolist():
        if acc + tokens[b] <= want:
            take[b] = True
            acc += int(tokens[b])
    left = np.flatnonzero((tokens > 0) & ~take)
    if len(left):
        b = left[np.argmin(tokens[left])]
        if acc + tokens[b] / 2 < want:
            take[b] = True
    return take


def _summary(solved: dict) -> dict:
    return {k: v for k, v in solved.items() if k != "take"}


def _load_tokenizer(path: str) -> str:
    from datamill.stages.tokens import tokenizer as toklib

    return toklib.load_json(path)


def _sum_hists(parts: list[dict]) -> dict:
    out: dict[str, np.ndarray] = {}
    for p in parts:
        for g, h in p.items():
            out[g] = out[g] + h if g in out else h.copy()
    return out


def _merge(*hists: dict) -> dict:
    return _sum_hists(list(hists))
