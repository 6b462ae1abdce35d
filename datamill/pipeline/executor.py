"""Runs a validated pipeline on a Dask client, stage by stage in topological order.

Map and filter stages with one input, whose input feeds nothing else, are fused into one
task per partition; one with several inputs reads their union and starts a chain. Global stages get their inputs as ``Partitions`` and plan their own
shuffles and reductions. Every stage's outputs are keyed by a hash of (stage config, version,
input keys): a finished stage is skipped, a finished partition of an unfinished stage is
kept, a changed stage re-runs with its descendants.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid

from datamill import __version__
from datamill.fileio import sidecar
from datamill.pipeline import rundir
from datamill.pipeline.config import PipelineConfig
from datamill.pipeline.errors import StageError
from datamill.pipeline.file_fingerprints import stage_files
from datamill.pipeline.source_config import DataError
from datamill.partitions import Lazy, Partitions, PlanContext, Value
from datamill.stage import with_artifacts
from datamill.pipeline.progress import Progress
from datamill.pipeline.source_config import DataError
from datamill.pipeline.sources import fingerprint, list_files, plan_source
from datamill.pipeline.stats import merge
from datamill.pipeline.tasks import StageJob, finish_global_task, source_chain_task, stage_chain_task

log = logging.getLogger(__name__)


class Executor:
    def __init__(self, cfg: PipelineConfig, client, progress: Progress):
        self.cfg, self.client, self.progress = cfg, client, progress
        self.out = cfg.output.rstrip("/")
        self.keys: dict[str, str] = {}
        self.parts: dict[str, int] = {}
        self.stats: dict[str, dict] = {}
        self.samples = cfg.execution.rejected_samples
        # in Dask keys: equal cache keys are equal work, but a concurrent run of the same config
        # into another run dir must not be merged with this one's tasks
        self.run_token = uuid.uuid4().hex[:8]

    def dir(self, name: str) -> str:
        return f"{self.out}/{name}"

    # -- planning -------------------------------------------------------------------------
    def chains(self) -> list[list[str]]:
        """Group names into fused chains; a global stage is a chain of its own."""
        chains: list[list[str]] = []
        tail_of: dict[str, list[str]] = {}
        for name in self.cfg.order():
            node = self.cfg.stages.get(name)
            # a stage reading an upstream artifact starts its own chain, which runs after the producer
            if node is not None and node.stage.kind != "global" and len(node.inputs) == 1 and not node.artifacts:
                parent = node.inputs[0]
                parent_node = self.cfg.stages.get(parent)
                fusable = parent in tail_of and len(self.cfg.consumers(parent)) == 1 and \
                    (parent_node is None or parent_node.stage.kind != "global")
                if fusable:
                    chain = tail_of.pop(parent)
                    chain.append(name)
                    tail_of[name] = chain
                    continue
            chain = [name]
            chains.append(chain)
            if node is None or node.stage.kind != "global":
                tail_of[name] = chain
        return chains

    def stage_key(self, name: str) -> str:
        node = self.cfg.stages[name]
        ex = self.cfg.execution
        # the bytes of every model/word list/tokenizer it reads: a retrained model re-runs the stage
        parts = ["stage", node.stage.use, node.stage.version, node.stage.config(),
                 [self.keys[i] for i in node.inputs], ex.rejected_samples, stage_files(node.stage)]
        if node.artifacts:  # a retrained upstream model re-runs the stage (absent: keys stay as they were)
            parts.append({key: self.keys[up] for key, up in sorted(node.artifacts.items())})
        return rundir.cache_key(*parts)

    def stage(self, name: str):
        """The stage as it runs: each ``{stage: NAME}`` value replaced by that stage's artifact path."""
        node = self.cfg.stages[name]
        return with_artifacts(node.stage, {up: sidecar(self.dir(up), self.cfg.stages[up].stage.artifact)
                                           for up in node.artifacts.values()})

    def job(self, name: str) -> StageJob:
        stage = self.stage(name) if name in self.cfg.stages else None
        return StageJob(name, stage, self.keys[name], self.dir(name))

    # -- running --------------------------------------------------------------------------
    def run(self) -> dict[str, dict]:
        for chain in self.chains():
            started = time.perf_counter()
            head = chain[0]
            if head in self.cfg.sources:
                self._run_source_chain(chain)
            elif self.cfg.stages[head].stage.kind == "global":
                self._run_global(head)
            else:
                self._run_stage_chain(chain)
            log.debug("chain %s took %.1fs", chain, time.perf_counter() - started)
        return self.stats

    def _finish(self, name: str, part_stats: list[dict], seconds: float, extra: dict | None = None,
                rows_in: int | None = None) -> None:
        stats = merge(part_stats)
        node = self.cfg.stages.get(name)
        stats.update(name=name, use=node.stage.use if node else "read",
                     inputs=node.inputs if node else [], task_seconds=stats["seconds"], seconds=seconds)
        if rows_in is not None:
            stats["rows_in"] = rows_in
        if extra:
            stats["extra"] = extra
        rundir.clean_temp_files(self.dir(name))  # left by tasks on workers that died mid-write
        rundir.write_success(self.dir(name), self.keys[name], len(part_stats), stats)
        self.stats[name] = stats
        self.parts[name] = len(part_stats)
        rundir.append_event(self.out, {"event": "stage_done", "stage": name, "rows_out": stats["rows_out"],
                                       "seconds": round(seconds, 3), "time": time.time()})

    def _skip_if_done(self, name: str) -> bool:
        done = rundir.completed(self.dir(name), self.keys[name])
        if not done:
            return False
        self.parts[name] = done["parts"]
        self.stats[name] = rundir.read_json(rundir.stage_stats_path(self.dir(name)))
        self.progress.skipped(name, done["parts"])
        rundir.append_event(self.out, {"event": "stage_cached", "stage": name, "time": time.time()})
        return True

    def _run_source_chain(self, chain: list[str]) -> None:
        src = self.cfg.sources[chain[0]]
        files = list_files(src) if src.format not in ("hf", "python_docs") else []
        ex = self.cfg.execution
        source_fields = dataclasses.asdict(src)
        for key in ("on_error", "max_bad_fraction"):  # whether bad rows stop the run never changes kept rows
            source_fields.pop(key)
        self.keys[src.name] = rundir.cache_key(
            "source", source_fields, fingerprint(src, files) if files else src.path,
            ex.partition_rows, ex.partition_bytes, ex.rejected_samples, __version__)
        for name in chain[1:]:
            self.keys[name] = self.stage_key(name)
        if self._skip_if_done(src.name):
            if len(chain) > 1:
                self._run_stage_chain(chain[1:])
            return
        started = time.perf_counter()
        chunks = plan_source(src, files, ex.partition_rows, ex.partition_bytes,
                             lambda fn, items: self.client.gather(self.client.map(fn, items, pure=False)))
        jobs = [self.job(n) for n in chain]
        for job in jobs:
            rundir.prepare_stage_dir(job.dir, job.key)
            rundir.clean_temp_files(job.dir)
        todo = self._untrusted(jobs, len(chunks))
        # no `retries`: a task that raised would raise again on the same input (and print its
        # error once per try); a worker that dies is re-run by the scheduler (allowed-failures)
        futures = {i: self.client.submit(source_chain_task, i, src, chunks[i], jobs[0], jobs[1:], self.samples,
                                         key=f"read-{src.name}-{self.keys[src.name]}-{self.run_token}-{i}")
                   for i in todo}
        per_part = self._collect(chain, jobs, futures, len(chunks))
        self._finish_chain(chain, per_part, started)

    def _run_stage_chain(self, chain: list[str]) -> None:
        for name in chain:
            self.keys.setdefault(name, self.stage_key(name))
        while chain and self._skip_if_done(chain[0]):
            chain = chain[1:]
        if not chain:
            return
        started = time.perf_counter()
        # several inputs are a union: partition i of this stage is partition i of its inputs'
        # partitions one after the other, as a global stage sees them (Partitions.concat)
        reads = [(self.dir(inp), j) for inp in self.cfg.stages[chain[0]].inputs for j in range(self.parts[inp])]
        n = len(reads)
        jobs = [self.job(name) for name in chain]
        for job in jobs:
            rundir.prepare_stage_dir(job.dir, job.key)
            rundir.clean_temp_files(job.dir)
        todo = self._untrusted(jobs, n)
        futures = {i: self.client.submit(stage_chain_task, i, reads[i][0], jobs, self.samples, reads[i][1],
                                         key=f"chain-{chain[0]}-{jobs[0].key}-{self.run_token}-{i}")
                   for i in todo}
        per_part = self._collect(chain, jobs, futures, n)
        self._finish_chain(chain, per_part, started)

    def _untrusted(self, jobs: list[StageJob], n: int) -> list[int]:
        trusted = set(range(n))
        for job in jobs:
            trusted &= rundir.trusted_parts(job.dir, job.key, n)
        if trusted:
            log.info("%s: reusing %d of %d finished partitions", jobs[0].name, len(trusted), n)
        return [i for i in range(n) if i not in trusted]

    def _collect(self, chain, jobs, futures: dict, n: int) -> list[list[dict]]:
        """Per partition, the list of per-stage stats (read back from disk for reused partitions)."""
        results: dict[int, list[dict]] = {}
        self.progress.start(chain[0] if len(chain) == 1 else f"{chain[0]}..{chain[-1]}", n, n - len(futures))
        from distributed import as_completed

        for future in as_completed(list(futures.values())):
            i = int(future.key.rsplit("-", 1)[1])
            results[i] = future.result()
            self.progress.advance()
        self.progress.stop()
        for i in range(n):
            if i not in results:
                results[i] = [rundir.read_json(rundir.stats_path(j.dir, i)) for j in jobs]
        return [results[i] for i in range(n)]

    def _finish_chain(self, chain: list[str], per_part: list[list[dict]], started: float) -> None:
        seconds = time.perf_counter() - started
        for k, name in enumerate(chain):
            self._finish(name, [p[k] for p in per_part], seconds)

    def _run_global(self, name: str) -> None:
        try:
            self._plan_global(name)
        except (StageError, DataError, OSError):
            raise  # already named (a chain's partition, a source file, an unwritable path)
        except Exception as e:  # a stage's own failure: one line naming the stage
            raise StageError.wrap(name, None, e) from e

    def _plan_global(self, name: str) -> None:
        node = self.cfg.stages[name]
        self.keys[name] = self.stage_key(name)
        if self._skip_if_done(name):
            return
        if node.stage.needs_rows and not sum(self.stats[i]["rows_out"] for i in node.inputs):
            read = sum(self.stats[n]["rows_out"] for n in self.cfg.sources if n in self.stats)
            why = "the sources hold no rows" if not read else "upstream stages removed everything"
            raise StageError(name, None, f"no rows reached {node.stage.use} {name!r}; {why}: "
                                         f"see `datamill stats {self.out}`")
        started = time.perf_counter()
        job = self.job(name)
        rundir.prepare_stage_dir(job.dir, job.key)
        rundir.clean_temp_files(job.dir)
        inputs = []
        for inp in node.inputs:
            lazy = [Lazy(rundir.read_partition, self.dir(inp), i) for i in range(self.parts[inp])]
            inputs.append(Partitions(self.client, lazy, name=inp))
        ctx = PlanContext(stage_name=name, stage_dir=job.dir, client=self.client)
        self.progress.start(name, 1, 0)
        # writing first: each output table is written and freed as soon as it exists, instead of
        # every partition's output piling up in worker memory until the last one is computed
        try:
            written = job.stage.plan(ctx, Partitions.concat(inputs)).map_indexed(finish_global_task, job, self.samples, priority=100)
            part_stats = written.gather()
        except ValueError as e:  # a stage's verdict on its data (mix: repeated past max_repeat): one line
            raise DataError(f"stage {name!r}: {e}") from e
        self.progress.advance()
        self.progress.stop()
        extra = {k: v.result() if isinstance(v, Value) else v for k, v in ctx.extra_stats.items()}
        rows_in = sum(self.stats[i]["rows_out"] for i in node.inputs)
        self._finish(name, part_stats, time.perf_counter() - started, extra, rows_in=rows_in)
