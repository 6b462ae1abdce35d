"""How the embedded cluster's worker processes treat memory.

A worker's resident memory counts against its Dask memory limit whether it holds data or only
freed blocks its allocators kept, and at 80% of the limit Dask pauses the worker: kept memory
could stall a run whose data fits. Measured in benchmarks/results/reliability.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os

from distributed import WorkerPlugin


# Progress bars and advice printed by libraries that load models inside a task. A worker's
# stderr is the CLI's (embedded cluster) or a log file, where a bar is noise between log lines;
# each is read once, when its library is imported, hence set before the worker starts:
QUIET_LIBRARIES = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub, and transformers' "Loading weights" bar
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",  # transformers' logger.warning_advice
    "TQDM_DISABLE": "1",  # tqdm >= 4.66 reads TQDM_<ARG> as its default: sentence-transformers, datasets
}


def worker_environment() -> dict[str, str]:
    """Environment for worker processes (Dask's nanny sets it before a worker starts; give the
    same to the workers of a cluster you start yourself: ``datamill worker`` and execution.cluster do).

    Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536, which made numpy-heavy stages ~3x slower
    here (MinHash: 2.8 vs 0.9 CPU s per 20k-row partition, benchmarks/results/minhash.md), so
    glibc may keep freed heap while a task runs; ``ReleaseMemoryAfterTasks`` returns it after.
    glibc reads these when a process starts: they cannot be set from inside a running worker."""
    return {"MALLOC_TRIM_THRESHOLD_": str(1 << 27), "MALLOC_MMAP_THRESHOLD_": str(1 << 25), **QUIET_LIBRARIES}


@contextlib.contextmanager
def worker_settings():
    """LocalClusters started inside give their workers ``worker_environment()``. On exit this
    process's environment is restored: Dask's nanny also copies those variables into the
    process that starts the cluster, where every later subprocess would inherit them (fastText
    training stopped with NaN under MALLOC_MMAP_THRESHOLD_=32 MiB)."""
    import dask

    env = worker_environment()
    saved = {k: os.environ.get(k) for k in env}
    # the nanny prefers this process's environment to its config, and an earlier nanny (any
    # LocalCluster started here before) left its own MALLOC_TRIM_THRESHOLD_=65536 in it
    os.environ.update(env)
    try:
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in env.items()}):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ReleaseMemoryAfterTasks(WorkerPlugin):
    """After each task, give the memory that pyarrow's pool (mimalloc) and glibc (``malloc_trim``)
    kept back to the OS, instead of letting it count against the worker's limit. Without it a
    worker's memory crept up with every partition (266 -> 302 MB over 50 partitions of 8 MB).
    ``malloc_trim`` is skipped outside glibc."""

    name = "datamill-release-memory"

    def setup(self, worker) -> None:
        import pyarrow

        libc = ctypes.util.find_library("c")
        self._trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
        self._arrow_pool = pyarrow.default_memory_pool()

    def transition(self, key, start: str, finish: str, **kwargs) -> None:
        if start == "executing":
            self._arrow_pool.release_unused()
            if self._trim is not None:
                self._trim(0)
