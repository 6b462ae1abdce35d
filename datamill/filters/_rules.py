"""What every heuristic rule set shares: a ``disable`` list and "first failing rule wins".

A rule set's ``annotate`` writes one numeric column per measurement; its ``reasons`` turns
the columns into one boolean "fails" mask per rule, in the paper's order, and the first
enabled rule that fails names the removal reason of the row.
"""

from __future__ import annotations

from typing import ClassVar, Iterable

import numpy as np
import pyarrow as pa

from datamill.filters import _text
from datamill.stage import Filter, require_column, set_columns


class RuleSet(Filter):
    """A heuristic rule set: subclasses declare ``RULES``, the fields ``disable`` and ``mode``,
    ``_measure(text) -> {column: values}`` and ``reasons``."""

    RULES: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        check_rules(self, self.RULES)

    def annotate(self, table: pa.Table) -> pa.Table:
        return set_columns(table, _text.chunked(self._measure, _text.text_array(table)))

    def _measure(self, text: pa.Array) -> dict:
        raise NotImplementedError


def check_rules(stage, rules: tuple[str, ...]) -> None:
    """Validate ``disable`` (called from ``__post_init__``); a YAML list is
    accepted for ``disable`` and stored as a tuple so the frozen stage stays hashable."""
    name = type(stage).use or type(stage).__name__
    disable = stage.disable
    if isinstance(disable, str) or not isinstance(disable, (list, tuple)):
        raise TypeError(f"{name}: disable must be a list of rule names, got {disable!r}")
    unknown = [r for r in disable if r not in rules]
    if unknown:
        raise ValueError(f"{name}: unknown rule(s) {unknown} in disable; rules are {list(rules)}")
    object.__setattr__(stage, "disable", tuple(disable))


def column(table: pa.Table, name: str) -> np.ndarray:
    return require_column(table, name, "reasons() (run annotate() first)").to_numpy()


def first_reason(n_rows: int, disable: Iterable[str],
                 fails: list[tuple[str, np.ndarray]]) -> pa.Array:
    """One reason per row: the first enabled rule whose mask is True, else null (keep)."""
    out = np.full(n_rows, None, dtype=object)
    open_ = np.ones(n_rows, dtype=bool)
    off = set(disable)
    for name, failed in fails:
        if name in off:
            continue
        hit = open_ & np.asarray(failed, dtype=bool)
        out[hit] = name
        open_ &= ~hit
    return pa.array(out, type=pa.string())
