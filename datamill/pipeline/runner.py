"""``run_pipeline``: validate a config, connect to (or start) a Dask cluster, run, record."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import platform
import subprocess
import time
from pathlib import Path

from datamill import __version__
from datamill.pipeline import rundir
from datamill.pipeline.config import PipelineConfig, check_files, load_config
from datamill.pipeline.executor import Executor
from datamill.pipeline.progress import Progress
from datamill.pipeline.workers import ReleaseMemoryAfterTasks, worker_settings

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    output: str
    stats: dict[str, dict]
    seconds: float


@contextlib.contextmanager
def dask_client(client=None, workers: int | None = None, scheduler: str | None = None):
    """An existing client, a connection to ``scheduler``, or an embedded LocalCluster of
    single-threaded worker processes (stages are often pure Python and hold the GIL)."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as c:
            log.info("connected to Dask scheduler %s (dashboard: %s)", scheduler, c.dashboard_link)
            yield c
        return
    n = workers or os.cpu_count() or 1
    # a task's exception reaches the driver, which prints it as one line: the workers' own
    # "Compute Failed" log with its traceback is shown only with debug logging (`datamill -v`)
    quiet = logging.ERROR if log.isEnabledFor(logging.DEBUG) else logging.CRITICAL
    with worker_settings(), LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                         silence_logs=quiet) as cluster, Client(cluster) as c:
        c.register_plugin(ReleaseMemoryAfterTasks())
        log.info("embedded Dask cluster: %d workers, dashboard %s", n, c.dashboard_link)
        yield c


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict:
    import dask
    import pyarrow

    return {"datamill": __version__, "python": platform.python_version(), "dask": dask.__version__,
            "pyarrow": pyarrow.__version__}


def run_pipeline(config: str | Path | dict | PipelineConfig, *, client=None, overrides=(),
                 workers: int | None = None, scheduler: str | None = None,
                 progress: bool = True) -> RunResult:
    cfg = config if isinstance(config, PipelineConfig) else load_config(config, overrides)
    check_files(cfg)
    started = time.perf_counter()
    rundir.append_event(cfg.output, {"event": "run_start", "time": time.time(), "name": cfg.name})
    record = {"name": cfg.name, "config": cfg.raw, "versions": _versions(), "git_sha": _git_sha(),
              "order": cfg.order(), "inputs": {n: node.inputs for n, node in cfg.stages.items()}}
    # written at the start too, so `datamill stats` on a run that fails or is killed knows its stages
    rundir.atomic_write_json(f"{cfg.output}/run.json", {**record, "status": "running", "seconds": None})
    executor = None
    try:
        with dask_client(client, workers, scheduler) as c:
            executor = Executor(cfg, c, Progress(progress))
            stats = executor.run()
    except BaseException as e:
        rundir.atomic_write_json(f"{cfg.output}/run.json", {
            **record, "status": "failed", "error": f"{type(e).__name__}: {e}", "keys": executor.keys if executor else {},
            "seconds": time.perf_counter() - started})
        raise
    seconds = time.perf_counter() - started
    rundir.atomic_write_json(f"{cfg.output}/run.json", {
        **record, "status": "done", "keys": executor.keys, "seconds": seconds,
        "stage_seconds": {n: s.get("seconds") for n, s in stats.items()},
    })
    rundir.append_event(cfg.output, {"event": "run_done", "time": time.time(), "seconds": seconds})
    return RunResult(cfg.output, stats, seconds)
