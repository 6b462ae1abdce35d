"""A real multi-process Dask cluster on 127.0.0.1, shared by every test that asks for it.

``proc_cluster`` starts ``dask scheduler`` and three ``dask worker`` processes (each with its
nanny, as a user would run them) once per session; tests may SIGKILL worker processes, the
nannies restart them. ``tests/conftest.py`` registers the fixture for the whole suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 3


class ProcCluster:
    def __init__(self, address: str, procs: list[subprocess.Popen]):
        self.address, self.procs = address, procs

    def client(self):
        from distributed import Client

        c = Client(self.address, timeout=60)
        c.wait_for_workers(WORKERS, timeout=120)
        return c


def worker_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def start_scheduler(sched_file: Path, env: dict, cwd: Path, log) -> tuple[subprocess.Popen, str]:
    """A ``dask scheduler`` process on 127.0.0.1, and its address once it is up."""
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                             "--port", "0", "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)],
                            env=env, cwd=cwd, stdout=log, stderr=log)
    deadline = time.time() + 60
    while not (sched_file.exists() and sched_file.stat().st_size):
        if time.time() > deadline:
            proc.kill()
            raise AssertionError("dask scheduler did not start")
        time.sleep(0.1)
    return proc, yaml.safe_load(sched_file.read_text())["address"]


@pytest.fixture(scope="session")
def proc_cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    log = open(tmp / "cluster.log", "wb")
    procs = []
    try:
        scheduler, address = start_scheduler(tmp / "scheduler.json", worker_env(), ROOT, log)
        procs.append(scheduler)
        for _ in range(WORKERS):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                           "--host", "127.0.0.1"],
                                          env=worker_env(), cwd=ROOT, stdout=log, stderr=log))
        yield ProcCluster(address, procs)
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
        log.close()
