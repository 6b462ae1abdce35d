"""Running out of resources: a full disk, an output dir that cannot be written, and a corpus
that grows 10x while each worker's memory stays flat (partitions are bounded)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.proc_cluster import ROOT, worker_env
from tests.reliability.figures import record
from tests.reliability.runs import data_files, docs_config


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    """A small tmpfs at ``path`` (root with CAP_SYS_ADMIN only); skips with the reason otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                 capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a small file system to fill")
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def datamill_run(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datamill.cli", "run", str(cfg), "--no-progress", *args],
                          env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_clear_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("datamill run: error:"), last
    for needle in needles:
        assert needle in last, last


def test_disk_full_is_a_clear_error_and_the_run_resumes_once_space_is_freed(proc_cluster, client, tmp_path):
    from datamill.pipeline.runner import run_pipeline

    run_pipeline(docs_config(tmp_path / "ref", 90), client=client, progress=False)
    with tmpfs(tmp_path / "disk", "6m") as disk:
        (disk / "filler").write_bytes(b"\0" * (5 * 2**20))  # ~1 MB left: the run needs ~2.5 MB
        cfg = tmp_path / "c.yaml"
        cfg.write_text(yaml.safe_dump(docs_config(disk / "run", 90)))
        full = datamill_run(cfg, "--scheduler", proc_cluster.address)
        assert_clear_error(full, "No space left on device", str(disk / "run"))
        record("disk_full_failures", 1)
        (disk / "filler").unlink()
        done = datamill_run(cfg, "--scheduler", proc_cluster.address)
        assert done.returncode == 0, done.stderr[-3000:]
        assert data_files(disk / "run") == data_files(tmp_path / "ref")
        assert not list((disk / "run").rglob("*.tmp-*"))


def test_unwritable_output_is_a_clear_error_naming_it(tmp_path):
    under_a_file = tmp_path / "a-file"
    under_a_file.write_text("not a directory")
    cases = [(under_a_file / "run", ("Not a directory",))]
    with contextlib.ExitStack() as stack:
        cases.append(unwritable_dir(tmp_path, stack))
        for out, messages in cases:
            cfg = tmp_path / "c.yaml"
            cfg.write_text(yaml.safe_dump(docs_config(out, 1000)))
            done = datamill_run(cfg, "--workers", "1")
            assert_clear_error(done, str(out))
            last = done.stderr.strip().splitlines()[-1]
            assert any(m in last for m in messages), (messages, last)
            assert not out.exists()
            record("unwritable_output_errors", 1)


def unwritable_dir(tmp_path: Path, stack: contextlib.ExitStack) -> tuple[Path, tuple[str, ...]]:
    """(an output path whose directory refuses writes, the errors that may name it). Root ignores
    permission bits, so as root: a read-only tmpfs, else sysfs (where root cannot create directories)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        return locked / "run", ("Permission denied",)
    try:
        ro = stack.enter_context(tmpfs(tmp_path / "ro", "1m", read_only=True))
        return ro / "run", ("Read-only file system",)
    except pytest.skip.Exception:
        pass
    if Path("/sys/kernel").is_dir():  # sysfs: mkdir fails EPERM (EROFS where it is mounted read-only)
        return Path("/sys") / f"datamill-test-{os.getpid()}", \
            ("Operation not permitted", "Read-only file system", "Permission denied")
    pytest.fail("running as root with no tmpfs mount and no sysfs: no directory here refuses root's writes")


def test_peak_worker_memory_stays_flat_as_the_corpus_grows_10x():
    """benchmarks/memory_partitions.py at 2 MB and 20 MB through read -> clean -> filter: the
    worker's memory above its idle level does not grow with the corpus (holding the whole 20 MB
    corpus would add well over 30%). Global stages are measured by the benchmark, not here: their
    shuffles hold per-task state that grows with the partition count (docs/RELIABILITY.md)."""
    done = subprocess.run([sys.executable, "benchmarks/memory_partitions.py", "--sizes", "2", "20",
                           "--partition-mb", "0.5", "--workers", "1", "--memory-limit-mb", "2000",
                           "--stages", "clean_text,length_filter", "--json"],
                          env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [result] = json.loads(done.stdout.strip().splitlines()[-1])
    small, large = result["runs"]
    assert large["corpus_mb"] >= 9.5 * small["corpus_mb"] and large["partitions"] >= 9 * small["partitions"]
    assert large["rows_out"] >= 9 * small["rows_out"]
    record("memory_runs", 2)
    assert result["growth"]["worker_above_idle"] <= 1.3, result
