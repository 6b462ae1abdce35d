import logging
import os

from distributed import Client, LocalCluster

from datamill.pipeline.workers import ReleaseMemoryAfterTasks, worker_environment, worker_settings


def _churn(mb: int) -> int:
    """Allocate and free ``mb`` MB in 1 KB blocks: below glibc's mmap threshold, so heap."""
    blocks = [bytes(1000) + bytes([i % 256]) for i in range(mb * 1000)]
    return len(blocks)


def _worker_state(dask_worker) -> dict:
    import psutil

    return {"rss_mb": psutil.Process().memory_info().rss / 2**20,
            "env": {k: os.environ.get(k) for k in worker_environment()}}


def test_embedded_workers_get_the_environment_and_give_freed_memory_back(monkeypatch):
    # what a process cluster started earlier in this process leaves behind (Dask's nanny copies
    # its own MALLOC_TRIM_THRESHOLD_=65536 here): the workers must still get ours
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    env_before = {k: os.environ.get(k) for k in worker_environment()}
    with worker_settings(), LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.register_plugin(ReleaseMemoryAfterTasks())
        (before,) = client.run(_worker_state).values()
        assert before["env"] == worker_environment()
        assert client.submit(_churn, 100, pure=False).result() == 100_000
        (after,) = client.run(_worker_state).values()
    # without the plugin the worker kept ~100 MB here (glibc may keep 128 MB of freed heap)
    assert after["rss_mb"] - before["rss_mb"] < 50
    # and the settings did not stay in this process's environment (Dask's nanny copies them here)
    assert {k: os.environ.get(k) for k in worker_environment()} == env_before
