"""Exact k-th smallest float32 over partitions in two histogram passes (no sort, no gather).

Each float32 maps to a uint32 with the same order; pass 1 counts the high 16 bits, which fixes
the bucket holding the k-th value, pass 2 counts the low 16 bits inside that bucket, which fixes
the value itself. Used to calibrate SemDeDup's ε to a target kept fraction and to place D4's
prototype cut, exactly, with 2 x 65,536 counters moving through the reduce.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

_BINS = 1 << 16


def sortable(x: np.ndarray) -> np.ndarray:
    """float32 -> uint32 with the same order (NaNs must be removed first)."""
    x = np.ascontiguousarray(x, dtype=np.float32) + np.float32(0)  # -0.0 -> 0.0
    bits = x.view(np.uint32)
    return np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def unsortable(u: int) -> float:
    u = np.uint32(u)
    bits = u & np.uint32(0x7FFFFFFF) if u >> 31 else ~u
    return float(np.array([bits], np.uint32).view(np.float32)[0])


def _high_counts(values: np.ndarray) -> np.ndarray:
    return np.bincount(sortable(values) >> 16, minlength=_BINS).astype(np.int64)


def _low_counts(values: np.ndarray, target: tuple[int, int, int]) -> np.ndarray:
    bucket = target[0]
    u = sortable(values)
    return np.bincount(u[(u >> 16) == bucket] & 0xFFFF, minlength=_BINS).astype(np.int64)


def _sum(counts: list[np.ndarray]) -> np.ndarray:
    return np.sum(counts, axis=0) if counts else np.zeros(_BINS, np.int64)


def _locate(high: np.ndarray, rank: Callable[[int], int]) -> tuple[int, int, int]:
    """(bucket, rank left inside it, k) for the k = rank(n)-th smallest; k = 0 -> (-1, 0, 0)."""
    n = int(high.sum())
    k = min(max(int(rank(n)), 0), n)
    if k == 0:
        return -1, 0, 0
    cum = np.cumsum(high)
    bucket = int(np.searchsorted(cum, k))
    below = int(cum[bucket - 1]) if bucket else 0
    return bucket, k - below, k


def _value(low: np.ndarray, target: tuple[int, int, int]) -> float | None:
    bucket, left, _ = target
    if bucket < 0:
        return None
    offset = int(np.searchsorted(np.cumsum(low), left))
    return unsortable((bucket << 16) | offset)


def kth_smallest(values, rank: Callable[[int], int]):
    """``values``: Partitions of 1-D float32 arrays (no NaN); ``rank(n) -> k`` (1-based).
    Returns a Value of the k-th smallest over all partitions, or None when k == 0."""
    target = values.map(_high_counts).reduce(_sum).map(_locate, rank)
    return values.map(_low_counts, target).reduce(_sum).map(_value, target)
