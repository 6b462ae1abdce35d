"""``run_pipeline``: validate a config, connect to (or start) a Dask cluster, run, record."""

from __future__ import annotations

import dataclasses
import logging
import platform
import subprocess
import time
from pathlib import Path

from datamill import __version__
from datamill.pipeline import rundir
from datamill.pipeline.clusters import dask_client
from datamill.pipeline.config import PipelineConfig, check_files, load_config
from datamill.pipeline.executor import Executor
from datamill.pipeline.progress import Progress
from datamill.typed_config import ConfigError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    output: str
    stats: dict[str, dict]
    seconds: float


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
    if workers and cfg.execution.cluster.kind != "local":
        raise ConfigError(f"--workers sizes the embedded cluster; execution.cluster.kind: "
                          f"{cfg.execution.cluster.kind} is sized by its 'jobs' and 'processes'")
    started = time.perf_counter()
    rundir.append_event(cfg.output, {"event": "run_start", "time": time.time(), "name": cfg.name})
    record = {"name": cfg.name, "config": cfg.raw, "versions": _versions(), "git_sha": _git_sha(),
              "order": cfg.order(), "inputs": {n: node.inputs for n, node in cfg.stages.items()},
              "artifacts": {n: node.artifacts for n, node in cfg.stages.items() if node.artifacts}}
    # written at the start too, so `datamill stats` on a run that fails or is killed knows its stages
    rundir.atomic_write_json(f"{cfg.output}/run.json", {**record, "status": "running", "seconds": None})
    executor = None
    try:
        with dask_client(client, workers, scheduler, cfg.execution.cluster) as c:
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
