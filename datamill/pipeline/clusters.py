"""Where a run's tasks execute: a client you pass, a scheduler you started (``--scheduler``),
batch jobs that ``execution.cluster`` submits through dask-jobqueue, or an embedded LocalCluster.

Every worker gets the embedded cluster's settings (``datamill.pipeline.workers``): the batch
jobs export ``worker_environment()`` before ``dask worker`` starts (glibc reads it at process
start) and preload ``datamill.worker_preload``, which registers the memory plugin.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex

from datamill.pipeline.config import Cluster
from datamill.pipeline.workers import ReleaseMemoryAfterTasks, worker_environment, worker_settings

log = logging.getLogger(__name__)

# dask-jobqueue's cluster class per batch system
JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}


def job_cluster(spec: Cluster):
    """The dask-jobqueue cluster for ``spec``, with no job submitted yet (``scale`` submits);
    its scheduler runs in this process."""
    try:
        import dask_jobqueue
    except ImportError:
        raise ImportError(f"execution.cluster.kind: {spec.kind} needs dask-jobqueue: "
                          "pip install 'datamill[cluster]'") from None
    cls = getattr(dask_jobqueue, JOBQUEUE[spec.kind])
    account = {"account": spec.account} if spec.kind in ("slurm", "pbs") else {"project": spec.account}
    options = dict(
        cores=spec.cores, processes=spec.processes, memory=spec.memory, walltime=spec.walltime,
        queue=spec.queue or None, job_extra_directives=list(spec.job_extra_directives),
        job_script_prologue=[f"export {k}={shlex.quote(v)}" for k, v in worker_environment().items()],
        worker_extra_args=["--preload", "datamill.worker_preload"],
        interface=spec.interface or None, job_name="datamill", **(account if spec.account else {}),
        scheduler_options={"dashboard_address": ":0"})  # not 8787: another run's may hold it
    return cls(**options)


@contextlib.contextmanager
def dask_client(client=None, workers: int | None = None, scheduler: str | None = None,
                cluster: Cluster = Cluster()):
    """An existing client, a connection to ``scheduler``, batch jobs, or an embedded LocalCluster
    of single-threaded worker processes (stages are often pure Python and hold the GIL).

    After Ctrl-C the client and cluster close with the libraries' loggers quiet: an interrupt
    that lands inside distributed's ``sync`` before its coroutine started makes its ``cancel``
    callback fail (NameError in distributed/utils.py), and tornado logs that traceback, with
    errors about the abandoned keys, under what should be the CLI's one-line resume hint."""
    if client is not None:
        yield client
        return
    with contextlib.ExitStack() as stack:
        levels: dict[logging.Logger, int] = {}
        stack.callback(_restore_levels, levels)  # registered first: runs once the cluster has closed
        c = stack.enter_context(_open_client(workers, scheduler, cluster))
        try:
            yield c
        except KeyboardInterrupt:
            levels.update(_silence(TEARDOWN_LOGGERS))
            raise


# the libraries whose loggers report an interrupted cluster's teardown
TEARDOWN_LOGGERS = ("distributed", "tornado", "asyncio")


def _silence(prefixes: tuple[str, ...]) -> dict[logging.Logger, int]:
    """Raise every logger under ``prefixes`` above CRITICAL; returns their levels before."""
    # list(): the event loop's thread may create a logger meanwhile
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in prefixes]
    loggers = [logging.getLogger(n) for n in sorted(set(names) | set(prefixes))]
    saved = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    return saved


def _restore_levels(levels: dict[logging.Logger, int]) -> None:
    for logger, level in levels.items():
        logger.setLevel(level)


@contextlib.contextmanager
def _open_client(workers: int | None, scheduler: str | None, cluster: Cluster):
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as c:
            log.info("connected to Dask scheduler %s (dashboard: %s)", scheduler, c.dashboard_link)
            yield c
        return
    if cluster.kind != "local":
        with job_cluster(cluster) as jobs, Client(jobs) as c:
            jobs.scale(jobs=cluster.jobs)
            # tasks wait in the scheduler until the jobs start: nothing to wait for here
            log.info("submitted %d %s job(s) of %d worker(s); dashboard %s", cluster.jobs, cluster.kind,
                     cluster.processes, c.dashboard_link)
            yield c
        return
    n = workers or os.cpu_count() or 1
    # a task's exception reaches the driver, which prints it as one line: the workers' own
    # "Compute Failed" log with its traceback is shown only with debug logging (`datamill -v`)
    quiet = logging.ERROR if log.isEnabledFor(logging.DEBUG) else logging.CRITICAL
    with worker_settings(), LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                         silence_logs=quiet) as local, Client(local) as c:
        c.register_plugin(ReleaseMemoryAfterTasks())
        log.info("embedded Dask cluster: %d workers, dashboard %s", n, c.dashboard_link)
        yield c
