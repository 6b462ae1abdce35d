"""The stage contract (DESIGN.md §3).

A stage is a frozen dataclass whose fields are its whole config. Three kinds:

- ``MapStage``: ``__call__(table) -> table``, pure and row-local.
- ``Filter``: ``annotate(table) -> table`` adds score columns, ``reasons(table) -> array``
  gives one removal reason per row (null = keep). The engine, not the filter, drops rows
  (unless ``mode == "annotate"``), counts reasons and samples removed rows.
- ``GlobalStage``: ``plan(ctx, *inputs) -> Partitions`` composes per-partition tasks,
  shuffles and reductions through the engine's ``Partitions`` handle; the default plan is
  ``map`` per partition -> tree ``reduce`` -> ``apply`` per partition.

Any stage output that carries a ``REMOVAL_REASON`` column is split by the engine the same
way a filter's output is: null keeps the row, a string removes it for that reason.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from datamill.partitions import Partitions, PlanContext

REMOVAL_REASON = "_removal_reason"

STAGES: dict[str, type[Stage]] = {}


def register(name: str):
    """Class decorator: make a stage usable as ``use: name`` in configs."""

    def wrap(cls):
        if name in STAGES and STAGES[name] is not cls:
            raise ValueError(f"stage name {name!r} registered twice")
        cls.use = name
        STAGES[name] = cls
        return cls

    return wrap


@dataclasses.dataclass(frozen=True)
class Stage:
    use: ClassVar[str] = ""
    version: ClassVar[str] = "1"  # bump when outputs change for the same config
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ()

    def config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class MapStage(Stage):
    kind: ClassVar[str] = "map"

    def __call__(self, table: pa.Table) -> pa.Table:
        raise NotImplementedError


class Filter(Stage):
    """Subclasses declare ``mode: str = "drop"  # drop | annotate`` as a field."""

    kind: ClassVar[str] = "filter"

    def annotate(self, table: pa.Table) -> pa.Table:
        return table

    def reasons(self, table: pa.Table) -> pa.Array:
        """One entry per row of the annotated table: null keeps it, a string names the rule."""
        raise NotImplementedError


class GlobalStage(Stage):
    kind: ClassVar[str] = "global"

    def plan(self, ctx: PlanContext, *inputs: Partitions) -> Partitions:
        (parts,) = inputs
        reduced = parts.map(self.map).reduce(self.reduce)
        return parts.map(self.apply, reduced)

    def map(self, table: pa.Table) -> Any:
        raise NotImplementedError

    def reduce(self, intermediates: list[Any]) -> Any:
        raise NotImplementedError

    def apply(self, table: pa.Table, reduced: Any) -> pa.Table:
        raise NotImplementedError


def with_reasons(table: pa.Table, reasons: pa.Array) -> pa.Table:
    """Attach per-row removal reasons (null = keep) for the engine to act on."""
    reasons = pa.array(reasons, type=pa.string()) if not isinstance(reasons, pa.Array) else reasons
    if len(reasons) != table.num_rows:
        raise ValueError(f"{len(reasons)} reasons for {table.num_rows} rows")
    if REMOVAL_REASON in table.column_names:
        table = table.drop_columns([REMOVAL_REASON])
    return table.append_column(REMOVAL_REASON, reasons.cast(pa.string()))


def set_column(table: pa.Table, name: str, values) -> pa.Table:
    """Replace column ``name`` if present, else append it (stages re-run over annotated data)."""
    i = table.schema.get_field_index(name)
    return table.set_column(i, name, values) if i >= 0 else table.append_column(name, values)


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
