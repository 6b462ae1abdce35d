"""Dask workers you start yourself, with the embedded cluster's settings (docs/CLUSTERS.md).

``datamill worker SCHEDULER [dask worker options]`` sets ``worker_environment()`` (glibc malloc
tuning, quiet model-loading libraries) and starts ``dask worker --preload datamill.worker_preload``.
The environment has to come first: glibc reads its tuning when a process starts, so nothing
inside a running worker can apply it. ``dask worker --preload datamill.worker_preload
SCHEDULER`` alone registers the memory plugin and quiets the libraries not imported yet, but
cannot tune malloc (it logs a warning saying so).
"""

from __future__ import annotations

import logging
import os
import sys

from datamill.pipeline.workers import QUIET_LIBRARIES, ReleaseMemoryAfterTasks, worker_environment

log = logging.getLogger(__name__)

USAGE = """usage: datamill worker SCHEDULER [dask worker options]

Start a Dask worker for datamill runs: `dask worker --preload datamill.worker_preload` with
datamill's environment (glibc malloc tuning, no library progress bars). Every option is
dask worker's (`dask worker --help`), e.g.
  datamill worker tcp://head:8786 --nworkers 8 --nthreads 1 --memory-limit 16GB
  datamill worker --scheduler-file /shared/scheduler.json --nworkers 8 --nthreads 1"""


async def dask_setup(worker) -> None:
    """Called by Dask in each worker process after it starts (``--preload``)."""
    for key, value in QUIET_LIBRARIES.items():  # in time for libraries no task imported yet
        os.environ.setdefault(key, value)
    missing = [k for k in worker_environment() if k.startswith("MALLOC_") and k not in os.environ]
    if missing:
        log.warning("%s not set in this worker's environment: numpy-heavy stages may run ~3x slower; "
                    "start workers with `datamill worker` (docs/CLUSTERS.md)", ", ".join(missing))
    await worker.plugin_add(ReleaseMemoryAfterTasks())


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    # the user's own values win, e.g. MALLOC_TRIM_THRESHOLD_ set on purpose
    env = {**worker_environment(), **os.environ}
    cmd = [sys.executable, "-m", "distributed.cli.dask_worker", "--preload", __name__, *argv]
    log.debug("exec %s", " ".join(cmd))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)  # the worker replaces this process: signals reach it directly
    return 0  # not reached
