"""``random_sample``: keep a seeded random fraction of the documents, exactly.

The control arm of a selection experiment (D4's "random selection at the same fraction",
Tirumala et al. 2023): each row gets a uniform key from a seeded hash of its id, and the
``round(fraction × n)`` rows with the smallest keys are kept; the cut is placed with the exact
distributed order statistic that SemDeDup and D4 use. Which rows are kept depends only on the
ids and the seed, never on partitioning. Keys have 24 bits, so a tie at the cut (kept) is rare.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from datamill.order_statistic import kth_smallest
from datamill.stage import GlobalStage, Mode, set_column, with_reasons


def sample_keys(table: pa.Table, seed: int) -> np.ndarray:
    """A uniform float32 key in [0, 1) per row from a seeded 64-bit hash of its id."""
    import xxhash

    ids = table.column("id").cast(pa.string()).to_pylist()
    top = np.array([xxhash.xxh3_64_intdigest(str(i).encode(), seed=seed) >> 40 for i in ids], np.uint32)
    return (top.astype(np.float64) / 2.0**24).astype(np.float32)


@dataclass(frozen=True)
class RandomSample(GlobalStage):
    """Keep exactly ``round(fraction × rows)`` documents, chosen by a seeded hash of their id."""

    use: ClassVar[str] = "random_sample"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("id",)
    writes: ClassVar[tuple[str, ...]] = ("sample_key",)

    fraction: float = 0.5  # kept share of rows; D4 compares selections at the same kept fraction
    seed: int = 0  # which rows are kept
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"random_sample: fraction={self.fraction} must be in [0, 1]")

    def plan(self, ctx, parts):
        keys = parts.map(sample_keys, self.seed)
        cut = kth_smallest(keys, functools.partial(_rank, self.fraction))
        ctx.add_stats("kept_fraction", keys.map(_count, cut).reduce(_sum).map(_fraction))
        return parts.map(_select, keys, cut)


def _rank(fraction: float, n: int) -> int:
    return round(fraction * n)


def _count(keys: np.ndarray, cut: float | None) -> np.ndarray:
    kept = 0 if cut is None else int((keys <= cut).sum())
    return np.array([kept, len(keys)], np.int64)


def _sum(parts: list) -> np.ndarray:
    return np.sum(parts, axis=0)


def _fraction(counts: np.ndarray) -> float:
    return float(counts[0] / counts[1]) if counts[1] else 1.0


def _select(table: pa.Table, keys: np.ndarray, cut: float | None) -> pa.Table:
    keep = np.zeros(len(keys), bool) if cut is None else keys <= cut
    table = set_column(table, "sample_key", pa.array(keys, pa.float32()))
    return with_reasons(table, pa.array(np.where(keep, None, "not_sampled"), pa.string()))
