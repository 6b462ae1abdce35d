"""Task bodies that run on Dask workers: read a chunk, apply a chain of stages, write outputs.

Each returns plain statistics; nothing here mutates driver state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from datamill.pipeline import rundir
from datamill.pipeline.errors import StageError
from datamill.pipeline.source_config import Chunk, SourceConfig
from datamill.pipeline.sources import read_chunk
from datamill.pipeline.stats import numeric_histograms, partition_stats
from datamill.stage import REMOVAL_REASON, Stage, with_reasons


@dataclass(frozen=True)
class StageJob:
    """One stage in a fused chain: where it writes and under which key."""

    name: str
    stage: Stage
    key: str
    dir: str


class _Clock:
    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return out


def split_removed(stage: Stage, table: pa.Table, samples: int) -> tuple[pa.Table, pa.Table | None, dict, dict, dict]:
    """Act on a removal-reason column: drop (or, in annotate mode, only count) and sample. The
    last item: histograms of the stage's own numeric columns over the removed (flagged) rows,
    which the stage output no longer holds (the report draws them beside the kept rows')."""
    if REMOVAL_REASON not in table.column_names:
        return table, None, {}, {}, {}
    reasons = table.column(REMOVAL_REASON)
    removed_mask = pc.is_valid(reasons)
    counts = {}
    if pc.any(removed_mask).as_py():
        vc = pc.value_counts(pc.drop_null(reasons))
        counts = {v["values"].as_py(): v["counts"].as_py() for v in vc}
    rejected, removed_hists = None, {}
    if counts:
        removed_hists = numeric_histograms(table.filter(removed_mask), getattr(stage, "writes", ()))
        parts = []
        for reason in sorted(counts):
            rows = table.filter(pc.equal(reasons, reason)).slice(0, samples)
            parts.append(rows)
        rejected = pa.concat_tables(parts)
    if stage.mode == "annotate":
        return table.drop_columns([REMOVAL_REASON]), rejected, {}, counts, removed_hists
    kept = table.filter(pc.invert(removed_mask)).drop_columns([REMOVAL_REASON])
    return kept, rejected, counts, {}, removed_hists


def apply_stage(stage: Stage, table: pa.Table, samples: int):
    if stage.kind == "filter":
        annotated = stage.annotate(table)
        out = with_reasons(annotated, stage.reasons(annotated))
    elif stage.kind == "map":
        out = stage(table)
    else:
        raise TypeError(f"{type(stage).__name__} is a global stage and cannot run in a chain")
    return split_removed(stage, out, samples)


def run_chain(table: pa.Table, i: int, chain: list[StageJob], samples: int, clock: _Clock) -> list[dict]:
    stats = []
    for job in chain:
        try:
            out, rejected, removed, flagged, removed_hists = apply_stage(job.stage, table, samples)
        except Exception as e:  # the driver prints it as one line naming the stage and partition
            raise StageError.wrap(job.name, i, e) from e
        wall, cpu = clock.lap()
        s = partition_stats(table, out, removed, flagged, wall, cpu, histograms_removed=removed_hists,
                            writes=getattr(job.stage, "writes", ()))
        rundir.write_partition(job.dir, i, job.key, out, rejected, s)
        stats.append(s)
        table = out
    return stats


def source_chain_task(i: int, cfg: SourceConfig, chunk: Chunk, head: StageJob,
                      chain: list[StageJob], samples: int) -> list[dict]:
    """Read chunk ``i`` of a source, write it as the source's partition ``i``, then run the chain."""
    clock = _Clock()
    table, bad = read_chunk(cfg, chunk, samples)
    wall, cpu = clock.lap()
    rejected = pa.Table.from_pylist(bad.rows) if bad.rows else None
    s = partition_stats(None, table, bad.counts, {}, wall, cpu, rows_in=table.num_rows + sum(bad.counts.values()))
    rundir.write_partition(head.dir, i, head.key, table, rejected, s)
    return [s] + run_chain(table, i, chain, samples, clock)


def stage_chain_task(i: int, input_dir: str, chain: list[StageJob], samples: int,
                     input_i: int | None = None) -> list[dict]:
    """Read partition ``input_i`` (default ``i``) of ``input_dir``, run the chain, write partition ``i``."""
    clock = _Clock()
    table = rundir.read_partition(input_dir, i if input_i is None else input_i)
    clock.lap()
    return run_chain(table, i, chain, samples, clock)


def finish_global_task(i: int, table: pa.Table, job: StageJob, samples: int) -> dict:
    """Write output partition ``i`` of a global stage (rows_in is filled in by the driver)."""
    clock = _Clock()
    out, rejected, removed, flagged, removed_hists = split_removed(job.stage, table, samples)
    wall, cpu = clock.lap()
    s = partition_stats(None, out, removed, flagged, wall, cpu, rows_in=0, histograms_removed=removed_hists)
    rundir.write_partition(job.dir, i, job.key, out, rejected, s)
    return s
