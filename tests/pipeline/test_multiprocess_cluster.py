"""The same config on a real multi-process cluster (driver SIGKILL: tests/reliability/test_driver_resume.py)."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline

STAGES = [{"use": "clean_text"}, {"use": "length_filter", "min_words": 20}, {"use": "exact_dedup"},
          {"use": "length_filter", "name": "long", "min_words": 60}]


def config(out, partition_rows):
    return {"name": "c", "sources": {"docs": {"format": "python_docs"}}, "stages": STAGES,
            "output": str(out), "execution": {"partition_rows": partition_rows}}


def outputs(run_dir) -> dict:
    return {s: read_stage(str(run_dir), s) for s in ("docs", "clean_text", "length_filter", "exact_dedup", "long")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from distributed import Client, LocalCluster

    out = tmp_path_factory.mktemp("ref") / "run"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            Client(cl) as c:
        run_pipeline(config(out, 1000), client=c, progress=False)
    return concat(outputs(out))


def concat(tables: dict) -> dict:
    """Per stage: row count and a digest of (id, text) in order (small enough to diff in a CI log)."""
    out = {}
    for k, t in tables.items():
        digest = hashlib.sha256()
        for i, text in zip(t.column("id").to_pylist(), t.column("text").to_pylist()):
            digest.update(f"{i}\0{text}\0".encode())
        out[k] = (t.num_rows, digest.hexdigest())
    return out


def test_multiprocess_cluster_gives_identical_output(tmp_path, reference):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(sched_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(100):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.2)
        address = yaml.safe_load(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address) as c:
            c.wait_for_workers(2, timeout=60)
            assert len(c.scheduler_info()["workers"]) == 2
            run_pipeline(config(tmp_path / "run", 53), scheduler=None, client=c, progress=False)
        assert concat(outputs(tmp_path / "run")) == reference
    finally:
        for p in procs:
            p.kill()
            p.wait()
