"""SIGKILL of Dask worker processes mid-stage, on a real multi-process cluster: the run still
completes and writes exactly what an undisturbed run writes (file for file, byte for byte)."""

from __future__ import annotations

import os
import signal
import threading
import time

from datamill.pipeline.runner import run_pipeline
from tests.reliability.figures import record
from tests.reliability.runs import assert_no_duplicates_or_losses, data_files, docs_config

ROWS = 90  # 11 partitions: each stage runs long enough to be hit, the shuffles stay small


def _kill_when(client, prefixes: tuple[str, ...], done: threading.Event, timeout: float) -> str | None:
    """SIGKILL the worker process that is running a task whose key starts with one of
    ``prefixes``; returns the key it was running (None if the stage never ran)."""
    deadline = time.time() + timeout
    while time.time() < deadline and not done.is_set():
        for address, keys in client.processing().items():
            hit = [k for k in keys if str(k).startswith(prefixes)]
            if hit:
                pid = client.run(os.getpid, workers=[address])[address]
                os.kill(pid, signal.SIGKILL)
                return str(hit[0])
        time.sleep(0.02)
    return None


def test_workers_killed_mid_stage_change_nothing(proc_cluster, client, tmp_path):
    reference = run_pipeline(docs_config(tmp_path / "ref", ROWS), client=client, progress=False)

    with proc_cluster.client() as c:
        done, result, killed = threading.Event(), {}, []

        def run():
            try:
                result["run"] = run_pipeline(docs_config(tmp_path / "run", ROWS), client=c, progress=False)
            finally:
                done.set()

        driver = threading.Thread(target=run)
        driver.start()
        # one kill inside the fused read -> clean -> filter chain, one inside the global dedup
        # stage (its shuffle pieces live in worker memory and must be recomputed), one after it
        for prefixes in (("read-docs",), ("map-", "mapi-", "shuffle-"), ("chain-long",)):
            key = _kill_when(c, prefixes, done, timeout=120)
            if key:
                killed.append(key)  # (its nanny restarts the worker; the others carry on meanwhile)
        driver.join(timeout=300)
        assert "run" in result, "the run did not complete after worker kills"
    record("worker_sigkills", len(killed))
    assert len(killed) >= 2, f"kills landed only in {killed}; the stages finished too fast to be hit"
    assert data_files(tmp_path / "run") == data_files(tmp_path / "ref")
    assert not list((tmp_path / "run").rglob("*.tmp-*")), "a killed writer's temp file outlived the run"
    assert_no_duplicates_or_losses(tmp_path / "run", result["run"].stats)
    assert {n: s["rows_out"] for n, s in result["run"].stats.items()} == \
        {n: s["rows_out"] for n, s in reference.stats.items()}
    record("runs_checked_for_losses_and_duplicates", 1)
