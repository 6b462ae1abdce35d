"""What a global stage sees of Dask: a list of per-partition values and three operations.

``Partitions.map`` runs one task per partition, ``shuffle`` moves pieces between partitions
(an all-to-all exchange through the scheduler, never through the driver), ``reduce`` combines
values in a tree. Stages compose these without importing Dask, so a stage's plan is the same
on the embedded cluster and on a remote one.
"""

from __future__ import annotations

import itertools
import operator
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

_counter = itertools.count()


def _name(fn: Callable, label: str) -> str:
    """A fresh key prefix. Dask merges tasks with equal keys, and another driver on the same
    cluster counts from 0 too, so a random part keeps two runs' tasks apart."""
    base = getattr(fn, "__name__", type(fn).__name__)
    return f"{label}-{base}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


class Lazy:
    """A partition not yet loaded: ``fn(*args)`` runs inside whichever task consumes it, so a
    stage's input tables are read where they are used and never all held in memory at once."""

    def __init__(self, fn: Callable, *args: Any):
        self.fn, self.args = fn, args

    def load(self) -> Any:
        return self.fn(*self.args)


def _call(fn: Callable, *args: Any) -> Any:
    return fn(*[a.load() if isinstance(a, Lazy) else a for a in args])


def _resolve(arg: Any, i: int) -> Any:
    if isinstance(arg, Partitions):
        return arg.futures[i]
    if isinstance(arg, Value):
        return arg.future
    return arg


class Value:
    """One value computed on the cluster (e.g. the result of a reduce)."""

    def __init__(self, client, future):
        self.client = client
        self.future = future

    def result(self) -> Any:
        return self.future.result()

    def map(self, fn: Callable, *args: Any) -> Value:
        args = [_resolve(a, 0) for a in args]
        return Value(self.client, self.client.submit(fn, self.future, *args, key=_name(fn, "value")))


