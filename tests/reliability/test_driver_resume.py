"""SIGKILL of the ``datamill run`` driver at random points of a multi-stage run (in the read
chain, inside the global dedup stage, in the chain after it), on a multi-process cluster that
keeps running the dead driver's tasks; then planted debris; then one more run. Final output:
byte-identical to an undisturbed run, no temp file left, no partial partition read. The same
with the embedded cluster (no ``--scheduler``), whose workers must die with the driver."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from datamill.pipeline.runner import run_pipeline
from tests.proc_cluster import ROOT, worker_env
from tests.reliability.figures import record
from tests.reliability.runs import STAGES, assert_no_duplicates_or_losses, data_files, docs_config

ROWS = 90


def _parts(d: Path) -> int:
    return len(list(d.glob(".datamill/stats/part-*.json"))) if d.is_dir() else 0


def kill_points(out: Path, rng: random.Random):
    """Conditions on the run dir, one per phase, each at a random depth into its phase."""
    k = rng.randint(1, 6)
    yield "read chain", lambda: _parts(out / "length_filter") >= k
    yield "global stage", lambda: (out / "exact_dedup" / ".datamill" / "key.json").exists() and not (out / "exact_dedup" / ".datamill" / "success.json").exists()
    j = rng.randint(1, 5)
    yield "chain after the global stage", lambda: _parts(out / "long") >= j
    t = time.time() + rng.uniform(0.5, 4.0)
    yield "random time", lambda: time.time() >= t


def plant_debris(out: Path) -> int:
    """What a torn write on a non-atomic store could leave in an unfinished stage: none of it
    may be trusted."""
    planted = 0
    for stage in ("length_filter", "exact_dedup", "long"):
        d = out / stage
        if (d / ".datamill" / "success.json").exists():
            continue
        d.mkdir(parents=True, exist_ok=True)
        (d / "part-00002.parquet.tmp-deadbeef").write_bytes(b"PAR1 half a file")
        marks = d / ".datamill" / "stats"  # per-partition markers
        if not (marks / "part-00003.json").exists():  # a partition written without its stats
            (d / "part-00003.parquet").write_bytes(b"PAR1 torn")
            planted += 1
        garbage = pa.table({"id": ["x"], "text": ["planted"]})
        if (marks / "part-00004.json").exists():  # stats from another run's key
            pq.write_table(garbage, d / "part-00004.parquet")
            (marks / "part-00004.json").write_text('{"key": "not-this-run", "rows_out": 1}')
            planted += 1
        planted += 1
    return planted


def resume_matches_reference(cmd: list[str], out: Path, ref: Path) -> None:
    """One more uninterrupted run finishes the killed one: the same data bytes as the reference
    run, no temporary files left, no row lost or duplicated."""
    done = subprocess.run(cmd, env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert data_files(out) == data_files(ref)
    assert not list(out.rglob("*.tmp-*"))
    stats = {s: yaml.safe_load((out / s / ".datamill" / "stats.json").read_text()) for s in STAGES}
    assert_no_duplicates_or_losses(out, stats)
    record("runs_checked_for_losses_and_duplicates", 1)


def test_driver_sigkills_at_random_points_then_resume(proc_cluster, client, tmp_path):
    run_pipeline(docs_config(tmp_path / "ref", ROWS), client=client, progress=False)
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(docs_config(out, ROWS)))
    cmd = [sys.executable, "-m", "datamill.cli", "run", str(cfg), "--scheduler", proc_cluster.address, "--no-progress"]
    rng = random.Random(int(os.environ.get("DATAMILL_TEST_SEED", "7")))
    kills = []
    for phase, condition in kill_points(out, rng):
        driver = subprocess.Popen(cmd, env=worker_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while driver.poll() is None and not condition() and time.time() < deadline:
            time.sleep(0.005)
        if driver.poll() is None:
            driver.kill()
            kills.append(phase)
        driver.wait()
        if phase == "global stage":  # and debris on top of what the kill left
            record("debris_files_planted", plant_debris(out))
    record("driver_sigkills", len(kills))
    assert len(kills) >= 3, f"the driver finished before the kill in most phases: killed in {kills}"

    resume_matches_reference(cmd, out, tmp_path / "ref")


def _group(pgid: int) -> list[int]:
    """Live processes of a process group (Linux /proc; zombies left out)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def _spawned_workers(pgid: int) -> list[int]:
    """The group's multiprocessing-spawned processes (Dask's worker processes), not any other
    short-lived child of the driver (a ``git`` call for run.json, say)."""
    workers = []
    for pid in _group(pgid):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(pid)
        except OSError:
            continue
    return workers


def _workers_up_then(rng: random.Random):
    """A kill condition: a random 0-0.3 s after both of the driver's worker processes are up."""
    delay, since = rng.uniform(0.0, 0.3), []

    def condition(driver) -> bool:
        if not since and len(_spawned_workers(driver.pid)) >= 2:
            since.append(time.time())
        return bool(since) and time.time() >= since[0] + delay
    return condition


def test_embedded_cluster_driver_sigkills_then_resume(client, tmp_path):
    """The same without ``--scheduler``: the driver owns a LocalCluster of worker processes. Each
    SIGKILL hits the driver alone; its workers must exit with it (none may keep writing into the
    run dir under the next run), and the next run resumes to the same bytes."""
    run_pipeline(docs_config(tmp_path / "ref", ROWS), client=client, progress=False)
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(docs_config(out, ROWS)))
    cmd = [sys.executable, "-m", "datamill.cli", "run", str(cfg), "--workers", "2", "--no-progress"]
    rng = random.Random(int(os.environ.get("DATAMILL_TEST_SEED", "7")))
    kills = []
    # Mid-stage once; then, since a resumed run on an idle machine can finish a phase before the
    # next poll, twice at a random moment just after its worker processes are up.
    (read_chain,) = [c for phase, c in kill_points(out, rng) if phase == "read chain"]
    phases = [("read chain", lambda driver: read_chain())] + [(f"workers up {i}", _workers_up_then(rng)) for i in (1, 2)]
    for phase, condition in phases:
        driver = subprocess.Popen(cmd, env=worker_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while driver.poll() is None and not condition(driver) and time.time() < deadline:
            time.sleep(0.005)
        if driver.poll() is None:
            assert len(_group(driver.pid)) > 1, f"{phase}: no worker process beside the driver"
            driver.kill()  # the driver only: its worker processes are not signalled
            kills.append(phase)
        driver.wait()
        deadline = time.time() + 30
        while _group(driver.pid) and time.time() < deadline:
            time.sleep(0.1)
        orphans = _group(driver.pid)
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
        assert not orphans, f"{phase}: worker processes outlived the SIGKILLed driver by 30 s"
    record("embedded_driver_sigkills", len(kills))
    assert len(kills) >= 2, f"the driver finished before the kill in most phases: killed in {kills}"

    resume_matches_reference(cmd, out, tmp_path / "ref")
