"""Workers started outside the embedded cluster get its settings: `datamill worker` / the
`datamill.worker_preload` preload on a scheduler you run, and batch jobs from `execution.cluster`
(rendered without a batch system, and run through a stand-in `sbatch` that starts the job script
on this machine)."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datamill.pipeline.clusters import dask_client, job_cluster
from datamill.pipeline.config import Cluster, load_config
from datamill.pipeline.runner import run_pipeline
from datamill.pipeline.workers import QUIET_LIBRARIES, ReleaseMemoryAfterTasks, worker_environment
from datamill.typed_config import ConfigError
from tests.proc_cluster import start_scheduler, worker_env

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ReleaseMemoryAfterTasks.name


def _worker_state(dask_worker) -> dict:
    return {"plugin": PLUGIN in dask_worker.plugins, "env": {k: os.environ.get(k) for k in worker_environment()}}


def _write_pipeline(tmp_path: Path, **execution) -> Path:
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": f"document {i} " + "word " * (i % 7)}) + "\n"
                            for i in range(40)))
    cfg = {"name": "c", "sources": {"d": {"format": "jsonl", "path": str(docs)}},
           "stages": [{"use": "clean_text"}, {"use": "length_filter", "min_words": 4}],
           "output": str(tmp_path / "run"), "execution": {"partition_rows": 10, **execution}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _kept(run_dir: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_table(run_dir / "length_filter").num_rows


def test_datamill_worker_and_the_preload_set_up_workers_a_pipeline_runs_on(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    # a clean environment: what the worker has comes from datamill, not from this test process
    env = {k: v for k, v in worker_env().items() if k not in worker_environment()}
    common = ["--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1", "--scheduler-file", str(sched_file)]
    log = open(tmp_path / "cluster.log", "wb")
    procs = []
    try:
        scheduler, address = start_scheduler(sched_file, env, tmp_path, log)
        procs.append(scheduler)
        procs.append(subprocess.Popen([sys.executable, "-m", "datamill.cli", "worker", *common, "--name", "ours"],
                                      env=env, cwd=tmp_path, stdout=log, stderr=log))
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", *common, "--name", "plain",
                                       "--preload", "datamill.worker_preload"], env=env, cwd=tmp_path, stdout=log,
                                      stderr=log))
        from distributed import Client

        with Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=120)
            state = {info["name"]: s for addr, s in c.run(_worker_state).items()
                     for info in [c.scheduler_info()["workers"][addr]]}
        assert state["ours"] == {"plugin": True, "env": worker_environment()}
        # the preload alone registers the plugin and quiets libraries, but cannot tune malloc
        assert state["plain"]["plugin"]
        assert {k: state["plain"]["env"][k] for k in QUIET_LIBRARIES} == QUIET_LIBRARIES
        assert state["plain"]["env"]["MALLOC_MMAP_THRESHOLD_"] is None
        proc = subprocess.run([sys.executable, "-m", "datamill.cli", "run", str(_write_pipeline(tmp_path)),
                               "--scheduler", address, "--no-progress"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert _kept(tmp_path / "run") == sum(1 for i in range(40) if 2 + i % 7 >= 4)
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
        log.close()
    assert b"not set in this worker's environment" in (tmp_path / "cluster.log").read_bytes()


def test_slurm_job_script_carries_size_environment_and_preload(tmp_path):
    cfg = load_config(_write_pipeline(tmp_path, cluster={
        "kind": "slurm", "jobs": 3, "cores": 8, "processes": 2, "memory": "32GB", "queue": "cpu",
        "account": "lm-data", "walltime": "04:30:00", "job_extra_directives": ["--exclusive"]}))
    with job_cluster(cfg.execution.cluster) as cluster:
        script = cluster.job_script()
        assert not cluster.workers  # nothing submitted
    for line in ["#SBATCH -p cpu", "#SBATCH -A lm-data", "#SBATCH --cpus-per-task=8", "#SBATCH -t 04:30:00",
                 "#SBATCH --exclusive", "export MALLOC_TRIM_THRESHOLD_=134217728",
                 "export MALLOC_MMAP_THRESHOLD_=33554432", "export TQDM_DISABLE=1"]:
        assert line in script.splitlines(), (line, script)
    assert "#SBATCH --mem=" in script  # 32GB as jobqueue writes it (in GiB)
    command = script.splitlines()[-1]
    assert "--preload datamill.worker_preload" in command
    assert "--nworkers 2" in command and "--nthreads 4" in command


@pytest.mark.parametrize("kind,directive", [("pbs", "#PBS -l walltime=00:10:00"), ("sge", "#$ -l h_rt=00:10:00"),
                                            ("lsf", "#BSUB -W 00:10")])
def test_every_batch_kind_renders_the_environment_and_preload(kind, directive):
    with job_cluster(Cluster(kind=kind, cores=2, memory="2GB", walltime="00:10:00")) as cluster:
        script = cluster.job_script()
    assert directive in script, script
    assert "export MALLOC_TRIM_THRESHOLD_=134217728" in script and "--preload datamill.worker_preload" in script


@pytest.mark.parametrize("cluster,message", [
    ({"kind": "kubernetes"}, "key 'kind'"),
    ({"kind": "local", "cores": 8}, "['cores'] apply to batch clusters"),
    ({"kind": "slurm", "cores": 3, "processes": 2}, "multiple of processes"),
    ({"kind": "slurm", "memory": 16}, "key 'memory'"),
    ({"kind": "slurm", "partition": "gpu"}, "unknown key(s) ['partition']"),
])
def test_bad_cluster_settings_are_config_errors(tmp_path, cluster, message):
    with pytest.raises(ConfigError) as e:
        load_config(_write_pipeline(tmp_path, cluster=cluster))
    assert message in str(e.value) and "execution" in str(e.value)


def test_workers_option_with_a_batch_cluster_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="--workers sizes the embedded cluster"):
        run_pipeline(_write_pipeline(tmp_path, cluster={"kind": "slurm"}), workers=2)


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """`sbatch` that runs the job script here in its own process group (the job id is its pid),
    and `scancel` that kills that group: the real job script, exports and worker command run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = tmp_path / "submitted"
    scripts.mkdir()
    # jobqueue deletes the script when sbatch returns: run a copy
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\njob={scripts}/$(basename \"$1\")\ncp \"$1\" \"$job\"\n"
                                    f"setsid bash \"$job\" >>{tmp_path}/jobs.log 2>&1 &\n"
                                    "echo \"Submitted batch job $!\"\n")
    (bin_dir / "scancel").write_text("#!/bin/sh\nfor j in \"$@\"; do kill -TERM -- -$j 2>/dev/null; done\nexit 0\n")
    for name in ("sbatch", "scancel"):
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return scripts


def test_execution_cluster_submits_jobs_whose_workers_have_the_settings(fake_slurm, tmp_path):
    spec = Cluster(kind="slurm", jobs=1, cores=2, processes=2, memory="2GB", interface="lo")
    with dask_client(cluster=spec) as c:
        c.wait_for_workers(2, timeout=120)
        states = list(c.run(_worker_state).values())
    assert states == [{"plugin": True, "env": worker_environment()}] * 2
    assert len(list(fake_slurm.iterdir())) == 1


def test_datamill_run_on_a_batch_cluster_from_the_config(fake_slurm, tmp_path):
    config = _write_pipeline(tmp_path, cluster={"kind": "slurm", "jobs": 2, "cores": 1, "memory": "2GB",
                                                "interface": "lo"})
    proc = subprocess.run([sys.executable, "-m", "datamill.cli", "run", str(config), "--no-progress"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "submitted 2 slurm job(s)" in proc.stderr
    assert _kept(tmp_path / "run") == sum(1 for i in range(40) if 2 + i % 7 >= 4)
    assert len(list(fake_slurm.iterdir())) == 2