class Partitions:
    """An ordered list of per-partition values living on the cluster."""

    def __init__(self, client, futures: list, name: str = "", origins: list[str] | None = None):
        self.client = client
        self.futures = list(futures)
        self.name = name  # the upstream stage or source name
        # per partition, the input it came from: a stage with several inputs sees their union
        self.origins = list(origins) if origins is not None else [name] * len(self.futures)

    def __len__(self) -> int:
        return len(self.futures)

    @staticmethod
    def concat(parts: list[Partitions], name: str = "") -> Partitions:
        """The partitions of several inputs, one after the other (a union; each keeps its origin)."""
        return Partitions(parts[0].client, [f for p in parts for f in p.futures], name,
                          [o for p in parts for o in p.origins])

    def by_input(self) -> list[Partitions]:
        """The union split back into one ``Partitions`` per input, in input order."""
        names = list(dict.fromkeys(self.origins))
        return [Partitions(self.client, [f for f, o in zip(self.futures, self.origins) if o == n], n)
                for n in names]

    def pick(self, k: int) -> Partitions:
        """Element ``k`` of each partition's value (for tasks that return a tuple)."""
        return self.map(operator.itemgetter(k))

    def map(self, fn: Callable, *args: Any, **kwargs: Any) -> Partitions:
        """``fn(part_i, *args)`` per partition. A ``Partitions`` argument is zipped (same
        length), a ``Value`` argument is broadcast, anything else is passed as is."""
        for a in args:
            if isinstance(a, Partitions) and len(a) != len(self):
                raise ValueError(f"cannot zip {len(self)} partitions with {len(a)}")
        key = _name(fn, "map")
        futures = [
            self.client.submit(_call, fn, f, *[_resolve(a, i) for a in args], key=f"{key}-{i}", **kwargs)
            for i, f in enumerate(self.futures)
        ]
        return Partitions(self.client, futures, self.name, self.origins)

    def map_indexed(self, fn: Callable, *args: Any, priority: int = 0) -> Partitions:
        """Like ``map`` but ``fn(i, part_i, *args)`` also gets the partition's index. A higher
        ``priority`` runs each task as soon as its input is ready, ahead of other waiting work."""
        key = _name(fn, "mapi")
        futures = [
            self.client.submit(_call, fn, i, f, *[_resolve(a, i) for a in args], key=f"{key}-{i}",
                               priority=priority)
            for i, f in enumerate(self.futures)
        ]
        return Partitions(self.client, futures, self.name, self.origins)

    def per_index(self, fn: Callable, *args: Any) -> Partitions:
        """``fn(i, *args)`` per partition index, without loading the partitions themselves (e.g. a
        ``Value`` cut into one piece per partition)."""
        key = _name(fn, "index")
        futures = [self.client.submit(_call, fn, i, *[_resolve(a, i) for a in args], key=f"{key}-{i}")
                   for i in range(len(self.futures))]
        return Partitions(self.client, futures, self.name, self.origins)

    def reduce(self, fn: Callable[[list], Any], split_every: int = 8) -> Value:
        """Tree reduction: ``fn(list_of_values) -> value``; ``fn`` must accept its own outputs."""
        if not self.futures:
            return Value(self.client, self.client.submit(fn, [], key=_name(fn, "reduce")))
        level = self.futures
        key = _name(fn, "reduce")
        depth = 0
        while True:
            groups = [level[i : i + split_every] for i in range(0, len(level), split_every)]
            level = [
                self.client.submit(_call, _call_on_list, fn, *g, key=f"{key}-{depth}-{j}")
                for j, g in enumerate(groups)
            ]
            depth += 1
            if len(level) == 1:
                return Value(self.client, level[0])

    def shuffle(self, split: Callable[[Any, int], list], n_out: int,
                combine: Callable[[list], Any]) -> Partitions:
        """All-to-all exchange. ``split(part, n_out)`` returns ``n_out`` pieces, piece ``j``
        goes to output ``j``; ``combine(pieces)`` builds output ``j`` from its pieces in
        input-partition order (so the result does not depend on task timing)."""
        key = _name(split, "shuffle")
        pieces = [
            self.client.submit(_call, split, f, n_out, key=f"{key}-split-{i}")
            for i, f in enumerate(self.futures)
        ]
        futures = []
        for j in range(n_out):
            column = [
                self.client.submit(operator.getitem, p, j, key=f"{key}-get-{i}-{j}")
                for i, p in enumerate(pieces)
            ]
            futures.append(self.client.submit(_call_on_list, combine, *column, key=f"{key}-combine-{j}"))
        return Partitions(self.client, futures, self.name)  # pieces mix inputs: one origin

    def gather(self) -> list:
        """Bring every value to the driver. Only for small values (counts, flags)."""
        futures = [self.client.submit(Lazy.load, f, key=_name(Lazy.load, "load") + f"-{i}")
                   if isinstance(f, Lazy) else f for i, f in enumerate(self.futures)]
        return self.client.gather(futures)


def _call_on_list(fn: Callable[[list], Any], *values: Any) -> Any:
    return fn(list(values))


@dataclass
class PlanContext:
    """What the engine tells a global stage's plan besides its inputs."""

    stage_name: str
    stage_dir: str  # fsspec path of the stage's output dir, for stages that write artifacts
    client: Any = field(repr=False)
    extra_stats: dict[str, Any] = field(default_factory=dict)

    def add_stats(self, key: str, value: Any) -> None:
        """Record a stage-level statistic (a plain value or a ``Value`` computed later);
        it lands under ``extra`` in the stage's ``.datamill/stats.json``."""
        self.extra_stats[key] = value

    def constant(self, obj: Any) -> Value:
        """Ship a driver-side object to the cluster once, for broadcasting into ``map``."""
        [future] = self.client.scatter([obj], broadcast=False, hash=False)
        return Value(self.client, future)
