"""Row routing and grouping shared by the deduplication stages' shuffles."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def split_rows(table: pa.Table, route: np.ndarray, n: int) -> list[pa.Table]:
    """For a shuffle: piece ``j`` holds the rows whose ``route`` is ``j``, in their original order."""
    order = np.argsort(route, kind="stable")
    bounds = np.searchsorted(route[order], np.arange(n + 1))
    table = table.take(pa.array(order))
    return [table.slice(bounds[j], bounds[j + 1] - bounds[j]) for j in range(n)]


def group_starts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``keys`` sorted so that equal keys are adjacent, per row: whether it is the first row of
    its group, and the index of that first row."""
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    return first, np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
