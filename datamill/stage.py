"""The stage contract: what every stage is, and the few helpers stages share.

A stage is a frozen dataclass whose fields are its whole config (YAML keys map 1:1 onto them).
Three kinds:

- ``MapStage``: ``__call__(table) -> table``, pure and row-local.
- ``Filter``: ``annotate(table) -> table`` adds score columns, ``reasons(table) -> array`` gives
  one removal reason per row (null = keep). The engine, not the filter, drops rows (unless
  ``mode == "annotate"``), counts reasons and samples removed rows.
- ``GlobalStage``: ``plan(ctx, inputs) -> Partitions`` composes per-partition tasks, shuffles
  and reductions through the ``Partitions`` handle (``datamill/partitions.py``), never Dask itself.

Any stage output that carries a ``REMOVAL_REASON`` column is split by the engine the way a
filter's output is: null keeps the row, a string removes it for that reason; in ``annotate``
mode nothing is removed and the reasons are counted as flags.

``reads`` are the columns a stage requires from upstream (a column it uses only when present
is not listed), ``writes`` the columns it adds; the config loader checks ``needed_columns()``
(``reads`` plus columns its config names) against the sources and upstream ``writes``.

A stage may also produce a file for later stages (a trained model): its class names it in
``artifact``, and it writes it at ``fileio.sidecar(stage_dir, artifact)``. A later stage's field
typed ``... | StageArtifact`` then accepts ``{stage: NAME}`` in the config: the engine runs that
stage after ``NAME``, puts ``NAME``'s cache key into its own, and hands it the file's path
(``with_artifacts``) in place of the reference.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa

if TYPE_CHECKING:
    from datamill.partitions import Partitions, PlanContext

REMOVAL_REASON = "_removal_reason"
Mode = Literal["drop", "annotate"]  # drop removed rows, or keep every row and only count reasons


@dataclasses.dataclass(frozen=True)
class Stage:
    use: ClassVar[str] = ""  # the `use:` name in configs (datamill/catalog.py lists them all)
    kind: ClassVar[Literal["map", "filter", "global"]]
    version: ClassVar[str] = "1"  # bump when outputs change for the same config
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ()
    mode: ClassVar[Mode] = "drop"  # stages that can annotate instead declare `mode: Mode` as a field
    needs_rows: ClassVar[bool] = False  # True: empty input is an error (nothing to write is a broken run)
    artifact: ClassVar[str] = ""  # a file it writes under its stage dir's sidecar for later stages ("model.bin")

    def config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def needed_columns(self) -> tuple[str, ...]:
        """Columns that must reach this stage: ``reads``, and any column its config names."""
        return self.reads

    def check_inputs(self, inputs: list[str]) -> None:
        """Raise ValueError when the config names inputs the stage's edges do not (``mix`` weights)."""


class MapStage(Stage):
    kind: ClassVar[str] = "map"

    def __call__(self, table: pa.Table) -> pa.Table:
        raise NotImplementedError


class Filter(Stage):
    kind: ClassVar[str] = "filter"

    def annotate(self, table: pa.Table) -> pa.Table:
        return table

    def reasons(self, table: pa.Table) -> pa.Array:
        """One entry per row of the annotated table: null keeps it, a string names the rule."""
        raise NotImplementedError


class GlobalStage(Stage):
    kind: ClassVar[str] = "global"

    def plan(self, ctx: PlanContext, parts: Partitions) -> Partitions:
        """``parts``: every input's partitions, one after the other (several inputs are a union)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class StageArtifact:
    """A config value ``{stage: NAME}``: the file the stage ``NAME`` of the same config produces."""

    stage: str  # the upstream stage's name in the config; its class declares `artifact`


def artifact_refs(stage: Stage) -> dict[str, str]:
    """{field name: upstream stage name} for every field that holds a ``StageArtifact``."""
    return {f.name: value.stage for f in dataclasses.fields(stage)
            if isinstance(value := getattr(stage, f.name), StageArtifact)}


def with_artifacts(stage: Stage, paths: dict[str, str]) -> Stage:
    """``stage`` with each ``StageArtifact`` field replaced by ``paths[upstream name]``."""
    refs = artifact_refs(stage)
    return dataclasses.replace(stage, **{name: paths[up] for name, up in refs.items()}) if refs else stage


def with_reasons(table: pa.Table, reasons: pa.Array) -> pa.Table:
    """Attach per-row removal reasons (null = keep) for the engine to act on."""
    reasons = pa.array(reasons, type=pa.string()) if not isinstance(reasons, pa.Array) else reasons
    if len(reasons) != table.num_rows:
        raise ValueError(f"{len(reasons)} reasons for {table.num_rows} rows")
    return set_column(table, REMOVAL_REASON, reasons.cast(pa.string()))


def set_column(table: pa.Table, name: str, values) -> pa.Table:
    """Replace column ``name`` if present, else append it (stages re-run over their own output)."""
    i = table.schema.get_field_index(name)
    return table.set_column(i, name, values) if i >= 0 else table.append_column(name, values)


def set_columns(table: pa.Table, values: dict[str, Any]) -> pa.Table:
    """``set_column`` for each item, in order; plain sequences become Arrow arrays."""
    for name, column in values.items():
        table = set_column(table, name, column if isinstance(column, (pa.Array, pa.ChunkedArray)) else pa.array(column))
    return table


def require_column(table: pa.Table, name: str, stage: str) -> pa.ChunkedArray:
    """The column, or a KeyError that names the stage, the column and the columns there are."""
    if name not in table.column_names:
        raise KeyError(f"{stage}: input has no column {name!r} (columns: {table.column_names})")
    return table.column(name)
